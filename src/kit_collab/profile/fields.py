"""Field validators shared by several sections of the profile (pure)."""

from __future__ import annotations

import re

from kit_collab.i18n import tr


def country(value: str) -> str:
    """A two-letter country code (ISO 3166-1 alpha-2), upper case: the server's and the
    backup destination's (the EU/EEA rule is checked by each section)."""
    value = value.strip().upper()
    if not re.match(r"^[A-Z]{2}$", value):
        raise ValueError(tr(f"« {value} » : code pays à deux lettres attendu (ex. : FR)",
                            f"'{value}': two-letter country code expected (e.g. FR)"))
    return value
