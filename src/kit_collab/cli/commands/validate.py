"""``kit-collab validate``: check profiles, install nothing."""

from __future__ import annotations

from pathlib import Path

from kit_collab import constants
from kit_collab.errors import InputError
from kit_collab.i18n import tr


def run(paths: list[Path], *, as_json: bool) -> int:
    from kit_collab.cli.output import err, esc, out, print_json, problem_line
    from kit_collab.profile.load import load_profile

    results = []
    for path in paths:
        try:
            profile = load_profile(path)
        except InputError as exc:
            problems = exc.problems or []
            if not problems:
                from kit_collab.errors import Problem

                problems = [Problem("", exc.message, file=str(path), hint=exc.hint)]
            results.append({"fichier": str(path), "valide": False,
                            "problemes": [p.as_dict() for p in problems]})
            if not as_json:
                err.print(f"[red]✗[/] {esc(path)} : " + tr(
                    f"{len(problems)} problème(s)", f"{len(problems)} problem(s)"))
                for problem in problems:
                    err.print(f"  - {esc(problem_line(problem))}")
            continue
        results.append({"fichier": str(path), "valide": True, "commune": profile.commune.nom,
                        "problemes": []})
        if not as_json:
            out.print(f"[green]✓[/] {esc(path)} : " + tr(
                f"profil valide ({esc(profile.commune.nom)})",
                f"valid profile ({esc(profile.commune.nom)})"))
    if as_json:
        print_json(results)
    ok = all(r["valide"] for r in results)
    return constants.EXIT_OK if ok else constants.EXIT_INVALID
