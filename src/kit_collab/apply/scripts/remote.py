"""The deploy's scripts under their former names, for call sites outside apply/.

Each builder lives in the module of its topic, beside the parser of its output (common,
facts, lock, release, compose, state, bootstrap, remove, tasks, sudo, probes, and the
accounts' modules); new code imports from there.
"""

from __future__ import annotations

from kit_collab.apply.scripts.bootstrap import bootstrap
from kit_collab.apply.scripts.common import (
    audit_path,
    commune_dir,
    compose,
    proxy_compose,
    q,
)
from kit_collab.apply.scripts.compose import logs, ps
from kit_collab.apply.scripts.lock import (
    CHANGED_EXIT,
    LOCKED_EXIT,
    PORTS_EXIT,
    take_lock,
    unlock,
)
from kit_collab.apply.scripts.release import (
    Entry,
    pull,
    switch_and_up,
    switch_back,
    tar_of,
    upload,
)
from kit_collab.apply.scripts.remove import remove
from kit_collab.apply.scripts.state import audit_only, finish
from kit_collab.apply.scripts.tasks import tasks_script

__all__ = [
    "CHANGED_EXIT",
    "LOCKED_EXIT",
    "PORTS_EXIT",
    "Entry",
    "audit_only",
    "audit_path",
    "bootstrap",
    "commune_dir",
    "compose",
    "finish",
    "logs",
    "proxy_compose",
    "ps",
    "pull",
    "q",
    "remove",
    "switch_and_up",
    "switch_back",
    "take_lock",
    "tar_of",
    "tasks_script",
    "unlock",
    "upload",
]
