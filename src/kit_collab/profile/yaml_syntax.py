"""A YAML syntax error told in French, with the fix for the common causes: a tab, a value
holding « : » or « # », a line indented differently from its neighbours, a key without its
« : », a quote never closed. PyYAML's own words are kept only for a case not recognised."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from kit_collab.i18n import tr


@dataclass(frozen=True)
class Explained:
    message: str
    hint: str
    line: int | None  # 1-based
    column: int | None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _previous(lines: list[str], index: int) -> int | None:
    """The index of the nearest line above ``index`` that holds something (not a comment)."""
    for i in range(index - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def _tab() -> tuple[str, str]:
    return (tr("tabulation : YAML n'accepte que des espaces pour décaler les lignes",
               "tab: YAML only accepts spaces to indent lines"),
            tr("remplacez chaque tabulation par des espaces, 2 par niveau",
               "replace each tab with spaces, 2 per level"))


def _indentation() -> tuple[str, str]:
    return (tr("indentation : cette ligne n'est pas alignée sur les autres clés du même niveau",
               "indentation: this line is not aligned with the other keys of its level"),
            tr("alignez-la sur la ligne du dessus : même nombre d'espaces en début de ligne",
               "align it with the line above: same number of spaces at the start"))


def _colon_in_value() -> tuple[str, str]:
    return (tr("un « : » dans une valeur : YAML le lit comme une nouvelle clé",
               "a ':' inside a value: YAML reads it as a new key"),
            tr('mettez la valeur entre guillemets, ex. nom: "Mairie : accueil"',
               'put the value in quotes, e.g. nom: "Mairie : accueil"'))


def _missing_colon(line: int) -> tuple[str, str, int]:
    return (tr(f"la clé de la ligne {line} n'est pas suivie de « : »",
               f"the key on line {line} is not followed by ':'"),
            tr("écrivez « clé: valeur », deux-points puis une espace, ex. nom: Mairie",
               "write 'key: value', a colon then a space, e.g. nom: Mairie"), line)


def _mapping_values(lines: list[str], index: int, column: int) -> tuple[str, str, int]:
    """« mapping values are not allowed here »: a value with « : », a line indented too far,
    or the key above it without its « : »."""
    current = lines[index] if index < len(lines) else ""
    before = current[:column]
    if ": " in before.strip() or (before.rstrip().endswith(":") and ":" in before[:-1]):
        return (*_colon_in_value(), index + 1)
    above = _previous(lines, index)
    if above is not None:
        text = lines[above].strip()
        if ":" not in text and not text.startswith("-"):
            return _missing_colon(above + 1)
        if _indent(current) != _indent(lines[above]):
            return (*_indentation(), index + 1)
    return (*_colon_in_value(), index + 1)


def explain(exc: yaml.MarkedYAMLError, text: str) -> Explained:
    mark = exc.problem_mark or exc.context_mark
    lines = text.splitlines()
    index, column = (mark.line, mark.column) if mark else (0, 0)
    problem, context = exc.problem or "", exc.context or ""
    line: int | None = index + 1 if mark else None
    if "'\\t'" in problem:
        message, hint = _tab()
    elif "mapping values are not allowed" in problem:
        message, hint, line = _mapping_values(lines, index, column)
    elif "quoted scalar" in context:
        opened = exc.context_mark.line + 1 if exc.context_mark else line
        message = tr(f"guillemet ouvert ligne {opened} et jamais refermé",
                     f"quote opened on line {opened} and never closed")
        hint = tr("refermez-le sur la même ligne, ou retirez-le",
                  "close it on the same line, or remove it")
        line = opened
    elif "could not find expected ':'" in problem:
        message, hint, line = _missing_colon(exc.context_mark.line + 1 if exc.context_mark
                                             else index + 1)
    elif "expected <block end>" in problem or "did not find expected key" in problem \
            or "expected <block mapping start>" in problem:
        message, hint = _indentation()
    elif "undefined alias" in problem:
        message = tr("« * » au début d'une valeur : YAML y lit un alias inconnu",
                     "'*' at the start of a value: YAML reads an unknown alias")
        hint = tr('mettez la valeur entre guillemets, ex. motif: "*.fr"',
                  'put the value in quotes, e.g. motif: "*.fr"')
    elif "cannot start any token" in problem:
        message = tr("une valeur commence par un caractère réservé de YAML (@, `, %…)",
                     "a value starts with a character YAML reserves (@, `, %…)")
        hint = tr('mettez la valeur entre guillemets, ex. contact: "@mairie"',
                  'put the value in quotes, e.g. contact: "@mairie"')
    else:
        message = tr(f"syntaxe YAML invalide ({problem or context})",
                     f"invalid YAML syntax ({problem or context})")
        hint = tr("comparez avec un profil écrit par « kit-collab init » (indentation par "
                  "2 espaces, « clé: valeur », guillemets autour des valeurs avec « : » ou "
                  "« # »)", "compare with a profile written by 'kit-collab init' (2-space "
                  "indentation, 'key: value', quotes around values holding ':' or '#')")
    return Explained(message, hint, line, column + 1 if mark and line == index + 1 else None)
