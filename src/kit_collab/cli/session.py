"""One command over one profile or a fleet: the connection, the terminal reporter, and the
choice between the single run (printed for a person) and the fleet run (a live view and a
table, or the JSON document: a single profile with ``--json`` is a fleet of one)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def _say(text: str) -> None:
    """A line on stderr from the signal handler: plain writes, never the rich console (it
    may be in the middle of a line of its own)."""
    try:
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    """Ctrl-C. During an operation that stops between steps, the first one asks it to stop
    after the step running now; the second stops at once (the lock stays, and says so).
    Elsewhere, Ctrl-C stops at once as usual."""
    from kit_collab import constants
    from kit_collab.apply import interrupt

    if interrupt.requested():
        _say(interrupt.hard_stop_message())
        interrupt.hard_stop()
        os._exit(constants.EXIT_INTERRUPTED)  # no `finally` may release the lock now
    if not interrupt.active():
        _say(tr("interrompu", "interrupted"))
        raise KeyboardInterrupt
    interrupt.request()
    _say(interrupt.first_message())


@contextlib.contextmanager
def ctrl_c() -> Iterator[None]:
    """The command's Ctrl-C handling (the main thread only; the previous handler after)."""
    from kit_collab.apply import interrupt

    interrupt.reset()
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interactive() -> bool:
    return sys.stdin.isatty() and os.environ.get("CI") is None


def _confirm_host_key(host: str, key_type: str, fingerprint: str) -> bool:
    from kit_collab.cli.output import err, esc
    from kit_collab.cli.prompts import yes_no

    err.print(tr(f"Clé d'hôte inconnue pour {esc(host)} : {esc(key_type)} {esc(fingerprint)}",
                 f"Unknown host key for {esc(host)}: {esc(key_type)} {esc(fingerprint)}"))
    err.print(tr("Vérifiez-la auprès de l'hébergeur (console du serveur : "
                 "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).",
                 "Check it with the host (server console: "
                 "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)."))
    return yes_no(tr("Faire confiance à cette clé ?", "Trust this key?"), default=False,
                  console=err)


def open_transport(profile: Any, accept_host_key: str | None) -> Any:
    """The SSH (or local) connection to the profile's server; an unknown host key is asked
    about on a terminal, refused otherwise."""
    from kit_collab.apply.transport import connect

    return connect(profile.serveur, accept_host_key=accept_host_key,
                   confirm=_confirm_host_key if interactive() else None)


class RichReporter:
    """The operations' reporter on the terminal: one line per step, progress by quarters,
    a preflight with problems as the diagnosis table."""

    def __init__(self, profile: Any = None) -> None:
        self.profile = profile
        self._last = -1

    def step(self, text: str) -> None:
        from kit_collab.cli.output import esc, out

        out.print(f"[cyan]→[/] {esc(text)}")

    def progress(self, done: int, total: int) -> None:
        from kit_collab.cli.output import out

        percent = 100 * done // max(total, 1)
        if percent // 25 > self._last // 25 or (percent == 100 and self._last != 100):
            out.print(f"   {percent} %")
            self._last = percent

    def findings(self, findings: Sequence[Any], records: Sequence[Any]) -> None:
        from kit_collab.cli.commands.check import print_report

        print_report(self.profile, list(findings), list(records))


def single_target(targets: list[Path]) -> bool:
    return len(targets) == 1 and not targets[0].is_dir()


def run(command: str, targets: list[Path], fleet: FleetArgs, action: Callable[[], Any],
        single: Callable[[Path], int] | None = None) -> int:
    """``single`` for one profile shown to a person; else every selected commune through
    ``action()`` (a fleet action), shown as a fleet (JSON: one document, one shape)."""
    from kit_collab.cli import fleet_view
    from kit_collab.fleet import inventory

    one = single_target(targets)
    if one and single is not None and not fleet.as_json:
        if fleet.only or fleet.skip:
            inventory.select([inventory.entry(targets[0])], list(fleet.only), list(fleet.skip))
        return single(targets[0])
    found = [inventory.entry(targets[0])] if one else inventory.load(targets)
    entries = inventory.select(found, list(fleet.only), list(fleet.skip))
    log_dir = fleet.logs if one else (fleet.logs or default_logs(targets))
    return fleet_view.run(command, entries, action(), fleet, log_dir,
                          opener=lambda entry: open_transport(entry.profile,
                                                              fleet.accept_host_key))


def default_logs(paths: list[Path]) -> Path:
    base = paths[0] if paths[0].is_dir() else paths[0].parent
    return base / "journaux"


def load(profile_path: Path) -> tuple[Any, Any]:
    from kit_collab.operations.common import load as load_both

    return load_both(profile_path)
