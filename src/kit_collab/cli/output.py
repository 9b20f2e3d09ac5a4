"""Printing for people (rich, French) and for scripts (JSON). Only the CLI calls this."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape as markup_escape

from kit_collab.errors import InputError, KitCollabError, Problem
from kit_collab.i18n import tr

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def esc(text: object) -> str:
    return markup_escape(str(text))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def problem_line(problem: Problem) -> str:
    where = problem.where()
    text = f"{where} : {problem.message}" if where else problem.message
    if problem.hint:
        text += f" ({problem.hint})"
    return text


def report_error(exc: KitCollabError) -> None:
    """One sentence per problem, then the hint; never a traceback."""
    problems = exc.problems if isinstance(exc, InputError) else []
    if problems and len(problems) == 1 and problems[0].message == exc.message:
        err.print(f"[bold red]{tr('Erreur', 'Error')}[/] : {esc(problem_line(problems[0]))}")
    else:
        err.print(f"[bold red]{tr('Erreur', 'Error')}[/] : {esc(exc.message)}")
        for problem in problems:
            err.print(f"  - {esc(problem_line(problem))}")
    if exc.hint:
        err.print(f"  → {esc(exc.hint)}")
