"""The PostgreSQL major migration inside ``install`` (apply/deploy.py calls these few lines).

- ``volumes``: the volumes the release being built names (state.json's record, plus the new
  volume of each cluster whose major this install changes: plan/pg_major.py);
- ``migrated``: around the switch. After the snapshot and before the switch, every migration
  (apply/pg_migrate.py ``migrate_all``); when anything fails from there until the new release
  is up and healthy (the switch back included), each migration is undone: the old cluster
  back in service with its data, the new volume removed;
- ``prune_stale``: once a LATER install finds the commune committed, the volumes of clusters
  no longer used are removed (never by the install that migrated: the old data stays until
  the commune has run healthy on the new cluster).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from kit_collab.apply import pg_migrate
from kit_collab.apply.scripts import pg_migrate as script
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan import changes as plan_mod
from kit_collab.plan import pg_major
from kit_collab.plan.pg_major import PgMigration

_MAJOR = re.compile(r"-pg(\d+)$")


def recorded(facts: Any, slug: str) -> dict[str, str]:
    """The clusters' volumes in use: as the running release's compose files name them (a
    rollback or an unfinished install leaves state.json behind them), else state.json's."""
    if not facts.images:  # compose files unread: state.json's record
        return dict(facts.state.volumes_postgres)
    return {k: v.removeprefix(f"{slug}_") for k, v in facts.volume_names.items()
            if v.startswith(f"{slug}_") and _MAJOR.search(v)}


def planned(bundle: Any, recipes: Any, facts: Any) -> tuple[PgMigration, ...]:
    """The migrations from the running release (its compose files, else state.json's images)
    to ``bundle``."""
    old_images = {**facts.state.images, **facts.images}
    return pg_major.for_upgrade(bundle.services, old_images, plan_mod.data_of(recipes),
                                recorded(facts, bundle.slug))


def volumes(bundle: Any, recipes: Any, facts: Any) -> dict[str, str]:
    """Compose volume key -> the volume the new release names for its cluster."""
    moved = {m.volume: m.new_volume for m in planned(bundle, recipes, facts)}
    return {**recorded(facts, bundle.slug), **moved}


def in_use(saved: Sequence[Any], facts: Any, slug: str) -> tuple[Any, ...]:
    """The pre-switch snapshot's entries (plan.changes.Saved) with each cluster's volume the
    one in use: once migrated, ``<key>-pg<M>``, never the old cluster's."""
    used = recorded(facts, slug)
    return tuple(replace(s, base_volume=used.get(s.base_volume, s.base_volume)) for s in saved)


def said(migrations: Sequence[PgMigration]) -> list[str]:
    """The plan's lines for the migrations (French or English)."""
    return [line for m in migrations for line in m.steps()]


@contextmanager
def migrated(transport: Any, profile: Any, bundle: Any, migrations: Sequence[PgMigration],
             rep: Any) -> Iterator[None]:
    """Migrate before the block (the switch); undo every migration if the block raises."""
    if not migrations:
        yield
        return
    target = script.Target(profile.serveur.racine, profile.commune.code, bundle.release)
    for outcome, m in zip(pg_migrate.migrate_all(transport, target, migrations, rep.step),
                          migrations, strict=True):
        rep.step(tr(f"{m.service} : {len(outcome.rows)} tables, mêmes nombres de lignes "
                    "avant et après", f"{m.service}: {len(outcome.rows)} tables, same row "
                    "counts before and after"))
    try:
        yield
    except BaseException:
        _undo(transport, target, migrations, rep)
        raise


def _undo(transport: Any, target: script.Target, migrations: Sequence[PgMigration],
          rep: Any) -> None:
    for m in reversed(migrations):
        rep.step(tr(f"Retour à l'ancienne base de {m.service} (volume {m.old_volume})",
                    f"Back to the old database of {m.service} (volume {m.old_volume})"))
        try:
            pg_migrate.undo(transport, target, m)
        except DeployError as err:  # said; the failure that brought us here goes up
            rep.step(err.message)


def _stale(recorded: Mapping[str, str], existing: Sequence[str]) -> list[str]:
    """Old clusters' volumes: never the one in use, nor one of a newer major than it (a
    migration under way elsewhere)."""
    out = []
    for key, used in sorted(recorded.items()):
        out += [v for v in pg_major.stale_volumes({key: used}, [key], existing)
                if _major(v) < _major(used)]
    return out


def _major(volume: str) -> int:
    found = _MAJOR.search(volume)
    return int(found.group(1)) if found else 0


def prune_stale(transport: Any, profile: Any, facts: Any, rep: Any) -> list[str]:
    """Remove the old clusters' volumes of a committed commune; the volumes removed."""
    slug = profile.commune.code
    used = recorded(facts, slug)
    if not used or facts.state.pending is not None:
        return []
    existing = [n.removeprefix(f"{slug}_") for n in facts.volumes if n.startswith(f"{slug}_")]
    stale = _stale(used, existing)
    if not stale:
        return []
    rep.step(tr(f"Suppression des anciennes grappes PostgreSQL : {', '.join(stale)}",
                f"Removing the old PostgreSQL clusters: {', '.join(stale)}"))
    return pg_migrate.prune(transport, profile.serveur.racine, slug, stale)
