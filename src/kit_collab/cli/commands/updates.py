"""``kit-collab mises-a-jour PROFIL|INVENTAIRE``: what is out of date in every commune, and
which updates carry security fixes (advisories recorded in the recipes, no network)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command("mises-a-jour", help=tr(
        "Liste, par commune, les services à mettre à jour (version en place → version de ce "
        "kit-collab) et les correctifs de sécurité qu'apporte la mise à jour. Ne change rien.",
        "List, per commune, the services to update (running version → this kit-collab's) "
        "and the security fixes the update brings. Changes nothing."))
    @options.fleet_command
    def updates(targets: Annotated[list[Path], options.targets_argument()], *,
                fleet: FleetArgs) -> int:
        return run(targets, fleet)


def action(recipes: Any) -> Any:
    """The fleet action: one commune's versions (operations/updates.py)."""
    from kit_collab.operations import updates as operation

    def act(entry: Any, log: Any, connect: Any) -> Any:
        return operation.updates(connect(), entry.profile, recipes, log)
    return act


def run(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session
    from kit_collab.recipes.load import load_recipes

    # One profile or an inventory: always the fleet's table, or its one JSON document.
    return session.run("mises-a-jour", targets, fleet, lambda: action(load_recipes()))
