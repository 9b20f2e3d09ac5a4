"""``kit-collab rollback``: put the previous release back in place."""

import os
from pathlib import Path
from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.cli import options
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Remet en place la version précédente.",
                         "Put the previous release back in place."))
    def rollback(
        profile: Annotated[Path, options.profile_argument()],
        yes: Annotated[bool, options.yes_option()] = False,
        accept_host_key: Annotated[str | None, options.host_key_option()] = None,
    ) -> None:
        raise typer.Exit(run(profile, yes=yes, accept_host_key=accept_host_key))


def run(profile_path: Path, *, yes: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli import session
    from kit_collab.cli.output import out
    from kit_collab.errors import InputError

    profile, _recipes = session.load(profile_path)
    if not yes and not session.interactive():
        raise InputError(tr("retour arrière non interactif : ajoutez --yes pour confirmer",
                            "non-interactive rollback: add --yes to confirm"))
    with session.open_transport(profile, accept_host_key) as transport:
        release = deploy.rollback(transport, profile,
                                  wait_seconds=int(os.environ.get("KIT_COLLAB_WAIT", "300")))
    out.print(tr(f"[green]✓[/] Version {release} remise en place.",
                 f"[green]✓[/] Release {release} is back in place."))
    return constants.EXIT_OK
