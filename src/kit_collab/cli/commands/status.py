"""``kit-collab status``: deployed release, recipes, containers and their health."""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Version déployée, recettes, conteneurs et leur santé.",
                         "Deployed release, recipes, containers and their health."))
    @options.fleet_command
    def status(targets: Annotated[list[Path], options.targets_argument()], *,
               fleet: FleetArgs) -> int:
        return run(targets, fleet)


def run(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session
    from kit_collab.fleet import actions
    from kit_collab.recipes.load import load_recipes

    def single(path: Path) -> int:
        from kit_collab.operations import status as operation
        from kit_collab.operations.report import QuietReporter

        profile, recipes = session.load(path)
        with session.open_transport(profile, fleet.accept_host_key) as transport:
            result = operation.status(transport, profile, recipes, QuietReporter())
        show(result.data)
        return result.code

    return session.run("status", targets, fleet,
                       lambda: actions.status_action(load_recipes()), single)


def show(data: dict[str, Any]) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    if not data["release"]:
        out.print(tr("Aucune version déployée.", "No release deployed."))
    else:
        out.print(tr(f"Version {data['release']}, déployée le {data['deploye_le']}",
                     f"Release {data['release']}, deployed on {data['deploye_le']}"))
        recipes = ", ".join(f"{k} {v}" for k, v in sorted(data["recettes"].items()))
        out.print(tr(f"Recettes : {esc(recipes)}", f"Recipes: {esc(recipes)}"))
    if data.get("non_termine"):
        out.print(tr(f"[red]Opération non terminée :[/] {esc(data['non_termine'])} — "
                     "relancez « kit-collab install » pour terminer",
                     f"[red]Unfinished operation:[/] {esc(data['non_termine'])} — "
                     "run 'kit-collab install' again to finish"))
    if "derniere_sauvegarde" in data:
        from kit_collab.operations.backup import column

        out.print(tr("Dernière sauvegarde : ", "Last backup: ")
                  + esc(column(data["derniere_sauvegarde"])))
    if data["verrou"]:
        out.print(tr(f"[yellow]Verrou :[/] {esc(data['verrou'])}",
                     f"[yellow]Lock:[/] {esc(data['verrou'])}"))
    table = Table()
    for col in ("Service", tr("État", "State"), tr("Santé", "Health")):
        table.add_column(col)
    for c in data["conteneurs"]:
        table.add_row(esc(c["service"]), esc(c["etat"]), esc(c["sante"] or "—"))
    out.print(table)
