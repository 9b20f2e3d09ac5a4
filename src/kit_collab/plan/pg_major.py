"""A PostgreSQL major version change, planned as a migration: never an image swap.

A major cannot read an older major's data folder (PostgreSQL docs, "Upgrading a PostgreSQL
Cluster", 17: "major releases ... the internal data storage format is subject to change");
a minor (17.6 -> 17.11) shares it, and is an image swap. A major change is planned as
dump -> new cluster -> restore -> verify (exact row counts, table by table) -> switch, run by
apply/pg_migrate.py with the script apply/scripts/pg_migrate.py.

Where the new cluster lives (pure, from data): a cluster of major ``M`` migrated from an older
one lives in the volume ``<volume>-pg<M>`` (``volume`` is the recipe's
``donnees[].postgres.volume``, the compose key, e.g. ``matrix_db``); a cluster that was never
migrated lives in ``<volume>`` itself. The volume in use is to be recorded in state.json
(``volumes_postgres``: compose key -> volume, ``recorded`` below) and the new release's
compose file names it (``volumes: {matrix_db: {name: <slug>_matrix_db-pg18}}``), as the
bundle already receives the recorded ports: the compose key, hence every service's mount,
never changes, only the Docker name behind it. (That record and the template variable are
the upgrade's part; the migration script refuses to start when the new release's compose
file does not name the new volume, and the tests' releases name it this way.) The previous
release's compose file still names the old volume, so switching back to it (undo) finds the
old cluster untouched. The old volume is removed only by a later successful install
(``stale_volumes``), never by the migration itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit_collab.bundle.model import Service
from kit_collab.i18n import tr
from kit_collab.recipes.load import DataSpec

_TAG = re.compile(r"^v?(\d+)(?:\.\d+)*(?:[-_.].*)?$")
# Measured by bench/bench_pg_major.py (PostgreSQL 15 -> 17, 1.07 GB of rows by
# pg_database_size, 2 cores, local disk): 106 s of downtime on a quiet machine (dump 40 s,
# restore 52 s), 245 s with the cores shared. The slower figure is kept: it only says how
# long the migration may take, and a plan should not promise too little.
SECONDS_PER_GB = 240


def major_of(image: str) -> int | None:
    """The PostgreSQL major of an image reference (``postgres:17.11`` -> 17,
    ``postgres:15-bookworm`` -> 15); None when the tag does not say it (``latest``, a digest)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = _TAG.match(last.rsplit(":", 1)[1])
    return int(match.group(1)) if match else None


def postgres_majors(old_image: str, new_image: str) -> tuple[int, int] | None:
    """(old major, new major) when the major changes; None when it does not (a minor is an
    image swap) or when either tag does not say its major (then nothing is planned here: the
    upgrade plan refuses an unpinned database image elsewhere)."""
    old, new = major_of(old_image), major_of(new_image)
    if old is None or new is None or old == new:
        return None
    return old, new


def volume_for(volume: str, major: int) -> str:
    """The compose volume (without the project prefix) of a cluster migrated to ``major``."""
    return f"{volume}-pg{major}"


