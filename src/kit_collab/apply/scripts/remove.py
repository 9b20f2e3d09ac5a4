"""Taking a commune off its server (its data volumes kept)."""

from __future__ import annotations

from kit_collab.apply.scripts.common import (
    commune_dir,
    compose,
    proxy_locked,
    q,
    reload_proxy,
)
from kit_collab.apply.scripts.lock import lock_lines
from kit_collab.apply.scripts.release import unpublish


def remove(root: str, slug: str, lock_info: str, stamp: str) -> str:
    """Stop the commune's services (its data volumes are KEPT), move its folder aside to
    <root>/retirees/, and reload the proxy without it; the other communes keep being served.
    Answers as a lock script does (parse_lock)."""
    return f"""set -eu
C={q(commune_dir(root, slug))}
{lock_lines(lock_info, None)}{compose(root, slug, "down", "--remove-orphans")} || true
mkdir -p {q(root + "/retirees")}
rm -rf "$C/.lock"
mv "$C" {q(f"{root}/retirees/{slug}-{stamp}")}
{unpublish(root, slug)}
{proxy_locked(root, reload_proxy(root) + " || true")}
echo removed
"""
