"""``kit-collab dns``: the DNS records of one commune or of a whole inventory, before any
server is reachable: as a registrar's form asks for them, as CSV, or as a zone file."""

from pathlib import Path
from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.cli import options
from kit_collab.i18n import tr

FORMATS = ("tableau", "csv", "zone")


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Enregistrements DNS à créer chez le registraire, pour une commune ou tout un "
        "inventaire, sans serveur : tableau (type, sous-domaine, cible), CSV ou fichier de zone.",
        "DNS records to create at the registrar, for one commune or a whole inventory, "
        "without any server: table (type, sub-domain, target), CSV or zone file."))
    def dns(
        targets: Annotated[list[Path], options.targets_argument()],
        format_: Annotated[str, typer.Option("--format", help=tr(
            "tableau, csv ou zone.", "tableau (table), csv or zone."))] = "tableau",
        sortie: Annotated[Path | None, typer.Option("--sortie", "-o", help=tr(
            "Fichier à écrire (sinon la sortie standard).",
            "File to write (else standard output)."))] = None,
        only: Annotated[list[str] | None, options.only_option()] = None,
        skip: Annotated[list[str] | None, options.skip_option()] = None,
        as_json: Annotated[bool, options.json_option()] = False,
    ) -> None:
        raise typer.Exit(run(targets, format_, sortie, only or [], skip or [], as_json))


def run(targets: list[Path], format_: str, sortie: Path | None, only: list[str],
        skip: list[str], as_json: bool) -> int:
    from kit_collab.check.rules.dns_records import as_csv, as_zone
    from kit_collab.cli import session
    from kit_collab.cli.commands.check import show_records
    from kit_collab.cli.output import out, print_json
    from kit_collab.errors import InputError
    from kit_collab.fleet import inventory
    from kit_collab.operations.dns_records import records
    from kit_collab.recipes.load import load_recipes

    if format_ not in FORMATS:
        raise InputError(tr(f"--format {format_} inconnu : tableau, csv ou zone",
                            f"unknown --format {format_}: tableau, csv or zone"))
    one = session.single_target(targets)
    found = [inventory.entry(targets[0])] if one else inventory.load(targets)
    recipes = load_recipes()
    entries = inventory.select(found, only, skip)
    wanted = [r for e in entries for r in records(e.profile, recipes)]
    if as_json:
        print_json({"commande": "dns", "enregistrements": [r.as_dict() for r in wanted]})
        return constants.EXIT_OK
    if format_ == "tableau" and sortie is None:
        for entry in entries:
            show_records([r for r in wanted if r.commune == entry.slug],
                         f"{entry.profile.commune.nom} ({entry.profile.commune.domaine})")
        return constants.EXIT_OK
    text = as_csv(wanted) if format_ == "csv" else as_zone(wanted)
    if sortie is None:
        out.out(text, end="", highlight=False)
    else:
        sortie.write_text(text, encoding="utf-8")
        out.print(tr(f"{len(wanted)} enregistrements écrits dans {sortie}",
                     f"{len(wanted)} records written to {sortie}"))
    return constants.EXIT_OK
