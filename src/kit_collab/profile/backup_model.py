"""The ``sauvegardes:`` section of a commune profile: where restic sends the nightly backups.

Pure: no file, no network, no clock. Credentials are never part of it: they are read from
the environment (or typed once) and kept on the server (operations/backup.py).

The destination becomes a restic repository string as restic's own documentation writes it
(restic 0.18.1, doc/030_preparing_a_new_repo.rst, also valid in 0.14 and 0.16):
``s3:https://host/bucket/prefix``, ``sftp:user@host:/path`` (``sftp://user@host:port//path``
with a port), ``rest:https://host:8000/path/``, or a local path.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from kit_collab.i18n import tr
from kit_collab.profile.fields import country

_HOUR_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_S3_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._/-]*)?$")
_SFTP_RE = re.compile(r"^(?P<user>[a-z_][a-z0-9_.-]{0,31})@(?P<host>[A-Za-z0-9.-]+|\[[0-9a-f:]+\])"
                      r"(?::(?P<port>\d{1,5}))?:(?P<path>/[A-Za-z0-9._/-]+)$")
_REST_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9._/-]*)?$")
_DISK_RE = re.compile(r"^/[A-Za-z0-9._/-]+$")
Kind = Literal["s3", "sftp", "rest", "disque"]
EXAMPLES = {
    "s3": "https://s3.fr-par.exemple.fr/mon-bucket/ma-commune",
    "sftp": "sauvegarde@nas.exemple.fr:/srv/sauvegardes/ma-commune",
    "rest": "https://sauvegarde.exemple.fr:8000/ma-commune/",
    "disque": "/mnt/sauvegarde/ma-commune",
}
# What each kind needs from the environment (or a prompt), never from the YAML.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "s3": ("KIT_COLLAB_S3_ACCESS_KEY", "KIT_COLLAB_S3_SECRET_KEY"),
    "rest": ("KIT_COLLAB_REST_USER", "KIT_COLLAB_REST_PASSWORD"),
    "sftp": (), "disque": (),
}


def _hour(value: str) -> str:
    value = value.strip()
    if not _HOUR_RE.match(value):
        raise ValueError(tr(f"« {value} » : heure attendue au format HH:MM (ex. : 02:30)",
                            f"'{value}': time expected as HH:MM (e.g. 02:30)"))
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Conservation(_Strict):
    quotidiennes: int = Field(7, ge=0, le=366, description="Sauvegardes quotidiennes gardées.")
    hebdomadaires: int = Field(4, ge=0, le=520, description="Sauvegardes hebdomadaires gardées.")
    mensuelles: int = Field(12, ge=0, le=600, description="Sauvegardes mensuelles gardées.")

    @model_validator(mode="after")
    def _some(self) -> Conservation:
        if not (self.quotidiennes or self.hebdomadaires or self.mensuelles):
            raise ValueError(tr("au moins une sauvegarde doit être gardée (ex. : "
                                "quotidiennes: 7)", "at least one backup must be kept "
                                "(e.g. quotidiennes: 7)"))
        return self


class Sauvegardes(_Strict):
    type: Kind = Field(description="s3 (stockage objet), sftp (un autre serveur, un NAS), "
                       "rest (serveur REST restic) ou disque (un disque monté sur le serveur).")
    adresse: str = Field(description="Adresse de la destination (ex. : https://s3.fr-par."
                         "exemple.fr/bucket/commune, utilisateur@nas.exemple.fr:/srv/commune, "
                         "https://hote:8000/commune/, /mnt/sauvegarde/commune).")
    pays: Annotated[str, AfterValidator(country)] | None = Field(
        None, description="Pays où la destination est hébergée (UE/EEE exigé ; inutile pour "
        "disque).")
    derogation_hors_ue: str | None = Field(
        None, min_length=20, description="Motif écrit justifiant une destination hors UE/EEE.")
    heure: Annotated[str, AfterValidator(_hour)] = Field(
        "02:30", description="Heure de départ de la sauvegarde de nuit (HH:MM, heure du "
        "serveur) ; le départ réel est tiré au hasard dans les deux heures qui suivent.")
    conservation: Conservation = Field(default_factory=Conservation,
                                       description="Combien de sauvegardes garder.")

    @model_validator(mode="after")
    def _destination(self) -> Sauvegardes:
        pattern = {"s3": _S3_RE, "sftp": _SFTP_RE, "rest": _REST_RE, "disque": _DISK_RE}
        if not pattern[self.type].match(self.adresse):
            raise ValueError(tr(
                f"adresse « {self.adresse} » invalide pour le type {self.type} "
                f"(ex. : {EXAMPLES[self.type]})",
                f"address '{self.adresse}' is invalid for type {self.type} "
                f"(e.g. {EXAMPLES[self.type]})"))
        if self.type != "disque":
            _eu_rule(self.pays, self.derogation_hors_ue)
        return self

    @property
    def repository(self) -> str:
        """The restic repository string, without any credential."""
        return repository(self.type, self.adresse)


def _eu_rule(pays: str | None, derogation: str | None) -> None:
    from kit_collab.profile.model import EU_EEA  # here: model.py imports this module

    if pays is None:
        raise ValueError(tr("pays de la destination manquant : ajoutez « pays: FR » (code à "
                            "deux lettres ; l'UE/EEE est exigée)", "destination country "
                            "missing: add 'pays: FR' (two-letter code; EU/EEA required)"))
    if pays not in EU_EEA and not derogation:
        raise ValueError(tr(
            f"destination hébergée hors UE/EEE ({pays}) : choisissez une destination dans "
            "l'UE, ou écrivez le motif dans sauvegardes.derogation_hors_ue",
            f"destination hosted outside the EU/EEA ({pays}): choose an EU destination, or "
            "write the reason in sauvegardes.derogation_hors_ue"))


def repository(kind: str, address: str) -> str:
    """restic's repository string for a destination (doc/030_preparing_a_new_repo.rst)."""
    if kind == "s3":
        return f"s3:{address}"
    if kind == "rest":
        return f"rest:{address}"
    if kind == "sftp":
        m = _SFTP_RE.match(address)
        if m and m["port"]:
            return f"sftp://{m['user']}@{m['host']}:{m['port']}/{m['path']}"
        return f"sftp:{address}"
    return address


def sftp_parts(address: str) -> tuple[str, str, int, str]:
    """(user, host, port, path) of an SFTP destination."""
    m = _SFTP_RE.match(address)
    if not m:
        raise ValueError(address)
    return m["user"], m["host"].strip("[]"), int(m["port"] or 22), m["path"]
