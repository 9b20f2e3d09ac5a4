"""Backups on the server over a Transport: set up (secrets, script, timers), run now, list,
read the last results. The scripts are in apply/scripts/backup.py and backup_units.py.

Credentials travel only on stdin (inside ``sauvegarde.env``), never on a command line, and
are never logged (the transport logs no stdin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kit_collab.apply import backup_mail
from kit_collab.apply.runner import run
from kit_collab.apply.scripts import backup as script
from kit_collab.apply.scripts import backup_units
from kit_collab.errors import ConnectError, DeployError, InputError
from kit_collab.i18n import tr
from kit_collab.plan.backup import BackupPlan, Retention
from kit_collab.plan.backup import plan as backup_plan
from kit_collab.profile.backup_model import CREDENTIALS, Sauvegardes, sftp_parts
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import DataSpec
from kit_collab.redact import redact, remember

RUN_TIMEOUT = 8 * 3600


class BackupError(DeployError):
    """A backup that did not complete, with its kind (apply/scripts/backup.ERRORS)."""

    def __init__(self, message: str, hint: str | None = None, kind: str = "") -> None:
        super().__init__(message, hint)
        self.kind = kind


class UnreachableError(BackupError, ConnectError):
    exit_code = ConnectError.exit_code


def messages(kind: str, where: str) -> tuple[str, str]:
    """(message, fix) in the user's language for a failure ``kind``."""
    table = {
        "mot-de-passe": (tr(f"mot de passe du dépôt de sauvegarde refusé ({where})",
                            f"backup repository password refused ({where})"),
                         tr("le dépôt a été créé avec un autre mot de passe : remettez "
                            "secrets/restic.pass depuis la fiche de secours",
                            "the repository was made with another password: put "
                            "secrets/restic.pass back from the recovery sheet")),
        "injoignable": (tr(f"destination des sauvegardes injoignable ({where})",
                           f"backup destination unreachable ({where})"),
                        tr("vérifiez l'adresse, le réseau et les identifiants de la "
                           "destination, puis relancez « kit-collab backup »",
                           "check the destination's address, network and credentials, "
                           "then run 'kit-collab backup' again")),
        "pleine": (tr(f"destination des sauvegardes pleine ({where})",
                      f"backup destination full ({where})"),
                   tr("libérez de la place ou agrandissez l'espace de la destination ; les "
                      "sauvegardes précédentes sont intactes",
                      "free space or enlarge the destination; earlier backups are intact")),
        "verrouillee": (tr(f"le dépôt est occupé par une autre opération restic ({where})",
                           f"the repository is busy with another restic operation ({where})"),
                        tr("attendez la fin de l'autre opération, puis relancez",
                           "wait for the other operation to end, then run again")),
        "interrompue": (tr(f"sauvegarde interrompue ({where})", f"backup interrupted ({where})"),
                        tr("les sauvegardes précédentes sont intactes : relancez « kit-collab "
                           "backup », la suivante reprend les données déjà envoyées",
                           "earlier backups are intact: run 'kit-collab backup' again, the "
                           "next one reuses the data already sent")),
        "en-cours": (tr("une sauvegarde de cette commune est déjà en cours",
                        "a backup of this commune is already running"),
                     tr("attendez qu'elle se termine", "wait for it to finish")),
        "identifiants": (tr("identifiants de la destination des sauvegardes absents",
                            "backup destination credentials missing"),
                         tr("définissez " + " et ".join(CREDENTIALS_HINT.get(where, ())) +
                            " (ou répondez à l'invite), puis relancez « kit-collab install »",
                            "set " + " and ".join(CREDENTIALS_HINT.get(where, ())) +
                            " (or answer the prompt), then run 'kit-collab install' again")),
    }
    return table.get(kind, (tr(f"la sauvegarde a échoué ({where})",
                               f"the backup failed ({where})"),
                            tr("lisez l'erreur ci-dessus ; les sauvegardes précédentes sont "
                               "intactes", "read the error above; earlier backups are intact")))


CREDENTIALS_HINT = {k: v for k, v in CREDENTIALS.items() if v}


def plan_for(profile: Profile, data: Mapping[str, Any], versions: Mapping[str, str]
             ) -> BackupPlan:
    """The backup plan of a commune: ``data`` recipe -> donnees of its active recipes."""
    s = _section(profile)
    keep = s.conservation
    specs = {r: [d if isinstance(d, DataSpec) else DataSpec.model_validate(d) for d in v]
             for r, v in data.items()}
    root = profile.serveur.racine
    return backup_plan(profile.commune.code, f"{root}/communes/{profile.commune.code}", specs,
                       versions, Retention(keep.quotidiennes, keep.hebdomadaires,
                                           keep.mensuelles))


def _section(profile: Profile) -> Sauvegardes:
    if profile.sauvegardes is None:
        raise InputError(tr("pas de section « sauvegardes » dans le profil",
                            "no 'sauvegardes' section in the profile"),
                         hint=tr("ajoutez-la (voir examples/petite-commune.yaml)",
                                 "add it (see examples/petite-commune.yaml)"))
    return profile.sauvegardes


def _sftp(s: Sauvegardes) -> tuple[str, str, int] | None:
    if s.type != "sftp":
        return None
    user, host, port, _path = sftp_parts(s.adresse)
    return user, host, port


