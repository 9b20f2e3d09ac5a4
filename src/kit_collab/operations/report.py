"""What every operation returns and what it reports to while it runs.

An operation (install, diagnose, status, plan, accounts) takes data and returns an
``OperationResult``: an exit code, a state for the fleet table, a short summary and a JSON-able
report. The same result is printed for one profile and collected for a fleet, so the JSON
output has one shape: a single profile is a fleet of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kit_collab import constants

OK, NOTHING, FAILED = "ok", "rien à faire", "erreur"


class Reporter(Protocol):
    """Where an operation says what it is doing (a terminal, a commune's log file)."""

    def step(self, text: str) -> None: ...

    def progress(self, done: int, total: int) -> None: ...

    def findings(self, findings: Sequence[Any], records: Sequence[Any]) -> None:
        """A preflight with problems, shown before install goes on or stops."""


class QuietReporter:
    """A reporter that keeps the steps in memory (``--json`` output, tests)."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def progress(self, done: int, total: int) -> None:
        pass

    def findings(self, findings: Sequence[Any], records: Sequence[Any]) -> None:
        pass


@dataclass
class OperationResult:
    """One commune's result: exit code, fleet state, one-line summary, JSON-able report."""

    code: int = constants.EXIT_OK
    state: str = OK  # ok | rien à faire | erreur
    summary: str = ""
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, code: int, summary: str = "", message: str = "",
           data: dict[str, Any] | None = None) -> OperationResult:
        return cls(code=code, state=OK if code == constants.EXIT_OK else FAILED,
                   summary=summary, message=message, data=data or {})
