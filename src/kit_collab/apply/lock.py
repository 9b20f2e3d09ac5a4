"""The commune's lock on the server: who holds it, and what a refused lock tells the user."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime
from typing import Any

from kit_collab.apply.runner import check
from kit_collab.apply.scripts import lock as lock_script
from kit_collab.apply.scripts.lock import lock_age
from kit_collab.errors import DeployError, LockError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile

STALE_LOCK_SECONDS = 2 * 3600

__all__ = ["STALE_LOCK_SECONDS", "PortsTaken", "audit_line", "lock_age", "lock_info",
           "lock_result", "locked_error"]


class PortsTaken(Exception):
    """Another commune of this server claimed one of our ports meanwhile."""


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _now() -> str:
    return datetime.now(UTC).strftime(lock_script.STAMP)


def lock_info(action: str, release: str) -> str:
    return f"{_who()} pid={os.getpid()} {action} {release} depuis={_now()}"


def audit_line(action: str, profile: Profile, release: str, result: str) -> str:
    return f"{_now()} {_who()} {action} {profile.commune.code} {release} {result}"


def locked_error(info: str, profile: Profile) -> LockError:
    age = lock_age(info)
    minutes = f" ({age // 60} min)" if age is not None else ""
    stale = age is not None and age > STALE_LOCK_SECONDS
    message = tr(f"une autre opération est en cours sur {profile.commune.code}{minutes} : {info}",
                 f"another operation is running on {profile.commune.code}{minutes}: {info}")
    hint = tr(
        ("ce verrou semble abandonné : " if stale else "attendez qu'elle finisse (--lock-wait), "
         "ou si elle est abandonnée : ") + f"kit-collab unlock {profile.commune.code} --force",
        ("this lock looks abandoned: " if stale else "wait for it (--lock-wait), or if it was "
         "abandoned: ") + f"kit-collab unlock {profile.commune.code} --force")
    return LockError(message, hint=hint)


def lock_result(result: Any, profile: Profile) -> None:
    """Raise what a lock script's refusal means; return when the lock was taken."""
    answer = lock_script.parse_lock(result.code, result.stdout.decode("utf-8", "replace"))
    if answer.kind == "held":
        raise locked_error(answer.detail, profile)
    if answer.kind == "ports":
        raise PortsTaken()
    if answer.kind == "changed":
        raise DeployError(tr("le serveur a changé pendant la préparation (un autre opérateur ?)",
                             "the server changed while preparing (another operator?)"),
                          hint=tr("relancez la commande", "run the command again"))
    check(result, tr("l'envoi de la version", "the upload"))
