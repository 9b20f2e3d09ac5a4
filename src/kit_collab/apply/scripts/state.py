"""The end of a deploy (state.json, audit line, old releases pruned, lock freed), and the
audit line alone."""

from __future__ import annotations

import json
from collections.abc import Mapping

from kit_collab.apply.scripts.common import audit_lines, commune_dir, q


def finish(root: str, slug: str, state: Mapping[str, object], audit_line: str,
           keep: int) -> str:
    """Write state.json, append the audit line, prune old releases (keeping `keep` plus the
    current one), release the lock."""
    state_text = json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True)
    return f"""set -eu
C={q(commune_dir(root, slug))}
umask 077
printf '%s\\n' {q(state_text)} > "$C/state.json.new" && mv "$C/state.json.new" "$C/state.json"
{audit_lines(root, audit_line)}
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
# shellcheck disable=SC2010  # release ids are made by kit-collab ([a-z0-9-]); ls -t sorts by age
ls -1t "$C/releases" 2>/dev/null | grep -v -x -e "$cur" | tail -n +{int(keep) + 1} | while read -r old; do rm -rf "$C/releases/$old"; done
rm -rf "$C/.lock"
echo finished
"""


def audit_only(root: str, line: str) -> str:
    return audit_lines(root, line).replace("\n", " && ", 1) + "\n"
