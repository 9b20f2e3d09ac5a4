"""Outgoing e-mail (``messagerie:``): the relay Nextcloud and Synapse send through.

Optional: without it Nextcloud cannot send "mot de passe oublié", share notifications or
calendar invitations, and Matrix sends no notification. The relay's password is never in the
profile: it is kept with the server's secrets (``secrets.json``, bucket ``messagerie``), read
once from ``KIT_COLLAB_SMTP_PASSWORD`` or typed at a prompt. Pure: no file, no network.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from kit_collab.i18n import tr

PASSWORD_ENV = "KIT_COLLAB_SMTP_PASSWORD"  # noqa: S105 (a variable's name, not a value)
SECRET_BUCKET = "messagerie"  # noqa: S105 (in secrets.json, beside the recipes' buckets)
SECRET_KEY = "mot_de_passe"  # noqa: S105 (a key of that bucket)
SECRET_NAME = f"{SECRET_BUCKET}.{SECRET_KEY}"

_HOST_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
                      r"|^\d{1,3}(?:\.\d{1,3}){3}$")
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9._+-]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                         r"[a-z]{2,63}$")
_LOGIN_RE = re.compile(r"^[^\s\"'\\]{1,200}$")


def _relay(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _HOST_RE.match(value):
        raise ValueError(tr(
            f"« {value} » n'est pas un nom de serveur d'envoi (ex. : smtp.mon-fournisseur.fr)",
            f"'{value}' is not a mail relay name (e.g. smtp.my-provider.fr)"))
    return value


def _sender(value: str) -> str:
    value = value.strip()
    local, _, domain = value.partition("@")
    value = f"{local}@{domain.lower()}"
    if not _ADDRESS_RE.match(value):
        raise ValueError(tr(
            f"« {value} » n'est pas une adresse d'expéditeur (ex. : ne-pas-repondre@mairie.fr)",
            f"'{value}' is not a sender address (e.g. no-reply@town.fr)"))
    return value


def _login(value: str) -> str:
    if not _LOGIN_RE.match(value):
        raise ValueError(tr(
            "identifiant du relais : sans espace, guillemet ni barre oblique inverse",
            "relay login: no space, quote or backslash"))
    return value


class Messagerie(BaseModel):
    """The relay (SMTP submission) the services send their e-mail through."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    relais: Annotated[str, AfterValidator(_relay)] = Field(
        description="Serveur d'envoi (SMTP) de votre fournisseur (ex. : smtp.mon-fournisseur.fr).")
    port: int = Field(587, ge=1, le=65535, description="Port du relais : 587 (STARTTLS) ou "
                      "465 (TLS).")
    securite: Literal["starttls", "tls"] = Field(
        "starttls", description="starttls : connexion puis chiffrement (port 587) ; tls : "
        "chiffré dès la connexion (port 465). Jamais en clair.")
    identifiant: Annotated[str, AfterValidator(_login)] = Field(
        description="Identifiant de connexion au relais (souvent l'adresse e-mail). Le mot de "
        "passe n'est jamais écrit ici : il est demandé une fois (ou lu dans "
        "KIT_COLLAB_SMTP_PASSWORD) et gardé avec les secrets du serveur.")
    expediteur: Annotated[str, AfterValidator(_sender)] = Field(
        description="Adresse d'expéditeur des messages (ex. : ne-pas-repondre@mairie.fr).")

    # Values the templates read (Nextcloud splits the sender in two).
    @computed_field  # type: ignore[prop-decorator]
    @property
    def expediteur_local(self) -> str:
        return self.expediteur.split("@", 1)[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expediteur_domaine(self) -> str:
        return self.expediteur.split("@", 1)[1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tls_implicite(self) -> bool:
        return self.securite == "tls"


def secret_names(messagerie: Messagerie | None) -> tuple[str, ...]:
    """The secrets the operator gives (kit-collab cannot draw them): the relay's password."""
    return (SECRET_NAME,) if messagerie is not None else ()


def password_label(messagerie: Messagerie) -> str:
    """What the prompt asks for (never the value)."""
    return tr(f"Mot de passe du relais {messagerie.relais} pour {messagerie.identifiant}",
              f"Password of relay {messagerie.relais} for {messagerie.identifiant}")


def password_key_hint(loc: tuple[Any, ...]) -> str | None:
    """A password written in the ``messagerie`` section: where it goes instead."""
    if len(loc) != 2 or loc[0] != "messagerie" or not re.search(
            r"pass|mdp|secret", str(loc[1]), re.IGNORECASE):
        return None
    return tr(f"le mot de passe du relais ne s'écrit jamais dans le profil : retirez-le ; "
              f"kit-collab install le demande une fois (ou le lit dans {PASSWORD_ENV}) et le "
              "garde avec les secrets du serveur",
              f"the relay password is never written in the profile: remove it; kit-collab "
              f"install asks for it once (or reads {PASSWORD_ENV}) and keeps it with the "
              "server's secrets")
