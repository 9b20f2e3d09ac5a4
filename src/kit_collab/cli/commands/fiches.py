"""``kit-collab fiches``: write the agents' sheets again (all, or one agent's) from the
passwords kept on the server, without deploying anything: a lost sheet reprinted."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr

if TYPE_CHECKING:
    from kit_collab.fleet.runner import CommuneJob
    from kit_collab.operations.report import OperationResult


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Réécrit les fiches des agents (toutes, ou celle d'un agent) et le guide d'accueil, "
        "avec les mots de passe initiaux gardés sur le serveur ; rien n'est déployé.",
        "Writes the agents' sheets again (all, or one agent's) and the welcome guide, with "
        "the initial passwords kept on the server; nothing is deployed."))
    @options.fleet_command
    def fiches(
        targets: Annotated[list[Path], options.targets_argument()],
        agent: Annotated[str | None, typer.Option("--agent", help=tr(
            "Identifiant de l'agent dont réécrire la fiche (sinon toutes).",
            "Identifier of the agent whose sheet to write again (else all)."))] = None,
        dossier: Annotated[Path | None, typer.Option("--fiches", help=tr(
            "Dossier des fiches ; défaut : fiches-<commune> à côté du profil.",
            "Sheets folder; default: fiches-<commune> beside the profile."))] = None,
        pdf: Annotated[bool, typer.Option("--pdf", help=tr(
            "Écrit aussi fiches.pdf : une page par agent (option « pdf » de kit-collab).",
            "Also writes fiches.pdf: one page per agent (kit-collab's 'pdf' extra)."))] = False,
        *, fleet: FleetArgs,
    ) -> int:
        return run(targets, agent, dossier, fleet, pdf)


def run(targets: list[Path], agent: str | None, folder: Path | None, fleet: FleetArgs,
        pdf: bool = False) -> int:
    from kit_collab.cli import session
    from kit_collab.fleet import actions
    from kit_collab.handover import pdf as pdf_sheets
    from kit_collab.operations.sheets import SheetsOptions
    from kit_collab.recipes.load import load_recipes

    if pdf:
        pdf_sheets.require()  # before any connection: the extra is missing, say so now
    opts = SheetsOptions(agent=agent, folder=folder)

    def single(path: Path) -> int:
        from kit_collab.cli.output import esc, out
        from kit_collab.operations import sheets as operation

        profile, recipes = session.load(path)
        with session.open_transport(profile, fleet.accept_host_key) as transport:
            result = operation.sheets(transport, profile, path, recipes, opts,
                                      session.RichReporter(profile))
        if pdf:
            result = with_pdf(result)
        out.print(f"[green]✓[/] {esc(result.summary)}")
        if result.message:
            out.print(f"[yellow]![/] {esc(result.message)}")
        return result.code

    def job() -> "CommuneJob":
        act = actions.sheets_action(load_recipes(), opts)
        return (lambda *args: with_pdf(act(*args))) if pdf else act

    return session.run("fiches", targets, fleet, job, single)


def with_pdf(result: "OperationResult") -> "OperationResult":
    """The result of writing the sheets, plus their PDF in the same folder."""
    from dataclasses import replace

    from kit_collab.handover import pdf as pdf_sheets

    if result.code != 0:
        return result
    written = pdf_sheets.write_pdf(Path(result.data["dossier"]))
    return replace(result, summary=f"{result.summary} ; {written.name}",
                   data={**result.data, "pdf": str(written)})
