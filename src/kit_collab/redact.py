"""Keep secrets out of logs: every secret value this process has seen is masked."""

from __future__ import annotations

import re
from collections.abc import Iterable

_known: set[str] = set()
_ASSIGN = re.compile(r"(?i)((?:password|secret|pass|token|key)[A-Za-z_]*\s*[=:]\s*)(\S+)")
MASK = "••••••"


def remember(values: Iterable[str]) -> None:
    """Register secret values so that ``redact`` masks them wherever they appear."""
    _known.update(v for v in values if v and len(v) >= 8)


def redact(text: str) -> str:
    for value in sorted(_known, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _ASSIGN.sub(lambda m: m.group(1) + MASK, text)
