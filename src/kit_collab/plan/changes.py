"""Bundle + facts -> Plan: what an install would change. Pure: plain data in, data out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit_collab.bundle.model import Bundle, Task
from kit_collab.i18n import tr
from kit_collab.plan.facts import Facts
from kit_collab.recipes.load import DataSpec, RecipeSet

BOOTSTRAP_VERSION = "1"


@dataclass(frozen=True)
class Change:
    action: str  # bootstrap | ajout | modification | suppression | proxy | redemarrage | tache
    target: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "cible": self.target, "detail": self.detail}


@dataclass(frozen=True)
class Saved:
    """One service's data saved on the server before the switch (a recipe's ``donnees``):
    named volumes (compose names, without the project's prefix) and a PostgreSQL base."""

    recipe: str
    service: str
    volumes: tuple[str, ...] = ()
    base: str = ""  # PostgreSQL database, "" when none
    user: str = ""
    base_volume: str = ""  # the volume of its cluster

    def as_json(self) -> dict[str, Any]:
        return {"recette": self.recipe, "service": self.service, "volumes": list(self.volumes),
                "base": self.base, "utilisateur": self.user, "volume_base": self.base_volume}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Saved:
        return cls(recipe=str(data["recette"]), service=str(data["service"]),
                   volumes=tuple(str(v) for v in data.get("volumes") or ()),
                   base=str(data.get("base") or ""), user=str(data.get("utilisateur") or ""),
                   base_volume=str(data.get("volume_base") or ""))

    @classmethod
    def of(cls, recipe: str, spec: DataSpec) -> Saved:
        pg = spec.postgres
        return cls(recipe, spec.service, tuple(spec.volumes), pg.base if pg else "",
                   pg.utilisateur if pg else "", pg.volume if pg else "")


@dataclass(frozen=True)
class Firewall:
    """The commune's public rules (``3478/udp``, recorded in state.json) and what an install
    opens and closes on the server's firewall (apply/scripts/firewall.py)."""

    rules: tuple[str, ...] = ()
    opened: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.opened or self.closed)

    def describe(self) -> str:
        parts = ([tr("ouvrir ", "open ") + ", ".join(self.opened)] if self.opened else []) + (
            [tr("fermer ", "close ") + ", ".join(self.closed)] if self.closed else [])
        return tr("pare-feu : ", "firewall: ") + " ; ".join(parts)


@dataclass(frozen=True)
class Plan:
    slug: str
    release: str
    previous: str  # release running now, "" on a first install
    bootstrap: bool
    upload: bool  # the release folder must be sent (it is not on the server yet)
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    proxy_changed: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()  # services whose mounted files changed
    tasks: tuple[Task, ...] = ()
    store_secrets: bool = False  # secrets were generated: write them to the server
    new_secrets: tuple[str, ...] = ()  # their names ("recipe.secret"), never their values
    files: dict[str, str] = field(default_factory=dict)  # release-relative path -> sha256
    resume: str = ""  # why the last operation is not committed (set by apply.deploy)
    # Data saved before the switch: a stateful service's image changes (see ``to_save``).
    snapshot: tuple[Saved, ...] = ()
    # An avant-<release> folder is on the server already (an earlier attempt took it).
    snapshot_found: bool = False
    firewall: Firewall = field(default_factory=Firewall)  # set by apply.deploy

    @property
    def noop(self) -> bool:
        return not (self.bootstrap or self.release != self.previous or self.proxy_changed
                    or self.store_secrets or self.upload or self.resume
                    or self.firewall.changes)

    def changes(self) -> list[Change]:
        out: list[Change] = []
        if self.bootstrap:
            out.append(Change("bootstrap", tr("serveur", "server"), tr(
                "Docker, compose, pare-feu, mises à jour de sécurité automatiques",
                "Docker, compose, firewall, automatic security updates")))
        if self.resume:
            out.append(Change("reprise", self.release, self.resume))
        out += [Change("ajout", p) for p in self.added]
        out += [Change("modification", p) for p in self.changed]
        out += [Change("suppression", p) for p in self.removed]
        out += [Change("proxy", f"proxy/{p}") for p in self.proxy_changed]
        out += [Change("redemarrage", s) for s in self.restart]
        out += [Change("tache", f"{t.recipe}:{t.name}", t.description) for t in self.tasks]
        if self.snapshot:
            out.append(Change("instantane", tr("instantané avant bascule : ",
                                               "snapshot before the switch: ")
                              + ", ".join(s.service for s in self.snapshot),
                              f"communes/{self.slug}/avant-{self.release}"))
        if self.firewall.changes:
            out.append(Change("pare-feu", tr("serveur", "server"), self.firewall.describe()))
        if self.new_secrets:
            out.append(Change("secrets", tr("secrets à créer : ", "secrets to create: ")
                              + ", ".join(self.new_secrets)))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"commune": self.slug, "release": self.release, "precedente": self.previous,
                "rien_a_faire": self.noop, "changements": [c.as_dict() for c in self.changes()]}


