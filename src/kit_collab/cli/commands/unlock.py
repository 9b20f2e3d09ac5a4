"""``kit-collab unlock``: remove the lock of an abandoned operation (with --force)."""

from pathlib import Path
from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.cli import options
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Lève le verrou d'une opération abandonnée (avec --force).",
                         "Remove the lock of an abandoned operation (with --force)."))
    def unlock(
        profile: Annotated[Path, options.profile_argument()],
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Confirmer la levée du verrou.", "Confirm removing the lock."))] = False,
        accept_host_key: Annotated[str | None, options.host_key_option()] = None,
    ) -> None:
        raise typer.Exit(run(profile, force=force, accept_host_key=accept_host_key))


def run(profile_path: Path, *, force: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli import session
    from kit_collab.cli.output import esc, out
    from kit_collab.errors import InputError

    if not force:
        raise InputError(tr("ajoutez --force : lever le verrou d'une opération en cours "
                            "peut abîmer l'installation",
                            "add --force: breaking the lock of a running operation can "
                            "damage the installation"))
    profile, _recipes = session.load(profile_path)
    with session.open_transport(profile, accept_host_key) as transport:
        held = deploy.force_unlock(transport, profile)
    out.print(tr(f"Verrou levé ({esc(held) or 'aucun verrou'}).",
                 f"Lock removed ({esc(held) or 'no lock'})."))
    return constants.EXIT_OK
