"""Secrets kept on this machine for ``render``: a JSON file, 0600 in a 0700 folder.

On a deploy the server is the source of truth; this file only makes local renders repeatable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit_collab.bundle.model import Secrets
from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.redact import remember


def default_path(profile_path: Path, slug: str) -> Path:
    return profile_path.resolve().parent / ".kit-collab" / f"{slug}.secrets.json"


def read(path: Path) -> Secrets:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(tr(f"fichier de secrets illisible : {path} ({exc})",
                            f"unreadable secrets file: {path} ({exc})")) from None
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in data.values()
    ):
        raise InputError(tr(f"fichier de secrets mal formé : {path}",
                            f"malformed secrets file: {path}"))
    remember(x for v in data.values() for x in v.values())
    return data


def write(path: Path, secrets: Secrets) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(secrets, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
