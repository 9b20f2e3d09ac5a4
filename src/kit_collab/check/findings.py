"""Findings: what a check or a lint rule found. One type and one set of levels for
``kit-collab check`` (diagnosis, preflight) and ``kit-collab recipes lint``.

A finding has a level, the service concerned (a recipe, or ``serveur`` for the machine), what
was checked, one French sentence for a person and the fix. A lint finding also carries its
rule code and, when it is about a file, the file and line (for CI annotations).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from kit_collab import constants


class Level(StrEnum):
    """How serious a finding is; the values are the words printed and written in JSON."""

    OK = "ok"
    WARNING = "avertissement"
    ERROR = "erreur"


OK = Level.OK
WARNING = Level.WARNING
ERROR = Level.ERROR
LEVELS = tuple(Level)
SERVER = "serveur"  # the service named by findings about the machine itself
Verdict = tuple[Level, str, str]  # a rule's level, message and fix, before its Finding


@dataclass(frozen=True)
class Finding:
    level: Level
    service: str  # a recipe (nextcloud, matrix…) or "serveur"
    check: str  # what was checked, e.g. "dns cloud.mairie.fr", "status", "mémoire"
    message: str  # one sentence for a person
    fix: str = ""  # what to do; empty when nothing is to be done
    code: str = ""  # the rule's stable code (recipes lint: KC004); empty for diagnosis
    file: str | None = None  # the file the finding is about (recipes lint: a template)
    line: int | None = None  # its line, from 1

    def as_dict(self) -> dict[str, str | int]:
        """The JSON shape: French keys; code, fichier and ligne only when known."""
        data: dict[str, str | int] = {
            "niveau": str(self.level), "service": self.service, "controle": self.check,
            "message": self.message, "correction": self.fix}
        if self.code:
            data["code"] = self.code
        if self.file is not None:
            data["fichier"] = self.file
        if self.line is not None:
            data["ligne"] = self.line
        return data


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings at each level, every level present: ``{"ok": 3, ...}``."""
    counts = {str(level): 0 for level in Level}
    for f in findings:
        counts[str(f.level)] += 1
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
