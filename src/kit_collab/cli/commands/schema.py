"""``kit-collab schema``: the profile's JSON Schema, for editor completion."""

import typer

from kit_collab import constants
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Affiche le schéma JSON du profil (complétion dans l'éditeur).",
                         "Print the profile's JSON Schema (editor completion)."))
    def schema() -> None:
        raise typer.Exit(run())


def run() -> int:
    from kit_collab.cli.output import print_json
    from kit_collab.profile.model import json_schema

    print_json(json_schema())
    return constants.EXIT_OK
