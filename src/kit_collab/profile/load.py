"""How a profile file becomes a ``Profile``: read it over its folder's ``defauts.yaml``,
parse it (line numbers kept), validate it, and report every mistake at once.

``load_profile`` returns a ``Profile`` or raises ``ProfileError`` carrying one ``Problem`` per
mistake, each with its field path, file, line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kit_collab.errors import Problem, ProfileError
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe
from kit_collab.profile.crosscheck import part_checks
from kit_collab.profile.messages import located_problem, pydantic_message
from kit_collab.profile.model import Profile
from kit_collab.profile.salvage import from_profile, salvage


def validate_document(doc: yamlsafe.Document) -> Profile:
    """A Profile from a parsed document, or ProfileError listing every problem."""
    if not isinstance(doc.data, dict):
        raise ProfileError(
            tr("profil invalide", "invalid profile"),
            [located_problem(doc, (), tr(
                "le profil doit être un bloc de clés (commune:, serveur:, …)",
                "the profile must be a mapping (commune:, serveur:, …)"))])
    problems: list[Problem] = []
    profile: Profile | None = None
    try:
        profile = Profile.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            message, hint = pydantic_message(dict(err))
            problems.append(located_problem(doc, tuple(err["loc"]), message, hint))
    # Cross-field rules in the same pass, on whatever sections could be read.
    parts = from_profile(profile) if profile is not None else salvage(doc.data)
    problems += [located_problem(doc, loc, msg, hint) for loc, msg, hint in part_checks(parts)]
    if problems or profile is None:
        raise ProfileError(tr("profil invalide", "invalid profile"), _in_file_order(problems))
    return profile


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems as the reader meets them: file by file, line by line (unplaced ones last)."""
    files = list(dict.fromkeys(p.file for p in problems))
    return sorted(problems, key=lambda p: (files.index(p.file), p.line is None, p.line or 0,
                                           p.column or 0))


DEFAULTS_FILE = "defauts.yaml"  # an inventory folder's shared defaults


def _read(path: str | Path) -> bytes:
    source = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ProfileError(tr(f"fichier introuvable : {source}", f"file not found: {source}"),
                           hint=tr("vérifiez le chemin, ou créez le profil avec "
                                   "« kit-collab init »",
                                   "check the path, or create the profile with "
                                   "'kit-collab init'")) from None
    except IsADirectoryError:
        raise ProfileError(tr(f"{source} est un dossier, pas un fichier",
                              f"{source} is a folder, not a file")) from None
    except OSError as exc:
        raise ProfileError(tr(f"lecture impossible de {source} : {exc.strerror}",
                              f"cannot read {source}: {exc.strerror}")) from None


def load_document(path: str | Path) -> yamlsafe.Document:
    """Read and parse a profile file over the ``defauts.yaml`` of its folder, if any (a
    profile of an inventory inherits its defaults, used alone as in a fleet run)."""
    doc = yamlsafe.load(_read(path), str(path))
    defaults = Path(path).parent / DEFAULTS_FILE
    if Path(path).name != DEFAULTS_FILE and defaults.is_file():
        doc = yamlsafe.with_defaults(doc, yamlsafe.load(_read(defaults), str(defaults)))
    return doc


def load_profile(path: str | Path) -> Profile:
    """Read, parse and validate a profile file, over the ``defauts.yaml`` of its folder."""
    return validate_document(load_document(path))


def json_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Profil de commune kit-collab"
    return schema
