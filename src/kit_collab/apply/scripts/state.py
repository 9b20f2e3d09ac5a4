"""state.json on the server: written atomically (beside, synced, the previous copy kept,
renamed), alone or at the end of a deploy (audit line, old releases pruned, lock freed)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from kit_collab.apply.scripts.common import audit_lines, commune_dir, q


def write_lines(state: Mapping[str, object]) -> str:
    """Lines writing ``state`` to "$C/state.json" (``$C`` set by the caller): a reader sees
    the old file or the new one, never half of one; the old one is kept as state.json.prev."""
    text = json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True)
    return f"""(umask 077 && printf '%s\\n' {q(text)} > "$C/state.json.new")
sync "$C/state.json.new" 2>/dev/null || sync
if [ -f "$C/state.json" ]; then cp -p "$C/state.json" "$C/state.json.prev"; fi
mv "$C/state.json.new" "$C/state.json"
"""


def record(root: str, slug: str, state: Mapping[str, object]) -> str:
    """Write state.json alone (the lock is held by the caller)."""
    return f"""set -eu
C={q(commune_dir(root, slug))}
{write_lines(state)}echo recorded
"""


def prune_lines(keep: Iterable[str]) -> str:
    """Remove every release folder but ``keep`` and the current one: unfinished uploads
    (``.partial``), releases never deployed, and deployed ones past those kept."""
    kept = " ".join(q(r) for r in sorted({r for r in keep if r}))
    return f"""cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
kept() {{ for k in "$cur" {kept}; do [ "$k" = "$1" ] && return 0; done; return 1; }}
for d in "$C"/releases/* "$C"/releases/.*.old; do
  [ -e "$d" ] || continue
  kept "${{d##*/}}" || rm -rf "$d"
done
"""


def finish(root: str, slug: str, state: Mapping[str, object], audit_line: str,
           keep: Iterable[str]) -> str:
    """The commit point: write state.json, append the audit line, prune old releases
    (keeping ``keep`` and the current one), release the lock."""
    return f"""set -eu
C={q(commune_dir(root, slug))}
{write_lines(state)}{audit_lines(root, audit_line)}
{prune_lines(keep)}rm -rf "$C/.lock"
echo finished
"""


def audit_only(root: str, line: str) -> str:
    return audit_lines(root, line).replace("\n", " && ", 1) + "\n"
