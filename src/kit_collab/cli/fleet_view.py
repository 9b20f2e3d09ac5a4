"""The fleet on the terminal: a live table of each commune's step, then a result table; or
the JSON document (``--json``), the same shape for one profile and for a fleet."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kit_collab.cli.options import FleetArgs
from kit_collab.fleet import runner
from kit_collab.fleet.inventory import InventoryEntry
from kit_collab.i18n import count, tr


class LiveView:
    """A live table of each commune's current step (printed once at the end when the output
    is not a terminal)."""

    def __init__(self, entries: list[InventoryEntry]) -> None:
        self.steps = {e.slug: tr("en attente", "waiting") for e in entries}
        self.lock = threading.Lock()
        self.live: Any = None

    def table(self) -> Any:
        from rich.table import Table

        from kit_collab.cli.output import esc

        table = Table(title=tr("Communes", "Communes"))
        table.add_column(tr("Commune", "Commune"))
        table.add_column(tr("Étape", "Step"))
        for slug, step in self.steps.items():
            table.add_row(esc(slug), esc(step))
        return table

    def update(self, slug: str, text: str) -> None:
        with self.lock:
            self.steps[slug] = text
            if self.live is not None:
                self.live.update(self.table())


def document(command: str, log_dir: Path | None, results: list[runner.CommuneResult],
             **extra: Any) -> dict[str, Any]:
    """The JSON output of every command over profiles: one entry per commune."""
    return {"commande": command, **extra, "journaux": str(log_dir) if log_dir else None,
            "communes": [r.as_dict() for r in results]}


def run(command: str, entries: list[InventoryEntry], action: runner.CommuneJob, fleet: FleetArgs,
        log_dir: Path | None, *, opener: Callable[[InventoryEntry], Any]) -> int:
    """Run ``action`` over ``entries``; print the result table or the JSON document."""
    from rich.live import Live

    from kit_collab.cli.output import out, print_json

    view = LiveView(entries)
    show_live = not fleet.as_json and out.is_terminal and log_dir is not None
    live = Live(view.table(), console=out, refresh_per_second=4) if show_live else None
    view.live = live
    if live is not None:
        live.start()
    try:
        results = runner.run(entries, action, opener=opener, workers=fleet.workers,
                             log_dir=log_dir, on_step=view.update)
    finally:
        if live is not None:
            live.stop()
    if fleet.as_json:
        print_json(document(command, log_dir, results))
    else:
        final_table(results, log_dir)
    return runner.exit_code(results)


def final_table(results: list[runner.CommuneResult], folder: Path | None) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out
    from kit_collab.operations.backup import column

    table = Table(title=tr("Résultat par commune", "Result per commune"))
    saved = any("derniere_sauvegarde" in r.report for r in results)  # status only
    for col in (tr("Commune", "Commune"), tr("Serveur", "Server"), tr("Résultat", "Result"),
                tr("Changements", "Changes"), tr("Durée", "Duration"), "Message",
                *([tr("Dernière sauvegarde", "Last backup")] if saved else [])):
        table.add_column(col, overflow="fold")
    colors = {runner.OK: "green", runner.NOTHING: "cyan", runner.FAILED: "red",
              runner.INTERRUPTED: "yellow"}
    for r in results:
        last = [esc(column(r.report.get("derniere_sauvegarde")))] if saved else []
        table.add_row(esc(r.slug), esc(r.server), f"[{colors[r.status]}]{esc(r.status)}[/]",
                      esc(r.changes), f"{r.seconds:.1f} s", esc(r.message), *last)
    out.print(table)
    failed = sum(r.status == runner.FAILED for r in results)
    where = tr(f" ; journaux : {esc(folder)}", f"; logs: {esc(folder)}") if folder else ""
    out.print(tr(f"{count(len(results), ('commune', 'communes'), ('commune', 'communes'))}, "
                 f"{failed} en échec{where}",
                 f"{count(len(results), ('commune', 'communes'), ('commune', 'communes'))}, "
                 f"{failed} failed{where}"))
