"""What a commune's backup holds and in which order: pure data, from the recipes' ``donnees``.

One restic snapshot per run (the backup contract shared with the restore side):
``--host <slug>``, tags ``kit-collab``, ``commune=<slug>``, ``release=<id>`` and one
``recette=<name>@<version>`` per recipe; inside, the server's absolute paths:
``<commune>/sauvegarde/staging/postgres/<service>.sql`` (``pg_dump``, plain SQL),
``/var/lib/docker/volumes/<slug>_<volume>/_data`` per volume, ``<commune>/secrets``,
``<commune>/state.json`` and ``<commune>/releases/<current id>``.

Order: the dumps of services that need no quiet moment first; then, for the recipes that
have one (Nextcloud), maintenance mode on, their dumps, the restic run that reads every
path, maintenance mode off (always, also on error). PostgreSQL dumps are consistent by
themselves; the other services keep running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kit_collab.recipes.load import DataSpec

# Recipe -> the service where its maintenance switch runs (``occ maintenance:mode``): its
# files and database must not move while they are read (nextcloud/server, core/Command/
# Maintenance/Mode.php; nextcloud/docker README "Backups").
QUIET = {"nextcloud": "nextcloud"}
DOCKER_VOLUMES = "/var/lib/docker/volumes"
STAGING = "sauvegarde/staging"


@dataclass(frozen=True)
class Retention:
    """restic ``forget --keep-daily/--keep-weekly/--keep-monthly`` (restic 0.14+, doc
    060_forget.rst)."""

    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def args(self) -> tuple[str, ...]:
        pairs = (("--keep-daily", self.daily), ("--keep-weekly", self.weekly),
                 ("--keep-monthly", self.monthly))
        return tuple(f"{flag}={n}" for flag, n in pairs if n > 0)


@dataclass(frozen=True)
class Dump:
    """A PostgreSQL database dumped to ``<staging>/postgres/<service>.sql``."""

    recipe: str
    service: str
    base: str
    user: str
    quiet: bool  # taken while its recipe is in maintenance mode

    @property
    def file(self) -> str:
        return f"postgres/{self.service}.sql"


@dataclass(frozen=True)
class Volume:
    recipe: str
    name: str  # the compose volume, without the project's prefix
    quiet: bool

    def path(self, slug: str) -> str:
        return f"{DOCKER_VOLUMES}/{slug}_{self.name}/_data"


@dataclass(frozen=True)
class BackupPlan:
    slug: str
    commune_dir: str
    dumps: tuple[Dump, ...]  # in order: not quiet first
    volumes: tuple[Volume, ...]
    maintenance: tuple[str, ...]  # services switched to maintenance mode, in order
    recipe_tags: tuple[str, ...]  # recette=<name>@<version>
    retention: Retention

    @property
    def staging(self) -> str:
        return f"{self.commune_dir}/{STAGING}"

    def paths(self, release: str = "$REL") -> tuple[str, ...]:
        """What the snapshot holds, as absolute paths (``release`` may be a shell word)."""
        c = self.commune_dir
        return (f"{self.staging}/postgres", *(v.path(self.slug) for v in self.volumes),
                f"{c}/secrets", f"{c}/state.json", f"{c}/releases/{release}")

    def tags(self, release: str) -> tuple[str, ...]:
        return ("kit-collab", f"commune={self.slug}", f"release={release}", *self.recipe_tags)

    @property
    def early_dumps(self) -> tuple[Dump, ...]:
        return tuple(d for d in self.dumps if not d.quiet)

    @property
    def quiet_dumps(self) -> tuple[Dump, ...]:
        return tuple(d for d in self.dumps if d.quiet)


def plan(slug: str, commune_dir: str, data: Mapping[str, Sequence[DataSpec]],
         versions: Mapping[str, str], retention: Retention | None = None) -> BackupPlan:
    """The backup of the active recipes' ``data`` (recipe -> its ``donnees``), ``versions``
    (recipe -> version) naming them in the tags."""
    dumps: list[Dump] = []
    volumes: list[Volume] = []
    for recipe in sorted(data):
        quiet = recipe in QUIET
        for spec in data[recipe]:
            volumes += [Volume(recipe, v, quiet) for v in spec.volumes]
            if spec.postgres is not None:
                pg = spec.postgres
                dumps.append(Dump(recipe, spec.service, pg.base, pg.utilisateur, quiet))
    dumps.sort(key=lambda d: d.quiet)  # stable: recipe order kept within each group
    maintenance = tuple(QUIET[r] for r in sorted(data) if r in QUIET)
    tags = tuple(f"recette={r}@{versions[r]}" for r in sorted(versions))
    return BackupPlan(slug, commune_dir, tuple(dumps), tuple(volumes), maintenance, tags,
                      retention or Retention())
