"""Recipes as data: ``recipes/<name>/recipe.yaml`` validated into a model, templates beside.

Pure: reads files, touches no network. Adding a service means adding a recipe folder and its
templates; nothing here names a particular service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kit_collab.errors import Problem, RecipeError
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+\+[A-Za-z0-9][A-Za-z0-9._-]*$")
FORMATS = ("yaml", "compose", "env", "caddyfile", "conf", "json", "lua", "php", "shell", "text")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Data):
    fr: str
    en: str


def dest_problem(dest: str) -> str:
    """Why a recipe file's ``dest`` could land outside its recipe's folder ("" when safe):
    an absolute path, or a ``..`` (or ``.``) segment."""
    if dest.startswith(("/", "\\")):
        return tr(f"« {dest} » est un chemin absolu", f"'{dest}' is an absolute path")
    if any(part in ("..", ".", "") for part in dest.replace("\\", "/").split("/")):
        return tr(f"« {dest} » sort du dossier de la recette (« .. » ou « . »)",
                  f"'{dest}' leaves the recipe's folder ('..' or '.')")
    return ""


class FileSpec(_Data):
    template: str
    dest: str = Field(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    format: Literal["yaml", "compose", "env", "caddyfile", "conf", "json", "lua", "php",
                    "shell", "text"]
    mode: str = Field("0644", pattern=r"^0[0-7]{3}$")
    owner: str | None = Field(None, pattern=r"^\d+(:\d+)?$")  # uid[:gid] inside the container
    when: str | None = None  # a dotted profile path; the file is rendered only when it is true
    # A static file the shared proxy serves (site_root/<recipe>/<dest>): published with the
    # commune's sites, the only part of a release the proxy can see.
    served: bool = False

    @property
    def mode_int(self) -> int:
        return int(self.mode, 8)


class SecretSpec(_Data):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    length: int = Field(32, ge=16, le=128)  # characters; random bytes for base64
    alphabet: Literal["alnum", "hex", "base64", "readable"] = "alnum"


class PortSpec(_Data):
    """A host port that must be unique on a server; the engine allocates it from ``base``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    protocol: Literal["tcp", "udp", "tcp+udp"]
    base: int = Field(ge=1024, le=65000)
    size: int = Field(1, ge=1, le=1000)  # a block of consecutive ports (relay ranges)
    public: bool = True  # opened in the firewall


class Resources(_Data):
    ram_mb: int = Field(ge=16)
    disk_gb: int = Field(ge=1)
    cpu: float = Field(0.5, gt=0)


