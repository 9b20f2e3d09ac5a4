"""``kit-collab restore``: put a commune back from its backups, onto the same server or onto a
new one (the profile then points at the new server). Over an inventory too, one line per
commune; there, the confirmation is ``--yes`` and the passwords come from the environment."""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Restaure une commune depuis ses sauvegardes (la dernière, ou --snapshot) : sur le "
        "même serveur, ou sur un serveur neuf indiqué dans le profil (préparé, puis les DNS à "
        "changer sont donnés). Demande confirmation avant de remplacer des données.",
        "Restores a commune from its backups (the latest, or --snapshot): onto the same "
        "server, or onto a new server named in the profile (prepared, then the DNS records "
        "to change are given). Asks before replacing data."))
    @options.fleet_command
    def restore(
        targets: Annotated[list[Path], options.targets_argument()],
        snapshot: Annotated[str | None, typer.Option("--snapshot", help=tr(
            "Identifiant de la sauvegarde à restaurer (« kit-collab backups ») ; défaut : la "
            "dernière.", "Identifier of the backup to restore ('kit-collab backups'); "
            "default: the latest."))] = None,
        yes: Annotated[bool, options.yes_option()] = False,
        wait: Annotated[int, typer.Option("--attente", min=10, help=tr(
            "Secondes laissées aux services pour démarrer.",
            "Seconds given to the services to start."))] = 300,
        *, fleet: FleetArgs,
    ) -> int:
        return run(targets, snapshot, yes, wait, fleet)


def run(targets: list[Path], snapshot: str | None, yes: bool, wait: int,
        fleet: FleetArgs) -> int:
    from kit_collab.cli import session
    from kit_collab.operations.restore import RestoreOptions
    from kit_collab.recipes.load import load_recipes

    opts = RestoreOptions(snapshot=snapshot, yes=yes, wait=wait)

    def single(path: Path) -> int:
        from kit_collab.operations import restore as operation

        profile, recipes = session.load(path)
        with session.open_transport(profile, fleet.accept_host_key) as transport:
            result = operation.restore(
                transport, profile, path, recipes, opts, session.RichReporter(profile),
                ask=_ask if session.interactive() else None,
                confirm=_confirm if session.interactive() else None)
        _show(result)
        return result.code

    return session.run("restore", targets, fleet, lambda: fleet_action(load_recipes(), opts),
                       single)


def fleet_action(recipes: Any, opts: Any) -> Any:
    """Each commune of a fleet restored without a question (``--yes`` required to replace
    data; passwords from the environment)."""
    from kit_collab.operations import restore as operation

    def act(entry: Any, log: Any, connect: Any) -> Any:
        result = operation.restore(connect(), entry.profile, entry.path, recipes, opts, log)
        for record in result.records or []:
            log.step(tr(f"DNS à changer : {record.zone_line()}",
                        f"DNS to change: {record.zone_line()}"))
        return result
    return act


def _ask(question: str, secret: bool) -> str:
    from rich.prompt import Prompt

    from kit_collab.cli.output import err

    return str(Prompt.ask(question, password=secret, console=err))


def _confirm(question: str) -> bool:
    from kit_collab.cli.output import err, esc
    from kit_collab.cli.prompts import yes_no

    return yes_no(esc(question), default=False, console=err)


def _show(result: Any) -> None:
    from kit_collab.cli.output import esc, out

    mark = "[green]✓[/]" if result.code == 0 else "[red]✗[/]"
    out.print(f"{mark} {esc(result.summary)}")
    if result.message:
        out.print(f"[red]![/] {esc(result.message)}")
        out.print(tr("  Relancez « kit-collab restore » une fois le problème réglé : elle "
                     "reprend où elle s'est arrêtée.", "  Run 'kit-collab restore' again once "
                     "the problem is fixed: it resumes where it stopped."))
    phases = result.data.get("phases", {})
    if phases:
        out.print(tr("Durées : ", "Durations: ") + ", ".join(
            f"{esc(k)} {v:.0f} s" for k, v in phases.items()))
    if result.records:
        out.print(tr("Enregistrements DNS à changer chez le registraire (nouveau serveur) :",
                     "DNS records to change at the registrar (new server):"))
        for record in result.records:
            out.print(f"  {esc(record.zone_line())}")
