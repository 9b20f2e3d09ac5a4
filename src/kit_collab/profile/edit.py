"""Small edits of a profile's text that keep everything else: comments, order, spacing.

Pure: text in, text out. ``kit-collab acces`` records the SSH key it made and the host key
the user confirmed in the ``serveur:`` section this way, without rewriting the file.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from kit_collab.i18n import tr

_PLAIN = re.compile(r"[A-Za-z0-9_~./+=-][A-Za-z0-9_~./:+=-]*")
_TOP_KEY = re.compile(r"^[^\s#]")
# A plain value then an end-of-line comment: the comment is kept.
_COMMENT = re.compile(r"^\s*[^\s'\"#][^#'\"]*?(\s+#.*)$")


def scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it reads back as the same text, else quoted."""
    if _PLAIN.fullmatch(value) and not value.endswith(":"):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def set_section_value(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``<section>.<key>: value``: an existing line of that key is replaced
    (its end-of-line comment kept), else its commented-out example (``# key: …``, as
    ``kit-collab init`` writes them), else a line is added at the end of the section.
    ValueError when the section is absent or written on one line (``serveur: {…}``)."""
    lines = text.splitlines(keepends=True)
    start = _section_start(lines, section)
    end = _section_end(lines, start)
    indent = _indent(lines[start + 1:end])
    line = f"{indent}{key}: {scalar(value)}"
    index, comment = _find(lines, start + 1, end, indent, key)
    if index is not None:
        lines[index] = line + comment + "\n"
    else:
        last = max([i for i in range(start, end) if lines[i].strip()] or [start])
        if not lines[last].endswith("\n"):
            lines[last] += "\n"
        lines.insert(last + 1, line + "\n")
    edited = "".join(lines)
    _check(edited, section, key, value)
    return edited


def _section_start(lines: list[str], section: str) -> int:
    pattern = re.compile(rf"^{re.escape(section)}:\s*(#.*)?$")
    for i, line in enumerate(lines):
        if pattern.match(line.rstrip("\n")):
            return i
    raise ValueError(tr(f"section « {section}: » introuvable (écrite en bloc, une clé par "
                        "ligne)", f"section '{section}:' not found (as a block, one key a "
                        "line)"))


def _section_end(lines: list[str], start: int) -> int:
    for i in range(start + 1, len(lines)):
        if _TOP_KEY.match(lines[i]):
            return i
    return len(lines)


def _indent(block: list[str]) -> str:
    for line in block:
        if line.strip() and not line.lstrip().startswith("#"):
            return line[:len(line) - len(line.lstrip())]
    return "  "


def _find(lines: list[str], start: int, end: int, indent: str,
          key: str) -> tuple[int | None, str]:
    """The line of ``key`` (with its end-of-line comment), else of its commented example."""
    active = re.compile(rf"^{re.escape(indent)}{re.escape(key)}:(\s|$)")
    example = re.compile(rf"^{re.escape(indent)}#\s*{re.escape(key)}:")
    found: int | None = None
    for i in range(start, end):
        line = lines[i].rstrip("\n")
        if active.match(line):
            comment = _COMMENT.match(line[len(indent) + len(key) + 1:])
            return i, comment.group(1) if comment else ""
        if found is None and example.match(line):
            found = i
    return found, ""


def _check(text: str, section: str, key: str, value: str) -> None:
    """The edited text must read back with the value in place."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(tr("le profil ne se relit plus après la modification",
                            "the profile no longer parses after the edit")) from exc
    got = data.get(section, {}).get(key) if isinstance(data, dict) and \
        isinstance(data.get(section), dict) else None
    if got != value:
        raise ValueError(tr(f"la valeur de {section}.{key} ne se relit pas à l'identique",
                            f"the value of {section}.{key} does not read back unchanged"))
