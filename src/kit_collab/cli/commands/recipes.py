"""``kit-collab recipes list`` and ``recipes lint``."""

from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.i18n import get_lang, tr


def register(app: typer.Typer) -> None:
    from kit_collab.cli.options import json_option

    recipes_app = typer.Typer(help=tr("Recettes des services : liste et vérification.",
                                      "Service recipes: list and checks."),
                              no_args_is_help=True)
    app.add_typer(recipes_app, name="recipes")

    @recipes_app.command("list", help=tr("Liste les recettes et leurs versions.",
                                         "List recipes and their versions."))
    def recipes_list(as_json: Annotated[bool, json_option()] = False) -> None:
        raise typer.Exit(run_list(as_json=as_json))

    @recipes_app.command("lint", help=tr(
        "Vérifie les recettes et leurs modèles (code de sortie non nul en cas d'erreur).",
        "Check recipes and their templates (non-zero exit on an error)."))
    def recipes_lint(as_json: Annotated[bool, json_option()] = False) -> None:
        raise typer.Exit(run_lint(as_json=as_json))


def run_list(*, as_json: bool) -> int:
    from rich.table import Table

    from kit_collab.cli.output import esc, out, print_json
    from kit_collab.recipes.load import load_recipes

    recipes = load_recipes()
    rows = [{"nom": r.name, "version": r.spec.version, "portee": r.spec.scope,
             "description": getattr(r.spec.description, get_lang()),
             "images": r.spec.images, "ram_mo": r.spec.resources.ram_mb,
             "disque_go": r.spec.resources.disk_gb} for r in recipes]
    if as_json:
        print_json(rows)
        return constants.EXIT_OK
    table = Table(title=tr("Recettes", "Recipes"))
    for col in (tr("Nom", "Name"), "Version", tr("Description", "Description"),
                tr("RAM (Mo)", "RAM (MB)"), tr("Disque (Go)", "Disk (GB)")):
        table.add_column(col)
    for row in rows:
        table.add_row(esc(row["nom"]), esc(row["version"]), esc(row["description"]),
                      str(row["ram_mo"]), str(row["disque_go"]))
    out.print(table)
    return constants.EXIT_OK


def run_lint(*, as_json: bool) -> int:
    from kit_collab.check.findings import ERROR
    from kit_collab.check.recipe_lint import lint
    from kit_collab.cli.output import err, esc, out, print_json
    from kit_collab.recipes.load import load_recipes

    recipes = load_recipes()
    findings = lint(recipes)
    errors = [f for f in findings if f.level == ERROR]
    if as_json:
        print_json({"recettes": [r.name for r in recipes], "erreurs": len(errors),
                    "constats": [f.as_dict() for f in findings]})
    else:
        for f in findings:
            color = "red" if f.level == ERROR else "yellow"
            err.print(f"[{color}]{f.code} {f.level}[/] {esc(f.service)} : {esc(f.message)} "
                      f"→ {esc(f.fix)}")
        if not findings:
            out.print(tr(f"[green]✓[/] {len(recipes.recipes)} recettes vérifiées, aucun problème",
                         f"[green]✓[/] {len(recipes.recipes)} recipes checked, no problem"))
    return constants.EXIT_INVALID if errors else constants.EXIT_OK
