"""A script's output cut in named sections: each command's output between markers, with its
exit code and, when it failed, the end of its error output."""

from __future__ import annotations

import json
from typing import Any

from kit_collab.apply.scripts.common import q
from kit_collab.i18n import tr
from kit_collab.redact import redact

MARK = "@@kc:"


def section(name: str, command: str, *, stdin: bool = False) -> str:
    """``command``'s output between markers, its exit code, and the end of its error output
    when it failed. Commands never read the script's own standard input."""
    redirect = "" if stdin else " </dev/null"
    return f"""printf '\\n{MARK}begin %s\\n' {q(name)}
{command}{redirect} 2>"$err"; rc=$?
printf '\\n{MARK}end %s %s\\n' {q(name)} "$rc"
if [ "$rc" != 0 ]; then
  printf '{MARK}begin %s\\n' {q(name + ".err")}; tail -c 1500 "$err"
  printf '\\n{MARK}end %s 0\\n' {q(name + ".err")}
fi
"""


def parse_sections(text: str) -> dict[str, tuple[int, str]]:
    """name -> (exit code, output) of each section of a read script's output."""
    found: dict[str, tuple[int, str]] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(MARK + "begin "):
            current, lines = line[len(MARK) + 6:], []
        elif line.startswith(MARK + "end ") and current is not None:
            name, _, code = line[len(MARK) + 4:].rpartition(" ")
            if name == current:
                body = "\n".join(lines)
                found[name] = (int(code) if code.lstrip("-").isdigit() else 1,
                               body[:-1] if body.endswith("\n") else body)
                current = None
        elif current is not None:
            lines.append(line)
    return found


def json_in(text: str) -> Any:
    """The JSON document in a command's output (occ may print a notice before it)."""
    for i, ch in enumerate(text):
        if ch in "[{":
            try:
                return json.JSONDecoder().raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise ValueError("no JSON")


def failure(sections: dict[str, tuple[int, str]], name: str) -> str | None:
    if name not in sections:
        return tr("pas de réponse", "no answer")
    code, _ = sections[name]
    if code == 0:
        return None
    detail = redact(sections.get(name + ".err", (0, ""))[1].strip())[-400:]
    return tr(f"code de sortie {code}", f"exit code {code}") + (f" : {detail}" if detail else "")
