"""The Synapse runner (synapse_admin.py) as a command: its source, its payload on standard
input, and its answer read back."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from kit_collab.apply.scripts.common import q
from kit_collab.apply.scripts.sections import failure, json_in
from kit_collab.apply.scripts.target import Target
from kit_collab.i18n import tr
from kit_collab.plan import accounts
from kit_collab.redact import redact


@cache
def runner_source() -> str:
    """synapse_admin.py's own text, as packaged beside this module."""
    return resources.files(__package__).joinpath("synapse_admin.py").read_text(encoding="utf-8")


def payload(target: Target, domain: str, secrets: dict[str, dict[str, str]],
                    mode: str, **extra: Any) -> str | None:
    matrix = secrets.get("matrix", {})
    if not matrix.get("bot_password"):
        return None
    return json.dumps({"mode": mode, "base": target.synapse_url, "domain": domain,
                       "token_file": target.synapse_token_file,
                       "bot": accounts.MATRIX_BOT, "bot_password": matrix["bot_password"],
                       "shared_secret": matrix.get("registration_shared_secret", ""),
                       **extra}, ensure_ascii=False)


def runner(target: Target, data: str) -> str:
    """The Synapse runner fed ``payload`` on its standard input (printf is a shell builtin:
    the secrets in the payload never reach a command line)."""
    return (f"printf '%s' {q(data)} | "
            + target.command("matrix", [target.python, "-c", runner_source()]))


MATRIX_ERRORS = {
    "not-admin": (
        "le compte technique kit-collab de Matrix n'est pas administrateur du serveur (créé "
        "par une version précédente ? Synapse documente le remède : UPDATE users SET admin = 1 "
        "WHERE name = '@kit-collab:<domaine>' dans sa base, service matrix-db)",
        "the kit-collab Matrix service account is not a server administrator (created by an "
        "earlier version? Synapse documents the fix: UPDATE users SET admin = 1 WHERE name = "
        "'@kit-collab:<domain>' in its database, service matrix-db)"),
    "bot-password": (
        "le compte technique kit-collab de Matrix existe avec un autre mot de passe",
        "the kit-collab Matrix service account exists with another password"),
    "login": ("connexion du compte technique kit-collab refusée par Synapse",
              "Synapse refused the kit-collab service account's login"),
    "unreachable": ("Synapse ne répond pas", "Synapse does not answer"),
}


def matrix_doc(sections: dict[str, tuple[int, str]]) -> tuple[dict[str, Any] | None, str | None]:
    """The runner's answer, or why there is none."""
    if "matrix" not in sections:
        return None, tr("pas de réponse", "no answer")
    try:
        doc = json_in(sections["matrix"][1])
    except ValueError:
        return None, failure(sections, "matrix") or tr("réponse illisible", "unreadable answer")
    if not isinstance(doc, dict):
        return None, tr("réponse illisible", "unreadable answer")
    if not doc.get("ok"):
        fr, en = MATRIX_ERRORS.get(str(doc.get("error")), (
            f"Synapse : {doc.get('error')}", f"Synapse: {doc.get('error')}"))
        return None, tr(fr, en) + redact(f" ({doc.get('detail')})" if doc.get("detail") else "")
    return doc, None
