"""The check a pre-switch snapshot passes before it counts as taken (apply/scripts/snapshot.py
runs it on the ``.partial`` folder, before renaming it): no snapshot, no switch.

- Each dump exists, is not empty, and ends with pg_dump's completion comment
  ``-- PostgreSQL database dump complete`` (written last by RestoreArchive in
  src/bin/pg_dump/pg_backup_archiver.c, PostgreSQL 17): a dump cut short by a full disk or a
  killed ``pg_dump`` lacks it. From 17.6 (CVE-2025-8714) plain dumps end with a
  ``\\unrestrict <key>`` line after it, hence "among the last lines", not "the last line".
- Each volume archive exists and ``tar -tf`` reads it to the end.
"""

from __future__ import annotations

from collections.abc import Sequence

from kit_collab.apply.scripts.common import q
from kit_collab.plan.changes import Saved

UNVERIFIED_EXIT = 10  # the snapshot was taken but did not pass its check: nothing switched
COMPLETE = "-- PostgreSQL database dump complete"
TAIL_LINES = 8


def verify(saved: Sequence[Saved]) -> str:
    """Shell lines checking the snapshot under ``$P``; print ``snapshot-unverified <what>``
    and exit UNVERIFIED_EXIT on the first problem."""
    bad = f'{{ echo "snapshot-unverified $1"; exit {UNVERIFIED_EXIT}; }}'
    lines = [f"dump_ok() {{ [ -s \"$P/postgres/$1\" ] || {bad}",
             f"  tail -n {TAIL_LINES} \"$P/postgres/$1\" | grep -qxF -- {q(COMPLETE)} || {bad}",
             "}",
             f"tar_ok() {{ [ -s \"$P/volumes/$1\" ] || {bad}",
             f"  tar -tf \"$P/volumes/$1\" >/dev/null 2>&1 || {bad}", "}"]
    lines += [f"dump_ok {q(s.service + '.sql')}" for s in saved if s.base]
    lines += [f"tar_ok {q(v + '.tar')}" for s in saved for v in s.volumes]
    return "\n".join(lines) + "\n"


def unverified(output: str) -> str:
    """The file that failed the check ("" when none did)."""
    for line in output.splitlines():
        if line.startswith("snapshot-unverified "):
            return line.removeprefix("snapshot-unverified ").strip()
    return ""
