"""One script, one round trip: running a builder's script on a Transport, and what every
step of a deploy shares (the reporter, the failure check, the server's facts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from kit_collab.apply.scripts import facts as facts_script
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan.facts import Facts
from kit_collab.profile.model import Profile
from kit_collab.redact import redact, remember


class Reporter(Protocol):
    def step(self, text: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...


class SilentReporter:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def progress(self, done: int, total: int) -> None:
        pass


def run(transport: Any, script: str, *, stdin: bytes | None = None,
        progress: Callable[[int], None] | None = None, timeout: float | None = None,
        on_stderr: Callable[[bytes], None] | None = None) -> Any:
    """``script`` run on the server (``on_stderr`` passed only when given: test transports
    may not take it)."""
    if on_stderr is None:
        return transport.run(script, stdin=stdin, progress=progress, timeout=timeout)
    return transport.run(script, stdin=stdin, progress=progress, timeout=timeout,
                         on_stderr=on_stderr)


def check(result: Any, what: str) -> str:
    """The result's output (redacted); a DeployError naming ``what`` when it failed."""
    out = redact((result.stdout + result.stderr).decode("utf-8", "replace")).strip()
    if result.code != 0:
        raise DeployError(tr(f"{what} a échoué sur le serveur : {out[-600:]}",
                             f"{what} failed on the server: {out[-600:]}"))
    return out


def read_facts(transport: Any, profile: Profile) -> Facts:
    """The server's facts, its clock read in the same round trip."""
    before = time.time()
    result = run(transport, facts_script.script(profile.serveur.racine, profile.commune.code),
                 timeout=60)
    after = time.time()
    parsed = facts_script.parse(result.stdout.decode("utf-8", "replace"))
    if parsed.server_time is not None:
        parsed = replace(parsed, clock_skew=parsed.server_time - (before + after) / 2,
                         clock_uncertainty=(after - before) / 2)
    remember(v for bucket in parsed.secrets.values() for v in bucket.values())
    return parsed
