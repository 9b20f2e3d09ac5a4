"""Nextcloud's enabled apps, read with `occ app:list` in the commune's running container."""

from __future__ import annotations

import json

from kit_collab.apply.scripts.common import compose

WWW_DATA = "33"  # the apache image's www-data: occ refuses to run as anyone else


def app_list(root: str, slug: str) -> str:
    """Print `occ app:list --output=json` of the commune's Nextcloud (no secret involved)."""
    return compose(root, slug, "exec", "-T", "-u", WWW_DATA, "nextcloud", "php", "occ",
                   "app:list", "--output=json") + " </dev/null 2>&1"


def parse_app_list(code: int, output: str) -> set[str] | None:
    """The enabled apps; None when occ did not answer with its JSON (not installed, the
    container down, "Cannot write into config directory"...)."""
    if code != 0:
        return None
    for raw in reversed(output.splitlines()):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            return None
        enabled = data.get("enabled") if isinstance(data, dict) else None
        return set(enabled) if isinstance(enabled, dict) else None
    return None
