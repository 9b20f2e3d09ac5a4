"""``kit-collab recipes list`` and ``recipes lint``."""

from __future__ import annotations

from kit_collab import constants
from kit_collab.i18n import get_lang, tr


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
    from kit_collab.check.recipe_lint import ERROR, lint
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
            err.print(f"[{color}]{f.code} {f.level}[/] {esc(f.recipe)} : {esc(f.message)} "
                      f"→ {esc(f.how_to_fix)}")
        if not findings:
            out.print(tr(f"[green]✓[/] {len(recipes.recipes)} recettes vérifiées, aucun problème",
                         f"[green]✓[/] {len(recipes.recipes)} recipes checked, no problem"))
    return constants.EXIT_INVALID if errors else constants.EXIT_OK
