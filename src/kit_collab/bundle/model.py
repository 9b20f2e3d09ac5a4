"""What rendering produces: the Bundle (files plus the structure later stages read).

Later stages (plan, check, apply) read these fields; none of them parses rendered text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

Secrets = dict[str, dict[str, str]]  # recipe -> secret name -> value


def published_dir(root: str, slug: str) -> str:
    """Where a commune's sites and served files are published for the shared proxy, which
    mounts only <root>/proxy: ``current`` in it points at the running release's copy of its
    ``proxy/`` folder (the switch publishes it; never a secret in it)."""
    return f"{root}/proxy/communes/{slug}"


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the server root (/opt/kit-collab)
    content: bytes = field(repr=False)  # may hold secrets: never in a repr
    mode: int
    recipe: str
    format: str = "text"
    owner: str | None = None  # "0:gid": root, and the group of the container that reads it

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Task:
    recipe: str
    name: str
    description: str
    service: str
    user: str | None
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # variable -> secret reference "recipe.name", never a value

    def as_dict(self) -> dict[str, Any]:
        return {"recette": self.recipe, "nom": self.name, "description": self.description,
                "service": self.service, "utilisateur": self.user, "argv": list(self.argv),
                "env": dict(self.env)}


@dataclass(frozen=True)
class Check:
    recipe: str
    name: str
    host: str
    path: str
    status: int
    json: dict[str, Any] | None
    headers: dict[str, str]
    contains: str | None

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}"

    def as_dict(self) -> dict[str, Any]:
        return {"recette": self.recipe, "nom": self.name, "url": self.url, "statut": self.status,
                "json": self.json, "entetes": self.headers, "contient": self.contains}


@dataclass(frozen=True)
class PortBlock:
    """Consecutive host ports, both ends included (a single port has start == end)."""

    start: int
    end: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end

    @property
    def ports(self) -> range:
        return range(self.start, self.end + 1)


@dataclass(frozen=True)
class Service:
    """A compose service of a commune, as rendered."""

    name: str
    recipe: str
    image: str
    restart: str  # "no" when absent
    mounts: tuple[str, ...] = ()  # release-relative files and folders bind-mounted ("./x")
    aliases: tuple[str, ...] = ()  # network aliases (the proxy reaches the service by them)

    @property
    def oneshot(self) -> bool:
        """Runs once and exits: for it, and only for it, "exited with 0" is healthy."""
        return self.restart == "no"


@dataclass(frozen=True)
class Site:
    """A site the shared proxy serves for the commune: its addresses and the services behind."""

    recipe: str
    addresses: tuple[str, ...]
    backends: tuple[str, ...]  # compose services the site forwards to, in order


@dataclass(frozen=True)
class StunTarget:
    """A STUN port a recipe declares (``stun:`` in recipe.yaml), resolved for this commune."""

    recipe: str
    host: str
    port: int


@dataclass(frozen=True)
class Bundle:
    slug: str
    release: str  # derived from the content: the same bundle has the same id
    files: tuple[BundleFile, ...]
    recipes: tuple[tuple[str, str], ...]  # (name, version) of each active recipe
    hosts: dict[str, dict[str, str]]
    ports: dict[str, dict[str, int]]  # recipe -> name (and name_end) -> port, as templates see
    tasks: tuple[Task, ...]
    checks: tuple[Check, ...]
    resources: dict[str, float] = field(default_factory=dict)
    services: tuple[Service, ...] = ()  # the commune's compose services
    proxy_services: tuple[Service, ...] = ()  # the shared proxy's (its own compose project)
    sites: tuple[Site, ...] = ()
    port_blocks: dict[str, dict[str, PortBlock]] = field(default_factory=dict)
    stun: tuple[StunTarget, ...] = ()

    @property
    def release_dir(self) -> str:
        return f"communes/{self.slug}/releases/{self.release}"

    def file(self, path: str) -> BundleFile:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def service_names(self, recipe: str) -> list[str]:
        return [s.name for s in self.services if s.recipe == recipe]
