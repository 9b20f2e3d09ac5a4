"""Canary communes first: ``install INVENTORY --canari N`` runs the first N communes (in the
inventory's order), and only when all of them succeeded the others; after a failure the
others are "non commencé", untouched, each reported."""

from __future__ import annotations

from collections.abc import Callable

from kit_collab.fleet.inventory import InventoryEntry
from kit_collab.fleet.runner import FAILED, INTERRUPTED, CommuneResult
from kit_collab.i18n import tr

NOT_STARTED = "non commencé"

Batch = Callable[[list[InventoryEntry]], list[CommuneResult]]


def not_started(entry: InventoryEntry, why: str) -> CommuneResult:
    server = f"{entry.profile.serveur.hote}:{entry.profile.serveur.port_ssh}"
    return CommuneResult(entry.slug, str(entry.path), server, NOT_STARTED, message=why,
                         exit_code=0)


def run(entries: list[InventoryEntry], canary: int, batch: Batch) -> list[CommuneResult]:
    """``batch`` runs a list of communes (the fleet runner); the canaries first."""
    first = batch(entries[:canary])
    failed = [r.slug for r in first if r.status in (FAILED, INTERRUPTED)]
    if not failed:
        return first + (batch(entries[canary:]) if entries[canary:] else [])
    why = tr(f"non commencé : échec du canari {', '.join(failed)}",
             f"not started: canary {', '.join(failed)} failed")
    return first + [not_started(e, why) for e in entries[canary:]]
