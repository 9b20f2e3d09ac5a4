"""``kit-collab plan``: what an install would change on the server, changing nothing."""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Montre ce qu'une installation changerait sur le serveur, sans rien "
                         "changer.", "Show what an install would change on the server, "
                         "changing nothing."))
    @options.fleet_command
    def plan(targets: Annotated[list[Path], options.targets_argument()], *,
             fleet: FleetArgs) -> int:
        return run(targets, fleet)


def run(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session
    from kit_collab.fleet import actions
    from kit_collab.recipes.load import load_recipes

    def single(path: Path) -> int:
        from kit_collab.operations import plan as operation
        from kit_collab.operations.report import QuietReporter

        profile, recipes = session.load(path)
        with session.open_transport(profile, fleet.accept_host_key) as transport:
            result = operation.plan(transport, profile, recipes, QuietReporter())
        show_plan(result.plan, result.data.get("identifiants_matrix", ""), result.upgrade)
        return result.code

    return session.run("plan", targets, fleet, lambda: actions.plan_action(load_recipes()),
                       single)


def show_plan(plan: Any, note: str = "", upgrade: Any = None) -> None:
    """The plan's table; ``note``: said before a first install (Matrix identifiers);
    ``upgrade``: the versions and upgrade steps (cli/upgrade_view.py)."""
    from rich.table import Table

    from kit_collab.cli.output import esc, out
    from kit_collab.cli.upgrade_view import show_upgrade

    if note:
        out.print(f"[yellow]![/] {esc(note)}")
    if upgrade is not None:
        show_upgrade(upgrade)

    if plan.noop:
        out.print(tr(f"[green]✓[/] Rien à faire : la version {plan.release} est déjà en place.",
                     f"[green]✓[/] Nothing to do: release {plan.release} is already in place."))
        return
    table = Table(title=tr(f"Plan : {plan.previous or 'aucune version'} → {plan.release}",
                           f"Plan: {plan.previous or 'no release'} → {plan.release}"))
    for col in ("Action", tr("Cible", "Target"), tr("Détail", "Detail")):
        table.add_column(col)
    for change in plan.changes():
        table.add_row(esc(change.action), esc(change.target), esc(change.detail))
    out.print(table)