class HealthCheck(_Data):
    name: str
    host: str  # a key of ``hostnames`` (of this recipe) or ``base`` for the commune's domain
    path: str = Field(pattern=r"^/")
    status: int = 200
    json_: dict[str, Any] | None = Field(None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    contains: str | None = None
    when: str | None = None


class StunSpec(_Data):
    """A STUN port the diagnosis probes (UDP and TCP): not HTTP, so not a health check."""
    host: str  # a key of this recipe's ``hostnames``
    port: str  # a name of this recipe's ``ports``


class TaskSpec(_Data):
    """An idempotent command run in a service container after deploy."""

    name: str
    description: Text
    service: str
    user: str | None = None
    argv: list[str]
    for_each: Literal["utilisateurs", "services_municipaux"] | None = None
    when: str | None = None
    env: dict[str, str] = Field(default_factory=dict)  # values: templates, e.g. secret refs


class Advisory(_Data):
    """A published security advisory about one of the recipe's images, and the upstream
    version that fixes it: lint refuses a critical one whose fix is newer than the pin."""

    image: str  # a key of ``images``
    id: str  # CVE-... or the upstream's own identifier
    severity: Literal["critical", "high", "medium", "low"]
    fixed_in: str  # the first upstream version without it, e.g. 7.4.6
    source: str  # where it was read (release notes, advisory page)


VOLUME_RE = r"^[a-z0-9][a-z0-9_.-]*$"  # a named volume of the recipe's compose file


class PostgresData(_Data):
    """A PostgreSQL database of a service: saved by ``pg_dump`` through the container's
    local socket (no password), restored into a fresh cluster of ``volume``."""

    base: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the database (POSTGRES_DB)
    utilisateur: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # its owner (POSTGRES_USER)
    volume: str = Field(pattern=VOLUME_RE)  # the cluster's volume, recreated empty to restore


class DataSpec(_Data):
    """The data a service keeps (``donnees:`` in recipe.yaml): saved on the server before a
    release changes the image of any service of the recipe's data, restored when that
    release is rolled back."""

    service: str
    volumes: list[str] = Field(default_factory=list)  # named volumes copied as they are
    postgres: PostgresData | None = None

    @model_validator(mode="after")
    def _something(self) -> DataSpec:
        if not self.volumes and self.postgres is None:
            raise ValueError(tr("« volumes » ou « postgres » attendu",
                                "'volumes' or 'postgres' expected"))
        for volume in self.volumes:
            if not re.match(VOLUME_RE, volume):
                raise ValueError(tr(f"nom de volume invalide : {volume!r}",
                                    f"invalid volume name: {volume!r}"))
        return self


class UpgradePath(_Data):
    """How one pinned image is upgraded (``chemin_de_mise_a_niveau.<image key>``): the kind
    of step (plan/upgrade.py), the images to step through, the jumps upstream refuses."""

    genre: Literal["nextcloud-major", "synapse", "image"] = "image"
    # Each earlier major's last patch image, oldest first: a deployed major N is brought to
    # the pin through the images of majors N+1 ... pin-1 (nextcloud-major only).
    chemin: list[str] = Field(default_factory=list)
    # The oldest deployed version a direct jump to the pin is supported from ("" = any).
    depuis_au_moins: str = ""
    retour: bool = False  # going back to an older version is supported upstream
    apres: list[list[str]] = Field(default_factory=list)  # argv run in the service afterwards
    service: str = ""  # the service running the image (for ``apres``)
    utilisateur: str | None = None  # the user ``apres`` runs as (uid, e.g. "33")


def _check_path(key: str, pinned: str, path: list[str]) -> None:
    """The path's images: the pinned image's repository, majors rising, all below the pin."""
    def split(image: str) -> tuple[str, int]:
        name, _, tag = image.rpartition(":")
        found = re.search(r"\d+", tag)
        return name, int(found.group(0)) if found else -1

    name, major = split(pinned)
    majors = [split(i) for i in path]
    if any(n != name for n, _m in majors) or [m for _n, m in majors] != sorted(
            {m for _n, m in majors if m < major}):
        raise ValueError(tr(f"chemin_de_mise_a_niveau.{key} : images de {name}, une par "
                            f"majeure, croissantes et antérieures à {pinned}",
                            f"chemin_de_mise_a_niveau.{key}: images of {name}, one per "
                            f"major, rising and before {pinned}"))


class RecipeSpec(_Data):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: str
    description: Text
    scope: Literal["commune", "server"] = "commune"
    active_if: list[str] = Field(default_factory=list)  # any true => active; empty => always
    requires: list[str] = Field(default_factory=list)
    images: dict[str, str]
    # The upstream release date of each pinned image (a key of ``images`` each): lint warns
    # when a pin gets old, so that someone reads the release notes again.
    released: dict[str, date] = Field(default_factory=dict)
    advisories: list[Advisory] = Field(default_factory=list)
    resources: Resources
    hostnames: dict[str, str] = Field(default_factory=dict)  # key -> profile path of the label
    # The proxy site also answers on the commune's bare domain (Matrix delegation files):
    # always, never, or when a profile path is true (e.g. services.matrix.domaine_sur_serveur).
    bare_domain: bool | str = False
    ports: list[PortSpec] = Field(default_factory=list)
    secrets: list[SecretSpec] = Field(default_factory=list)
    files: list[FileSpec]
    services: list[str]
    proxy_site: str | None = None  # dest of a rendered file holding this recipe's Caddy sites
    health: list[HealthCheck] = Field(default_factory=list)
    stun: list[StunSpec] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(default_factory=list)
    donnees: list[DataSpec] = Field(default_factory=list)
    chemin_de_mise_a_niveau: dict[str, UpgradePath] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _data_services(self) -> RecipeSpec:
        stray = sorted(set(self.chemin_de_mise_a_niveau) - set(self.images))
        if stray:
            raise ValueError(tr(f"chemin_de_mise_a_niveau : image(s) inconnue(s) {stray}",
                                f"chemin_de_mise_a_niveau: unknown image(s) {stray}"))
        for key, path in self.chemin_de_mise_a_niveau.items():
            _check_path(key, self.images[key], path.chemin)
        unknown = [d.service for d in self.donnees if d.service not in self.services]
        if unknown:
            raise ValueError(tr(f"donnees : service(s) inconnu(s) {unknown} (attendus : "
                                f"{self.services})", f"donnees: unknown service(s) {unknown} "
                                f"(expected: {self.services})"))
        return self


@dataclass(frozen=True)
class Recipe:
    spec: RecipeSpec
    recipe_dir: Path
    template_dir: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def template_text(self, name: str) -> str:
        return (self.template_dir / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class RecipeSet:
    recipes: tuple[Recipe, ...]
    root: Path

    @cached_property
    def by_name(self) -> dict[str, Recipe]:
        return {r.name: r for r in self.recipes}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.recipes)

    def __getitem__(self, name: str) -> Recipe:
        return self.by_name[name]


def data_root() -> Path:
    """Where ``recipes/`` is (each recipe with its ``templates/``): KIT_COLLAB_RECIPES when
    set (a folder of one's own recipes), else the source tree or the installed package."""
    import os

    if os.environ.get("KIT_COLLAB_RECIPES"):
        return Path(os.environ["KIT_COLLAB_RECIPES"])
    here = Path(__file__).resolve().parent.parent  # the kit_collab package
    packaged = here / "_data"
    if (packaged / "recipes").is_dir():
        return packaged
    return here.parent.parent


def _load_one(recipe_dir: Path) -> Recipe:
    source = str(recipe_dir / "recipe.yaml")
    doc = yamlsafe.load((recipe_dir / "recipe.yaml").read_bytes(), source)
    try:
        spec = RecipeSpec.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            mark = doc.mark(loc)
            problems.append(Problem(".".join(str(p) for p in loc), err["msg"], file=source,
                                    line=mark[0] if mark else None,
                                    column=mark[1] if mark else None))
        raise RecipeError(tr(f"recette invalide : {recipe_dir.name}",
                             f"invalid recipe: {recipe_dir.name}"), problems) from None
    if spec.name != recipe_dir.name:
        raise RecipeError(tr(
            f"la recette {source} s'appelle « {spec.name} » mais son dossier « {recipe_dir.name} »",
            f"recipe {source} is named '{spec.name}' but its folder '{recipe_dir.name}'"))
    return Recipe(spec=spec, recipe_dir=recipe_dir, template_dir=recipe_dir / "templates")


def load_recipes(root: Path | None = None) -> RecipeSet:
    """Every recipe under ``root/recipes``, sorted: server-wide ones first, then by name."""
    base = root or data_root()
    recipes_dir = base / "recipes"
    if not recipes_dir.is_dir():
        raise RecipeError(tr(f"dossier de recettes introuvable : {recipes_dir}",
                             f"recipes folder not found: {recipes_dir}"))
    found = [
        _load_one(d)
        for d in sorted(recipes_dir.iterdir())
        if (d / "recipe.yaml").is_file()
    ]
    found.sort(key=lambda r: (r.spec.scope != "server", r.name))
    return RecipeSet(recipes=tuple(found), root=base)
