"""Streaming a command's input and output without either side filling the other's window,
and stopping it when it outlasts its timeout."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator

import paramiko

from kit_collab.apply.scripts.sudo import GRACE

CHUNK = 64 * 1024
SEND_ERRORS = (OSError, EOFError, paramiko.SSHException)

Stdin = bytes | Iterable[bytes] | None
Progress = Callable[[int], None]
Output = Callable[[bytes], None]


def chunks(stdin: Stdin) -> Iterator[bytes]:
    if stdin is None:
        return
    if isinstance(stdin, bytes | bytearray | memoryview):
        view = memoryview(stdin)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start:start + CHUNK])
        return
    for chunk in stdin:
        if chunk:
            yield bytes(chunk)


def feed(write: Callable[[bytes], object], chunks: Iterator[bytes],
          progress: Progress | None) -> None:
    """Write every chunk, reporting bytes sent; stop quietly if the command stops reading."""
    sent = 0
    for chunk in chunks:
        try:
            write(chunk)
        except SEND_ERRORS:
            return
        sent += len(chunk)
        if progress is not None:
            progress(sent)


class Drain(threading.Thread):
    """Reads a stream to its end in the background."""

    def __init__(self, read: Callable[[int], bytes], each: Output | None = None) -> None:
        super().__init__(daemon=True)
        self._read = read
        self._each = each
        self._parts: list[bytes] = []

    def run(self) -> None:
        while True:
            try:
                chunk = self._read(CHUNK)
            except (OSError, EOFError, ValueError):
                return
            if not chunk:
                return
            self._parts.append(chunk)
            if self._each is not None:
                with contextlib.suppress(Exception):  # a display problem never stops a read
                    self._each(chunk)

    def data(self) -> bytes:
        self.join()
        return b"".join(self._parts)


class Watchdog:
    """Calls ``stop`` if the block outlasts ``timeout`` and the server-side kill."""

    def __init__(self, timeout: float | None, stop: Callable[[], object]) -> None:
        self.fired = False
        self._stop = stop
        self._timer = threading.Timer(timeout + GRACE * 2, self._fire) if timeout else None

    def _fire(self) -> None:
        self.fired = True
        self._stop()

    def __enter__(self) -> Watchdog:
        if self._timer:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer:
            self._timer.cancel()


def close_quietly(close: Callable[[], object]) -> None:
    with contextlib.suppress(*SEND_ERRORS):
        close()


def kill_group(pid: int) -> None:
    """Stop a timed-out local command and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
