"""Escaping filters, one per output format, so any value reaches its file intact and inert.

Each filter takes a value and returns the complete literal for its format (quotes included), so
a template writes ``KEY={{ value | env }}`` and never adds quotes of its own. A value that a format
cannot hold safely raises ``ValueError``, which rendering reports with the template and line.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CADDY_TOKEN = re.compile(r"^[A-Za-z0-9._:/@*+=-]+$")
_CONF_TOKEN = re.compile(r"^[A-Za-z0-9._:/@+=,-]+$")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yaml_quoted(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar with the same meaning, once the
    # characters that YAML alone reads as line breaks are escaped too.
    out = json.dumps(text, ensure_ascii=False)
    return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def yaml_value(value: Any) -> str:
    """A YAML scalar: numbers and booleans as such, text as a double-quoted string."""
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return _yaml_quoted(_text(value))


def compose_value(value: Any) -> str:
    """A YAML scalar inside a compose file, where ``$`` would start an interpolation."""
    return _yaml_quoted(_text(value).replace("$", "$$"))


def env_value(value: Any) -> str:
    """A value for a compose ``.env``/``env_file``: double-quoted, nothing interpolated."""
    text = _text(value)
    if "\x00" in text:
        raise ValueError("NUL character cannot be stored in an .env file")
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{out}"'


def caddy_token(value: Any) -> str:
    """A Caddyfile token: host names, addresses, e-mails. Anything else is refused."""
    text = _text(value)
    if not _CADDY_TOKEN.match(text):
        raise ValueError(f"value not allowed in a Caddyfile: {text!r}")
    return text


def conf_token(value: Any) -> str:
    """A bare token in a key=value configuration file (coturn): no spaces, no quotes."""
    text = _text(value)
    if not _CONF_TOKEN.match(text):
        raise ValueError(f"value not allowed in a configuration file: {text!r}")
    return text


def json_value(value: Any) -> str:
    """Any JSON value (strings, numbers, lists, objects), keys sorted for determinism."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def lua_string(value: Any) -> str:
    """A Lua double-quoted string literal."""
    out = []
    for ch in _text(value):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def php_string(value: Any) -> str:
    """A PHP single-quoted string literal (only ``\\`` and ``'`` are special there)."""
    text = _text(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def shell_word(value: Any) -> str:
    """One POSIX shell word."""
    return shlex.quote(_text(value))


FILTERS = {
    "yaml": yaml_value,
    "compose": compose_value,
    "env": env_value,
    "caddy": caddy_token,
    "conf": conf_token,
    "json": json_value,
    "lua": lua_string,
    "php": php_string,
    "sh": shell_word,
}

# Which filters make an output safe in each file format (checked by ``recipes lint``).
SAFE_FILTERS: dict[str, frozenset[str]] = {
    "yaml": frozenset({"yaml", "json"}),
    "compose": frozenset({"compose"}),
    "env": frozenset({"env"}),
    "caddyfile": frozenset({"caddy"}),
    "conf": frozenset({"conf"}),
    "json": frozenset({"json"}),
    "lua": frozenset({"lua"}),
    "php": frozenset({"php"}),
    "shell": frozenset({"sh"}),
}
# Filters whose result is a number, safe in any format.
NUMERIC_FILTERS = frozenset({"int"})
