"""``kit-collab remove``: take the commune off its server; its data is kept."""

from pathlib import Path
from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.cli import options
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Retire la commune de son serveur (services arrêtés, données conservées) ; les autres "
        "communes du serveur restent servies.", "Take the commune off its server (services "
        "stopped, data kept); the server's other communes keep being served."))
    def remove(
        profile: Annotated[Path, options.profile_argument()],
        yes: Annotated[bool, options.yes_option()] = False,
        accept_host_key: Annotated[str | None, options.host_key_option()] = None,
    ) -> None:
        raise typer.Exit(run(profile, yes=yes, accept_host_key=accept_host_key))


def run(profile_path: Path, *, yes: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli import session
    from kit_collab.cli.output import esc, out
    from kit_collab.errors import InputError

    profile, _recipes = session.load(profile_path)
    if not yes:
        raise InputError(tr("retrait d'une commune : ajoutez --yes pour confirmer (ses "
                            "données restent sur le serveur)",
                            "removing a commune: add --yes to confirm (its data stays on "
                            "the server)"))
    with session.open_transport(profile, accept_host_key) as transport:
        place = deploy.remove(transport, profile)
    name, code = esc(profile.commune.nom), esc(profile.commune.code)
    out.print(tr(f"[green]✓[/] {name} retirée du serveur ; ses fichiers sont dans "
                 f"{esc(place)} et ses volumes de données sont conservés ({code}_*).",
                 f"[green]✓[/] {name} removed from the server; its files are in "
                 f"{esc(place)} and its data volumes are kept ({code}_*)."))
    return constants.EXIT_OK
