"""Pydantic's errors as French sentences: one ``Problem`` per mistake, with the field path,
the file, line and column it comes from, and "did you mean" for a mistyped key."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from kit_collab.errors import Problem
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe
from kit_collab.profile.mail_model import password_key_hint
from kit_collab.profile.model import Profile

Loc = tuple[str | int, ...]  # a field path, as pydantic gives it: ("utilisateurs", 0, "email")


def pretty_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (used for "did you mean")."""
    model: type[BaseModel] = Profile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_of(field.annotation) if field else None
        if inner is None:
            return None
        model = inner
    return model


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model in an annotation: ``Serveur``, ``list[Utilisateur]``, ``Certificats | None``."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _homes(key: str) -> list[str]:
    """Where a key really belongs in the profile: the dotted paths of the sections that have
    it ("" for the top level), found by walking the models from ``Profile``."""
    found: list[str] = []
    todo: list[tuple[str, type[BaseModel]]] = [("", Profile)]
    seen: set[type[BaseModel]] = set()
    while todo:
        path, model = todo.pop(0)
        if model in seen:
            continue
        seen.add(model)
        if key in model.model_fields:
            found.append(path)
        for name, field in model.model_fields.items():
            inner = _model_of(field.annotation)
            if inner is not None:
                todo.append((f"{path}.{name}" if path else name, inner))
    return found


def _misplaced(key: str, loc: Loc) -> str | None:
    """The hint for a known key written under the wrong section (position matters more than
    spelling: « utilisateurs » under « serveur » is not the SSH key « utilisateur »)."""
    here = ".".join(str(p) for p in loc[:-1] if not isinstance(p, int))
    homes = [h for h in _homes(key) if h != here]
    if not homes:
        return None
    home = homes[0]
    if home == "":
        return tr(f"« {key} » est une section de premier niveau : écrivez-la au début de la "
                  f"ligne, sans retrait ; elle est ici sous « {here} »",
                  f"'{key}' is a top-level section: write it at the start of the line, "
                  f"without indentation; it is under '{here}' here")
    return tr(f"« {key} » se place sous « {home} », pas sous « {here or 'la racine'} »",
              f"'{key}' goes under '{home}', not under '{here or 'the top level'}'")


def _simple_messages(ctx: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """French and English text for pydantic's error types that need no lookup."""
    bound = next(iter(ctx.values()), "")
    return {
        "missing": ("champ obligatoire manquant", "required field missing"),
        "string_type": ("texte attendu", "text expected"),
        "bool_type": ("true ou false attendu (oui : true ; non : false)",
                      "true or false expected"),
        "bool_parsing": ("true ou false attendu (oui : true ; non : false)",
                         "true or false expected"),
        "int_type": ("nombre entier attendu", "whole number expected"),
        "int_parsing": ("nombre entier attendu", "whole number expected"),
        "int_from_float": ("nombre entier attendu", "whole number expected"),
        "list_type": ("liste attendue (lignes commençant par « - »)",
                      "list expected (lines starting with '-')"),
        "model_type": ("bloc de clés attendu (clé: valeur)", "mapping expected (key: value)"),
        "dict_type": ("bloc de clés attendu (clé: valeur)", "mapping expected (key: value)"),
        "literal_error": (f"valeur non reconnue ; valeurs possibles : {ctx.get('expected')}",
                          f"unrecognised value; possible values: {ctx.get('expected')}"),
        "greater_than_equal": (f"valeur hors limites (au moins {bound})",
                               f"value out of range (at least {bound})"),
        "less_than_equal": (f"valeur hors limites (au plus {bound})",
                            f"value out of range (at most {bound})"),
        "string_too_long": (f"texte trop long (au plus {ctx.get('max_length')} caractères)",
                            f"text too long (at most {ctx.get('max_length')} characters)"),
        "string_too_short": (f"texte trop court (au moins {ctx.get('min_length')} caractères)",
                             f"text too short (at least {ctx.get('min_length')} characters)"),
        "string_pattern_mismatch": (f"format invalide (attendu : {ctx.get('pattern')})",
                                    f"invalid format (expected: {ctx.get('pattern')})"),
    }


def pydantic_message(err: dict[str, Any]) -> tuple[str, str | None]:
    """One French (or English) sentence and an optional hint for a pydantic error."""
    kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = sorted(model.model_fields) if model else []
        guess = closest(str(loc[-1]), known)
        misplaced = _misplaced(str(loc[-1]), loc)
        if misplaced:
            return tr(f"clé inconnue « {loc[-1]} » à cet endroit",
                      f"unknown key '{loc[-1]}' here"), misplaced
        hint = tr(f"vouliez-vous dire « {guess} » ?", f"did you mean '{guess}'?") if guess else (
            tr(f"clés possibles : {', '.join(known)}", f"known keys: {', '.join(known)}")
            if known else None)
        return tr(f"clé inconnue « {loc[-1]} »", f"unknown key '{loc[-1]}'"), (
            password_key_hint(loc) or hint)
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])), None
    simple = _simple_messages(ctx).get(kind)
    return (tr(*simple), None) if simple else (str(err["msg"]), None)


def located_problem(doc: yamlsafe.Document, loc: Loc, message: str,
                    hint: str | None = None) -> Problem:
    """A Problem at ``loc``, with the file, line and column the value came from."""
    mark = doc.mark(loc)
    return Problem(pretty_loc(loc), message, file=doc.file(loc),
                   line=mark[0] if mark else None, column=mark[1] if mark else None, hint=hint)

