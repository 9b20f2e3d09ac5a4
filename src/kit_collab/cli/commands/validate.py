"""``kit-collab validate``: check profiles, install nothing.

One profile is checked over its folder's ``defauts.yaml``; an inventory folder, or several
files (``inventaire/*.yaml``, where ``defauts.yaml`` is the defaults, not a commune), is
checked as a whole: each commune, then the names and servers they share.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab import constants
from kit_collab.i18n import count, tr


def register(app: typer.Typer) -> None:
    from kit_collab.cli.options import json_option

    @app.command(help=tr(
        "Vérifie un ou plusieurs profils, ou un dossier d'inventaire en entier, sans rien "
        "installer.", "Check one or more profiles, or a whole inventory folder, installing "
        "nothing."))
    def validate(
        profiles: Annotated[list[Path], typer.Argument(metavar=tr("PROFIL", "PROFILE"), help=tr(
            "Profils de commune (YAML), ou dossier d'inventaire (profils et defauts.yaml).",
            "Commune profiles (YAML), or inventory folder (profiles and defauts.yaml)."),
            show_default=False)],
        as_json: Annotated[bool, json_option()] = False,
    ) -> None:
        raise typer.Exit(run(profiles, as_json=as_json))


def run(paths: list[Path], *, as_json: bool) -> int:
    from kit_collab.cli.output import print_json
    from kit_collab.fleet import inventory

    checks = inventory.check_files(paths)
    results = [_result(c) for c in checks]
    if as_json:
        print_json(results)
    else:
        for check in checks:
            _print(check)
    ok = all(c.valid for c in checks)
    return constants.EXIT_OK if ok else constants.EXIT_INVALID


def _result(check: Any) -> dict[str, Any]:
    if check.valid:
        return {"fichier": str(check.path), "valide": True, "commune": check.name,
                "problemes": [], "avertissements": [n.as_dict() for n in check.notes]}
    return {"fichier": str(check.path), "valide": False,
            "problemes": [p.as_dict() for p in check.problems]}


def _print(check: Any) -> None:
    from kit_collab.cli.output import err, esc, out, problem_line

    if check.valid:
        out.print(f"[green]✓[/] {esc(check.path)} : " + tr(
            f"profil valide ({esc(check.name)})", f"valid profile ({esc(check.name)})"))
        for note in check.notes:
            out.print(f"  [yellow]![/] {esc(problem_line(note))}")
        return
    err.print(f"[red]✗[/] {esc(check.path)} : "
              + count(len(check.problems), ("problème", "problèmes"), ("problem", "problems")))
    for problem in check.problems:
        err.print(f"  - {esc(problem_line(problem))}")
