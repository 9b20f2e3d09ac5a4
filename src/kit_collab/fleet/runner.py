"""Run one operation over many communes: bounded parallelism, one SSH connection per server
shared by the communes on it, a log file per commune, one failure never stopping the others.

A first Ctrl-C (apply/interrupt.py) lets every running commune finish its step and stop
there; the communes not started yet are not started; both are "interrompu" in the results.

An action gets the commune, its log (the operation's reporter) and a function that opens (or
reuses) its server's connection: an action that needs no server never connects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.apply import interrupt
from kit_collab.errors import KitCollabError
from kit_collab.fleet.inventory import InventoryEntry
from kit_collab.i18n import tr
from kit_collab.operations.report import FAILED, NOTHING, OK, OperationResult
from kit_collab.redact import redact

INTERRUPTED = "interrompu"

__all__ = ["FAILED", "INTERRUPTED", "NOTHING", "OK", "CommuneJob", "CommuneLog",
           "CommuneResult", "Connections", "exit_code", "run"]


@dataclass
class CommuneResult:
    slug: str
    file: str
    server: str
    status: str = FAILED  # ok | rien à faire | erreur | interrompu
    changes: str = ""
    seconds: float = 0.0
    message: str = ""
    exit_code: int = 1
    report: dict[str, Any] = field(default_factory=dict)  # the operation's JSON report

    def as_dict(self) -> dict[str, Any]:
        return {"commune": self.slug, "fichier": self.file, "serveur": self.server,
                "resultat": self.status, "changements": self.changes,
                "duree_s": round(self.seconds, 2), "message": self.message,
                "code": self.exit_code, "rapport": self.report}


class CommuneLog:
    """A commune's reporter: each step goes to its log file (secrets masked) and to the
    live view."""

    def __init__(self, path: Path | None, on_step: Callable[[str], None]) -> None:
        self.path = path
        self.on_step = on_step
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def step(self, text: str) -> None:
        if self._file is not None:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            self._file.write(f"{stamp} {redact(text)}\n")
            self._file.flush()
        self.on_step(text)

    def progress(self, done: int, total: int) -> None:
        pass

    def findings(self, findings: Sequence[Any], records: Sequence[Any]) -> None:
        """A preflight with problems: one line per problem, then the DNS records."""
        for f in findings:
            if f.level != "ok":
                self.step(f"{f.level} {f.service} {f.check} : {f.message}"
                          + (f" → {f.fix}" if f.fix else ""))
        for record in records:
            line = record.zone_line()
            self.step(tr(f"DNS à créer : {line}", f"DNS to create: {line}"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class Connections:
    """One transport per server, opened on first use and shared by its communes."""

    opener: Callable[[InventoryEntry], Any]
    _open: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    _failed: dict[tuple[str, int, str], KitCollabError] = field(default_factory=dict)
    _locks: dict[tuple[str, int, str], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def get(self, entry: InventoryEntry) -> Any:
        with self._guard:
            lock = self._locks.setdefault(entry.server, threading.Lock())
        with lock:
            if entry.server in self._failed:
                raise self._failed[entry.server]
            if entry.server not in self._open:
                try:
                    self._open[entry.server] = self.opener(entry)
                except KitCollabError as exc:
                    self._failed[entry.server] = exc
                    raise
            return self._open[entry.server]

    def count(self) -> int:
        return len(self._open)

    def close(self) -> None:
        for transport in self._open.values():
            transport.close()


# (commune, its log, connect) -> the operation's result; connect() opens or reuses the
# server's connection.
CommuneJob = Callable[[InventoryEntry, CommuneLog, Callable[[], Any]], OperationResult]


def run(entries: list[InventoryEntry], action: CommuneJob, *,
        opener: Callable[[InventoryEntry], Any],
        workers: int, log_dir: Path | None, on_step: Callable[[str, str], None],
        canary: int = 0) -> list[CommuneResult]:
    """Run ``action`` for every commune, at most ``workers`` at once. ``log_dir`` None: no
    log files (a single profile). ``canary`` N: the first N first (fleet/canary.py)."""
    if canary > 0:
        from kit_collab.fleet import canary as canaries

        return canaries.run(entries, canary, lambda batch: run(
            batch, action, opener=opener, workers=workers, log_dir=log_dir, on_step=on_step))
    connections = Connections(opener)

    def one(entry: InventoryEntry) -> CommuneResult:
        start = time.monotonic()
        path = None if log_dir is None else log_dir / f"{entry.slug}.log"
        log = CommuneLog(path, lambda text: on_step(entry.slug, text))
        server = f"{entry.profile.serveur.hote}:{entry.profile.serveur.port_ssh}"

        def connect() -> Any:
            log.step(tr("Connexion au serveur", "Connecting to the server"))
            return connections.get(entry)

        try:
            if interrupt.requested():
                raise interrupt.Interrupted(tr("non commencée : interruption demandée",
                                               "not started: interruption requested"))
            result = _result(entry, action(entry, log, connect))
        except interrupt.Interrupted as exc:
            result = CommuneResult(entry.slug, str(entry.path), server, INTERRUPTED,
                                   message=redact(_with_hint(exc)),
                                   exit_code=constants.EXIT_INTERRUPTED)
            log.step(tr(f"Interrompue : {exc.message}", f"Interrupted: {exc.message}"))
        except KitCollabError as exc:
            result = CommuneResult(entry.slug, str(entry.path), server, FAILED,
                            message=redact(exc.message), exit_code=exc.exit_code)
            log.step(tr(f"Échec : {exc.message}", f"Failed: {exc.message}"))
        except Exception as exc:  # a bug must not stop the other communes
            result = CommuneResult(entry.slug, str(entry.path), server, FAILED,
                            message=redact(f"{type(exc).__name__}: {exc}"), exit_code=1)
            log.step(tr(f"Erreur inattendue : {exc}", f"Unexpected error: {exc}"))
        finally:
            log.close()
        result.seconds = time.monotonic() - start
        result.server = server
        on_step(entry.slug, result.status)
        return result

    try:
        with interrupt.section(), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(one, entries))
    finally:
        connections.close()


def _with_hint(exc: KitCollabError) -> str:
    return f"{exc.message} ; {exc.hint}" if exc.hint else exc.message


def _result(entry: InventoryEntry, result: OperationResult) -> CommuneResult:
    return CommuneResult(entry.slug, str(entry.path), "", result.state, result.summary, 0.0,
                  result.message, result.code, result.data)


def exit_code(results: list[CommuneResult]) -> int:
    """0 when no commune failed, else the highest code of the failed ones (130 when one
    was interrupted)."""
    failed = [r.exit_code for r in results if r.status in (FAILED, INTERRUPTED)]
    return max(failed) if failed else 0
