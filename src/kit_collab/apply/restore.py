"""Restore a commune from its restic repository: the side-effect half, one round trip per
step (the scripts and their parsers are in apply/scripts/restore.py).

The destination's settings for a new server (the repository password the humans give, the
destination's credentials) travel in a tar on the script's stdin, never on a command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit_collab.apply.lock import audit_line, lock_info, lock_result
from kit_collab.apply.runner import check, run
from kit_collab.apply.scripts import backup as backup_script
from kit_collab.apply.scripts import lock as lock_script
from kit_collab.apply.scripts import release as release_script
from kit_collab.apply.scripts import restore as script
from kit_collab.apply.scripts.common import commune_dir
from kit_collab.errors import ConnectError, DeployError, InputError, KitCollabError, LockError
from kit_collab.i18n import tr
from kit_collab.plan.changes import Saved
from kit_collab.profile.backup_model import sftp_parts
from kit_collab.profile.model import Profile
from kit_collab.redact import remember

Snap = script.Snap
Probe = script.Probe


@dataclass(frozen=True)
class Destination:
    """Where the repository is and how to open it: built from the profile's ``sauvegardes``
    and what the humans gave (never written in the YAML)."""

    kind: str  # s3 | sftp | rest | disque
    repository: str  # restic's repository string, without credentials
    password: str = ""  # the repository password
    credentials: Mapping[str, str] | None = None  # KIT_COLLAB_* name -> value

    def env_file(self, secrets_dir: str) -> str:
        """``sauvegarde.env`` as the backup side writes it (apply/scripts/backup.py)."""
        return backup_script.env_file(secrets_dir, self.kind, self.repository,
                                      dict(self.credentials or {}))


def sftp_of(profile: Profile) -> script.Sftp:
    """(user, host, port) of the profile's SFTP destination; None for the other kinds."""
    section = profile.sauvegardes
    if section is None or section.type != "sftp":
        return None
    user, host, port, _path = sftp_parts(section.adresse)
    return user, host, port


def probe(transport: Any, profile: Profile) -> Probe:
    """The server's side of a restore: its release, a restore under way, the snapshots."""
    result = run(transport, script.probe(profile.serveur.racine, profile.commune.code,
                                           sftp_of(profile)),
                 timeout=600)
    return script.parse_probe(result.code, result.stdout.decode("utf-8", "replace"))


def write_settings(transport: Any, profile: Profile, destination: Destination) -> None:
    """The repository password and the destination's settings kept on the server."""
    root, slug = profile.serveur.racine, profile.commune.code
    remember([destination.password, *(destination.credentials or {}).values()])
    env = destination.env_file(f"{commune_dir(root, slug)}/secrets")
    tar = release_script.tar_of([("restic.pass", destination.password.encode() + b"\n", 0o600,
                                  None), ("sauvegarde.env", env.encode(), 0o600, None)])
    check(run(transport, script.settings(root, slug), stdin=tar, timeout=120),
          tr("l'enregistrement des réglages de la sauvegarde",
             "recording the backup settings"))


def sftp_key(transport: Any, profile: Profile) -> str:
    """On a new server, the SFTP key pair drawn and the destination's host key recorded (the
    backup side's own step); returns the public key the destination must authorize."""
    sftp = sftp_of(profile)
    section = profile.sauvegardes
    if sftp is None or section is None:
        return ""
    result = run(transport, backup_script.configure(
        profile.serveur.racine, profile.commune.code, "sftp", section.repository, sftp),
        stdin=b"", timeout=120)
    out = result.stdout.decode("utf-8", "replace")
    if result.code != 0:
        raise failure(script.UNREACHABLE if result.code == backup_script.UNREACHABLE_EXIT
                      else script.FAILED, profile, check_text(result, "ssh-keyscan"))
    return next((line.removeprefix("cle-publique ") for line in out.splitlines()
                 if line.startswith("cle-publique ")), "")


def restore_files(transport: Any, profile: Profile, snap: Snap,
                  safety: Sequence[Saved] | None, new: bool) -> None:
    """Round 2: safety snapshot when asked, services stopped, secrets, state and release."""
    root, slug = profile.serveur.racine, profile.commune.code
    lock = lock_script.lock_lines(lock_info("restore", snap.release), None)
    result = _locked_run(transport, profile, script.files(root, slug, snap, lock, safety, new,
                                                          sftp_of(profile)), 6 * 3600)
    _checked(result, profile, tr("la restauration des fichiers de la commune",
                                 "restoring the commune's files"))


def restore_data(transport: Any, profile: Profile, snap: Snap, saved: Sequence[Saved]) -> None:
    """Round 3: the volumes, the databases, the services started."""
    root, slug = profile.serveur.racine, profile.commune.code
    lock = lock_script.lock_lines(lock_info("restore", snap.release), None)
    result = _locked_run(transport, profile, script.data(root, slug, snap, lock, saved,
                                                         sftp_of(profile)), 12 * 3600)
    _checked(result, profile, tr("la restauration des données", "restoring the data"))


