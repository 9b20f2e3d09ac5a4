"""Findings: a level, the service, a French sentence and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kit_collab import constants

OK = "ok"
WARNING = "avertissement"
ERROR = "erreur"
LEVELS = (OK, WARNING, ERROR)
SERVER = "serveur"  # the service named by findings about the machine itself


@dataclass(frozen=True)
class Finding:
    level: str  # ok | avertissement | erreur
    service: str  # a recipe (nextcloud, matrix…) or "serveur"
    check: str  # what was checked, e.g. "dns cloud.mairie.fr", "status", "mémoire"
    message: str  # one sentence for a person
    fix: str = ""  # what to do; empty when nothing is to be done

    def as_dict(self) -> dict[str, str]:
        return {"niveau": self.level, "service": self.service, "controle": self.check,
                "message": self.message, "correction": self.fix}


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(LEVELS, 0)
    for f in findings:
        counts[f.level] += 1
    return counts


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when nothing is in error, 1 otherwise (DESIGN.md: a health failure)."""
    errors = any(f.level == ERROR for f in findings)
    return constants.EXIT_FAILURE if errors else constants.EXIT_OK


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that stop an install unless ``--force``."""
    return [f for f in findings if f.level == ERROR]


def audit_note(findings: Iterable[Finding]) -> str:
    """One word for the audit log when an install goes on despite preflight errors:
    ``preflight-force=service/check,...`` (no spaces, so the line stays one field)."""
    items = [f"{f.service}/{f.check}".replace(" ", "_") for f in blocking(findings)]
    return "preflight-force=" + ",".join(items) if items else ""