@dataclass(frozen=True)
class Setup:
    public_key: str  # SFTP: the line for the destination's authorized_keys ("" otherwise)
    units: bool  # the timers were installed (False on a server without systemd)


def setup(transport: Any, profile: Profile, plan: BackupPlan,
          creds: Mapping[str, str] | None) -> Setup:
    """Secrets, ``sauvegarder.sh`` and the timers. ``creds``: the destination's KIT_COLLAB_*
    values, or None to keep the ones already on the server."""
    s = _section(profile)
    root, slug = profile.serveur.racine, profile.commune.code
    env = b""
    needed = CREDENTIALS[s.type]
    if creds is not None or not needed:
        values = dict(creds or {})
        secrets = [values[n] for n in needed if values.get(n)]
        remember([*secrets, *(quote(v, safe="") for v in secrets)])
        env = script.env_file(f"{root}/communes/{slug}/secrets", s.type, s.repository,
                              values).encode()
    out = run(transport, script.configure(root, slug, s.type, s.repository, _sftp(s)),
              stdin=env, timeout=120)
    _raise(out, tr("préparation des sauvegardes", "backup set-up"), s.type)
    text = out.stdout.decode("utf-8", "replace")
    key = next((line.split(" ", 1)[1] for line in text.splitlines()
                if line.startswith("cle-publique ")), "")
    body = script.backup_script(root, plan, _sftp(s), backup_mail.functions(profile))
    out = run(transport, script.install_script(root, slug, body), stdin=body.encode(),
              timeout=60)
    _raise(out, tr("installation du script de sauvegarde", "backup script install"), s.type)
    out = run(transport, backup_units.install(root, slug, s.heure), timeout=120)
    _raise(out, tr("installation des minuteries", "timer install"), s.type)
    return Setup(key, b"units-installed" in out.stdout)


def remove_units(transport: Any, profile: Profile) -> None:
    out = run(transport, backup_units.remove(profile.commune.code), timeout=120)
    _raise(out, tr("retrait des minuteries de sauvegarde", "backup timers removal"), "")


def backup_now(transport: Any, profile: Profile,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """One backup now; derniere.json as written by the server. Raises BackupError."""
    s = _section(profile)
    root, slug = profile.serveur.racine, profile.commune.code
    buffer = bytearray()

    def on_stderr(chunk: bytes) -> None:
        buffer.extend(chunk)
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            done = script.parse_progress(line)
            if done and progress:
                progress(*done)

    out = run(transport, script.run(root, slug, progress=True), timeout=RUN_TIMEOUT,
              on_stderr=on_stderr)
    _raise(out, tr("sauvegarde", "backup"), s.type)
    last, _checked = read_status(transport, profile)
    return last or {}


def verify_now(transport: Any, profile: Profile) -> dict[str, Any]:
    s = _section(profile)
    out = run(transport, script.run(profile.serveur.racine, profile.commune.code, "verifier"),
              timeout=RUN_TIMEOUT)
    _raise(out, tr("vérification des sauvegardes", "backup check"), s.type)
    return read_status(transport, profile)[1] or {}


def snapshots(transport: Any, profile: Profile) -> list[dict[str, Any]]:
    s = _section(profile)
    out = run(transport, script.run(profile.serveur.racine, profile.commune.code, "lister"),
              timeout=600)
    _raise(out, tr("liste des sauvegardes", "backup list"), s.type)
    return script.parse_snapshots(out.stdout.decode("utf-8", "replace"))


def read_status(transport: Any, profile: Profile
                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    out = run(transport, script.read_status(profile.serveur.racine, profile.commune.code),
              timeout=60)
    return script.parse_status(out.stdout.decode("utf-8", "replace"))


def _raise(result: Any, what: str, kind: str) -> None:
    if result.code == 0:
        return
    text = redact((result.stdout + result.stderr).decode("utf-8", "replace")).strip()
    if result.code == 2 and "not-configured" in text:
        raise InputError(tr("les sauvegardes ne sont pas encore installées sur le serveur",
                            "backups are not set up on the server yet"),
                         hint=tr("lancez « kit-collab install » avec la section sauvegardes",
                                 "run 'kit-collab install' with the sauvegardes section"))
    failure = script.failure(result.code) or ""
    message, fix = messages(failure, kind if failure == "identifiants" else what)
    detail = _detail(text)
    error = UnreachableError if failure == "injoignable" else BackupError
    raise error(f"{message}{' : ' + detail if detail else ''}", fix, failure)


def _detail(text: str) -> str:
    """The last meaningful line the server said (restic's own words), shortened."""
    lines = [line for line in text.splitlines()
             if line.strip() and not line.startswith(("progres ", "{"))]
    return lines[-1][-300:] if lines else ""


def probe(transport: Any, profile: Profile) -> tuple[str, str] | None:
    """Whether the destination answers now: None, or (failure kind, detail)."""
    out = run(transport, script.run(profile.serveur.racine, profile.commune.code, "sonder"),
              timeout=120)
    if out.code == 2:
        return None  # not set up yet: the last-backup finding says so
    return script.parse_probe(redact(out.stdout.decode("utf-8", "replace")))