@dataclass(frozen=True)
class PgMigration:
    """One PostgreSQL service whose major changes, as the migration will run it."""

    recipe: str
    service: str  # compose service of the cluster (matrix-db)
    clients: tuple[str, ...]  # services stopped from the dump to the switch (matrix-synapse)
    base: str
    user: str
    volume: str  # compose key of the cluster's volume (matrix_db)
    old_volume: str  # the volume the old cluster is in (matrix_db, or matrix_db-pg17)
    new_volume: str  # the new cluster's (matrix_db-pg18)
    old_image: str
    new_image: str
    old_major: int
    new_major: int

    @property
    def downgrade(self) -> bool:
        return self.new_major < self.old_major

    def as_dict(self) -> dict[str, Any]:
        return {"recette": self.recipe, "service": self.service, "clients": list(self.clients),
                "base": self.base, "utilisateur": self.user, "volume": self.volume,
                "ancien_volume": self.old_volume, "nouveau_volume": self.new_volume,
                "ancienne_image": self.old_image, "nouvelle_image": self.new_image,
                "de": self.old_major, "vers": self.new_major}

    def steps(self, size_bytes: int = 0) -> list[str]:
        """The plan shown before anything happens, in French (or English), one line a step."""
        stopped = ", ".join(self.clients) or self.service
        minutes = max(1, round(size_bytes / 1e9 * SECONDS_PER_GB / 60)) if size_bytes else 0
        took = tr(f" (environ {minutes} min d'arrêt)", f" (about {minutes} min of downtime)") \
            if minutes else ""
        return [
            tr(f"PostgreSQL {self.old_major} → {self.new_major} ({self.service}) : migration "
               f"par export et import, jamais un simple changement d'image{took}",
               f"PostgreSQL {self.old_major} → {self.new_major} ({self.service}): migrated "
               f"by dump and restore, never an image swap{took}"),
            tr(f"arrêt de {stopped} jusqu'à la bascule ; export de la base {self.base} et "
               "comptage des lignes de chaque table",
               f"{stopped} stopped until the switch; database {self.base} dumped and the "
               "rows of each table counted"),
            tr(f"nouvelle grappe dans le volume {self.new_volume}, import, nouveau comptage : "
               "la moindre différence arrête tout, en nommant la table",
               f"new cluster in the volume {self.new_volume}, restore, rows counted again: "
               "any difference stops everything, naming the table"),
            tr(f"l'ancien volume {self.old_volume} reste intact (retour arrière possible) ; "
               "il ne sera supprimé que par une installation suivante réussie",
               f"the old volume {self.old_volume} stays untouched (undo possible); only a "
               "later successful install removes it"),
        ]


def migrations(specs: Sequence[tuple[str, str, str, str, str, tuple[str, ...]]],
               old_images: Mapping[str, str], new_images: Mapping[str, str],
               recorded: Mapping[str, str]) -> tuple[PgMigration, ...]:
    """The migrations an upgrade needs. ``specs``: per PostgreSQL service of the recipes'
    ``donnees`` (recipe, service, base, user, volume key, client services); ``old_images``
    and ``new_images``: service -> image of the deployed and the new release; ``recorded``:
    state's volume key -> volume in use (absent: the key itself)."""
    out = []
    for recipe, service, base, user, volume, clients in specs:
        old, new = old_images.get(service), new_images.get(service)
        majors = postgres_majors(old, new) if old and new else None
        if majors is None or old is None or new is None:
            continue
        out.append(PgMigration(recipe, service, clients, base, user, volume,
                               recorded.get(volume, volume), volume_for(volume, majors[1]),
                               old, new, *majors))
    return tuple(out)


def for_upgrade(services: Sequence[Service], old_images: Mapping[str, str],
                data: Mapping[str, Sequence[DataSpec]],
                recorded: Mapping[str, str]) -> tuple[PgMigration, ...]:
    """The migrations of an upgrade, from the new bundle's services, the running release's
    images (facts.images), the recipes' ``donnees`` (plan.changes.data_of) and state's
    recorded volumes. The clients stopped are every other service of the same recipe (a
    static web front stopped a few minutes more costs less than a write lost)."""
    specs = []
    for recipe, entries in sorted(data.items()):
        others = tuple(s.name for s in services if s.recipe == recipe)
        for d in entries:
            if d.postgres is not None:
                specs.append((recipe, d.service, d.postgres.base, d.postgres.utilisateur,
                              d.postgres.volume, tuple(n for n in others if n != d.service)))
    return migrations(specs, old_images, {s.name: s.image for s in services}, recorded)


def stale_volumes(recorded: Mapping[str, str], keys: Sequence[str],
                  existing: Sequence[str]) -> list[str]:
    """The clusters' volumes a successful install may remove: for each volume key, every
    existing volume of that key (``<key>`` or ``<key>-pg<N>``) but the one in use."""
    out = []
    for key in keys:
        used = recorded.get(key, key)
        pattern = re.compile(rf"^{re.escape(key)}(-pg\d+)?$")
        out += [v for v in existing if pattern.match(v) and v != used]
    return sorted(out)