def _locked_run(transport: Any, profile: Profile, text: str, timeout: int) -> Any:
    """A round's script; a lock left by a kit-collab of this machine whose process is gone
    (killed during an earlier restore) is taken over once, as install does."""
    from kit_collab.apply import deploy

    result = run(transport, text, timeout=timeout)
    if result.code == lock_script.LOCKED_EXIT:
        held = lock_script.parse_lock(result.code, result.stdout.decode("utf-8", "replace"))
        if held.kind == "held" and deploy.abandoned_here(held.detail):
            deploy.force_unlock(transport, profile, why="abandonne")
            result = run(transport, text, timeout=timeout)
    return result


def finish(transport: Any, profile: Profile, snap: Snap) -> None:
    root, slug = profile.serveur.racine, profile.commune.code
    check(run(transport, script.finish(root, slug, audit_line(
        "restore", profile, snap.release, f"ok snapshot={snap.short_id}"))),
        tr("la fin de la restauration", "finishing the restore"))


def read_password(transport: Any, profile: Profile) -> str:
    """The repository password kept on the server ("" when there is none yet)."""
    result = run(transport, script.read_password(profile.serveur.racine, profile.commune.code),
                 timeout=60)
    value = result.stdout.decode("utf-8", "replace").strip() if result.code == 0 else ""
    remember([value])
    return value


def _checked(result: Any, profile: Profile, what: str) -> None:
    if result.code == lock_script.LOCKED_EXIT:
        lock_result(result, profile)
    if result.code != 0:
        raise failure(script.failure_kind(result.code, result.stdout.decode(
            "utf-8", "replace")), profile, check_text(result, what))


def check_text(result: Any, what: str) -> str:
    try:
        check(result, what)
    except DeployError as exc:
        return exc.message
    return ""


def failure(kind: str, profile: Profile, detail: str = "") -> KitCollabError:
    """A restic failure as one French sentence and its fix."""
    where = profile.sauvegardes.adresse if profile.sauvegardes else "?"
    if kind == script.PASSWORD:
        return InputError(tr("mot de passe du dépôt de sauvegarde incorrect",
                             "wrong backup repository password"),
                          hint=tr("reprenez le mot de passe imprimé sur la fiche de secours "
                                  "(KIT_COLLAB_RESTIC_PASSWORD, ou tapé à la demande)",
                                  "use the password printed on the recovery sheet "
                                  "(KIT_COLLAB_RESTIC_PASSWORD, or typed when asked)"))
    if kind == script.ABSENT:
        return InputError(tr(f"aucun dépôt de sauvegarde à l'adresse {where}",
                             f"no backup repository at {where}"),
                          hint=tr("vérifiez sauvegardes.adresse dans le profil (celle de la "
                                  "fiche de secours)", "check sauvegardes.adresse in the "
                                  "profile (the one on the recovery sheet)"))
    if kind == script.LOCKED:
        return LockError(tr("le dépôt de sauvegarde est verrouillé par une autre opération "
                            "(une sauvegarde en cours ?)", "the backup repository is locked "
                            "by another operation (a backup running?)"),
                         hint=tr("attendez sa fin, puis relancez la restauration",
                                 "wait for it to end, then run the restore again"))
    if kind == script.UNREACHABLE:
        key = (f"{commune_dir(profile.serveur.racine, profile.commune.code)}/secrets/"
               "sauvegarde_ssh.pub")
        sftp = tr(f" ; SFTP : la destination doit autoriser la clé publique du serveur ({key})",
                  f"; SFTP: the destination must authorize the server's public key ({key})")
        return ConnectError(tr(f"destination des sauvegardes injoignable depuis le serveur : "
                               f"{where}", f"backup destination unreachable from the "
                               f"server: {where}"),
                            hint=tr("vérifiez le réseau du serveur, l'adresse et les accès de "
                                    "la destination", "check the server's network, the "
                                    "destination's address and credentials")
                            + (sftp if sftp_of(profile) else ""))
    if kind == script.NO_RESTIC:
        return DeployError(tr("restic est absent du serveur et n'a pas pu être installé",
                              "restic is missing on the server and could not be installed"),
                           hint=tr("sur le serveur : apt-get install restic",
                                   "on the server: apt-get install restic"))
    if kind == script.NO_SETTINGS:
        return DeployError(tr("le serveur n'a pas les réglages de la sauvegarde",
                              "the server has no backup settings"))
    return DeployError(detail or tr("la restauration a échoué", "the restore failed"),
                       hint=tr("relancez « kit-collab restore » : elle reprend où elle "
                               "s'est arrêtée", "run 'kit-collab restore' again: it "
                               "resumes where it stopped"))