def release_files(bundle: Bundle) -> dict[str, str]:
    """Release-relative path -> sha256 of the commune's files."""
    prefix = bundle.release_dir + "/"
    return {f.path.removeprefix(prefix): f.sha256 for f in bundle.files
            if f.path.startswith(prefix)}


def proxy_files(bundle: Bundle) -> dict[str, str]:
    return {f.path.removeprefix("proxy/"): f.sha256 for f in bundle.files
            if f.path.startswith("proxy/")}


def mounted_by(bundle: Bundle) -> dict[str, set[str]]:
    """Release-relative file -> the services that bind-mount it. Env files are left out:
    compose itself sees their content change."""
    users: dict[str, set[str]] = {}
    for service in bundle.services:
        for mount in service.mounts:
            users.setdefault(mount, set()).add(service.name)
    return users


def oneshot_services(bundle: Bundle) -> set[str]:
    """Services that run once and exit (no restart policy, or "no"): for them, and only for
    them, "exited with 0" is the healthy state."""
    return {s.name for s in bundle.services if s.oneshot}


def _services_of(paths: list[str], bundle: Bundle) -> list[str]:
    """The services to recreate for changed files: those mounting the file; for a file no
    service mounts (and that is not a compose or env file), every service of its recipe."""
    users = mounted_by(bundle)
    out: set[str] = set()
    for path in paths:
        if "/" not in path or path.endswith(("/compose.yaml", ".env")):
            continue
        out |= users.get(path) or set(bundle.service_names(path.split("/", 1)[0]))
    return sorted(out)


def data_of(recipes: RecipeSet) -> dict[str, list[DataSpec]]:
    """Recipe -> the data its services keep (``donnees:``), for the recipes declaring any."""
    return {r.name: list(r.spec.donnees) for r in recipes if r.spec.donnees}


def to_save(bundle: Bundle, facts: Facts,
            data: Mapping[str, Sequence[DataSpec]]) -> tuple[Saved, ...]:
    """The data to save before switching: every ``donnees`` entry of a recipe one of whose
    data services changes image between the running release and the new one (an app image
    migrates its database too). Only services that run now have data to save."""
    if not facts.current or bundle.release == facts.current:
        return ()
    new = {s.name: s.image for s in bundle.services}
    old = facts.images
    out: list[Saved] = []
    for recipe, specs in sorted(data.items()):
        if any(old.get(d.service) and new.get(d.service) not in (None, old[d.service])
               for d in specs):
            out += [Saved.of(recipe, d) for d in specs if d.service in old]
    return tuple(out)


def needs_bootstrap(facts: Facts, mirror: str | None) -> bool:
    """Docker or compose missing, an older bootstrap, or a registry mirror not yet set."""
    mirrors = facts.daemon.get("registry-mirrors") or []
    return (not facts.bootstrapped or facts.bootstrap_version != BOOTSTRAP_VERSION
            or bool(mirror and mirror not in mirrors))


def build(bundle: Bundle, facts: Facts, new_secrets: Sequence[str] | bool = (),
          mirror: str | None = None,
          data: Mapping[str, Sequence[DataSpec]] | None = None) -> Plan:
    """What to do to bring the server to ``bundle``."""
    wanted = release_files(bundle)
    deployed = dict(facts.release_files) if facts.current else {}
    added = sorted(p for p in wanted if p not in deployed)
    changed = sorted(p for p in wanted if p in deployed and deployed[p] != wanted[p])
    removed = sorted(p for p in deployed if p not in wanted)
    proxy_wanted = proxy_files(bundle)
    proxy_changed = tuple(sorted(p for p, h in proxy_wanted.items()
                                 if facts.proxy_files.get(p) != h))
    bootstrap = needs_bootstrap(facts, mirror)
    release_changed = bundle.release != facts.current
    # The running release's files differ from the bundle's (a cut upload, a hand edit):
    # it is not up to date, it is sent again.
    damaged = not release_changed and bool(added or changed or removed)
    # Files mounted into containers do not change the compose configuration: the services
    # of recipes whose files changed are recreated explicitly. A first install starts all.
    restart = _services_of(changed + removed, bundle) if facts.current else []
    return Plan(
        slug=bundle.slug, release=bundle.release, previous=facts.current,
        bootstrap=bootstrap,
        upload=damaged or (release_changed and bundle.release not in facts.releases),
        added=tuple(added), changed=tuple(changed), removed=tuple(removed),
        proxy_changed=proxy_changed, restart=tuple(restart),
        tasks=bundle.tasks if release_changed else (), store_secrets=bool(new_secrets),
        new_secrets=tuple(new_secrets) if not isinstance(new_secrets, bool) else (),
        files=wanted, snapshot=to_save(bundle, facts, data or {}),
        snapshot_found=bundle.release in facts.snapshots,
    )
