"""Profile + recipes + secrets + ports -> Bundle: every file that lands on the server.

Pure and deterministic: the same inputs give the same bytes. Templates run in a sandboxed,
strict Jinja environment (an undefined name is an error) with one escaping filter per format.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import secrets as secrets_mod
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from kit_collab import constants, escape
from kit_collab.bundle import ports
from kit_collab.errors import Problem, RenderError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import Recipe, RecipeSet

Secrets = dict[str, dict[str, str]]  # recipe -> secret name -> value

# Names a template sees besides the profile's own top-level keys.
CONTEXT_NAMES = ("hosts", "secrets", "ports", "active", "slug", "proxy_network", "server_root",
                 "images", "recipe", "item")


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the server root (/opt/kit-collab)
    content: bytes
    mode: int
    recipe: str
    format: str = "text"
    owner: str | None = None  # uid[:gid] the file must belong to on the server

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
class Bundle:
    slug: str
    release: str  # derived from the content: the same bundle has the same id
    files: tuple[BundleFile, ...]
    recipes: tuple[tuple[str, str], ...]  # (name, version) of each active recipe
    hosts: dict[str, dict[str, str]]
    ports: dict[str, dict[str, int]]
    tasks: tuple[Task, ...]
    checks: tuple[Check, ...]
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def release_dir(self) -> str:
        return f"communes/{self.slug}/releases/{self.release}"

    def file(self, path: str) -> BundleFile:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)


# ---------------------------------------------------------------------------------------------
# Activation, secrets, ports


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(dotted)
        data = data[part]
    return data


def _unknown_path(recipe: Recipe, dotted: str | None) -> RenderError:
    return RenderError(tr(f"recette « {recipe.name} » : chemin de profil inconnu « {dotted} »",
                          f"recipe '{recipe.name}': unknown profile path '{dotted}'"))


def _recipe_lookup(recipe: Recipe, data: Any, dotted: str) -> Any:
    try:
        return _lookup(data, dotted)
    except KeyError:
        raise _unknown_path(recipe, dotted) from None


def profile_data(profile: Profile) -> dict[str, Any]:
    data = profile.model_dump(mode="json")
    data["commune"]["slug"] = profile.commune.code
    data["serveur"]["adresse_publique"] = profile.serveur.adresse_publique
    return data


def recipe_true(recipe: Recipe, data: dict[str, Any], dotted: str | None) -> bool:
    """``is_true`` for a path a recipe declares: an unknown path is the recipe's error."""
    try:
        return is_true(data, dotted)
    except KeyError:
        raise _unknown_path(recipe, dotted) from None


def is_true(data: dict[str, Any], dotted: str | None) -> bool:
    if dotted is None:
        return True
    negate = dotted.startswith("not ")
    value = bool(_lookup(data, dotted.removeprefix("not ").strip()))
    return not value if negate else value


def active_recipes(profile: Profile, recipes: RecipeSet) -> list[Recipe]:
    data = profile_data(profile)
    active = [r for r in recipes if not r.spec.active_if
              or any(recipe_true(r, data, p) for p in r.spec.active_if)]
    names = {r.name for r in active}
    for recipe in active:
        for need in recipe.spec.requires:
            if need not in names:
                raise RenderError(tr(
                    f"la recette « {recipe.name} » a besoin de « {need} », qui n'est pas active",
                    f"recipe '{recipe.name}' needs '{need}', which is not active"))
    return _dependency_order(active)


def _dependency_order(recipes: list[Recipe]) -> list[Recipe]:
    """Each recipe after the ones it requires (so are its tasks); otherwise as given."""
    done: list[Recipe] = []
    pending = list(recipes)
    while pending:
        ready = next((r for r in pending
                      if all(n in {d.name for d in done} for n in r.spec.requires)), None)
        if ready is None:
            cycle = ", ".join(r.name for r in pending)
            raise RenderError(tr(f"dépendances circulaires entre recettes : {cycle}",
                                 f"circular dependencies between recipes: {cycle}"))
        done.append(ready)
        pending.remove(ready)
    return done


ACCOUNTS = "comptes"  # secrets bucket of the agents' initial passwords, one per identifiant
_READABLE = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I


def _new_secret(length: int, alphabet: str) -> str:
    if alphabet == "base64":  # e.g. an ed25519 seed: `length` random bytes, unpadded
        return base64.b64encode(secrets_mod.token_bytes(length)).decode().rstrip("=")
    chars = {"hex": "0123456789abcdef", "readable": _READABLE}.get(
        alphabet, string.ascii_letters + string.digits)
    return "".join(secrets_mod.choice(chars) for _ in range(length))


def ensure_secrets(recipes: list[Recipe], existing: Secrets | None,
                   users: Iterable[str] = ()) -> tuple[Secrets, list[str]]:
    """Every declared secret, and an initial password per agent (``comptes.<identifiant>``,
    shared by every service, printed only on the agent's sheet): the existing value, or a
    new one. Returns (secrets, names of the new ones)."""
    result: Secrets = {k: dict(v) for k, v in (existing or {}).items()}
    created: list[str] = []
    for recipe in recipes:
        bucket = result.setdefault(recipe.name, {})
        for spec in recipe.spec.secrets:
            if not bucket.get(spec.name):
                bucket[spec.name] = _new_secret(spec.length, spec.alphabet)
                created.append(f"{recipe.name}.{spec.name}")
    for user in users:
        accounts = result.setdefault(ACCOUNTS, {})
        if not accounts.get(user):
            accounts[user] = _new_secret(16, "readable")
            created.append(f"{ACCOUNTS}.{user}")
    return result, created


def user_ids(profile: Profile) -> list[str]:
    return [u.identifiant for u in profile.utilisateurs]


def port_requests(slug: str, recipes: list[Recipe]) -> list[tuple[str, str, Any]]:
    return [(slug, r.name, p) for r in recipes for p in r.spec.ports]


# ---------------------------------------------------------------------------------------------
# Jinja


def environment(recipe: Recipe) -> SandboxedEnvironment:
    """The recipe's Jinja environment, built once per template folder (it caches compiled
    templates, which is most of the cost of rendering many communes)."""
    return _environment(str(recipe.template_dir))


@functools.lru_cache(maxsize=64)
def _environment(template_dir: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(escape.FILTERS)
    return env


def _template_line(exc: BaseException, template: str) -> int | None:
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return int(lineno)
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(template):
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


def _render_error(recipe: Recipe, template: str, exc: Exception) -> RenderError:
    line = _template_line(exc, template)
    where = f"recipes/{recipe.name}/templates/{template}"
    detail = getattr(exc, "message", None) or str(exc)
    message = tr(f"rendu impossible de {where} : {detail}",
                 f"cannot render {where}: {detail}")
    return RenderError(message, [Problem("", message, file=where, line=line)],
                       hint=tr("corrigez le modèle ou la valeur du profil qu'il utilise",
                               "fix the template or the profile value it uses"))


@functools.lru_cache(maxsize=1024)
def _compiled(env: SandboxedEnvironment, source: str) -> jinja2.Template:
    return env.from_string(source)


def render_string(env: SandboxedEnvironment, recipe: Recipe, source: str, ctx: dict[str, Any],
                  label: str) -> str:
    try:
        return _compiled(env, source).render(ctx)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise _render_error(recipe, label, exc) from None


def render_template(env: SandboxedEnvironment, recipe: Recipe, name: str,
                    ctx: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(ctx)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise _render_error(recipe, name, exc) from None


# ---------------------------------------------------------------------------------------------
# The bundle


def hostnames(data: dict[str, Any], recipes: list[Recipe]) -> dict[str, dict[str, str]]:
    domain = data["commune"]["domaine"]
    hosts: dict[str, dict[str, str]] = {"base": {"domaine": domain}}
    for recipe in recipes:
        hosts[recipe.name] = {
            key: f"{_recipe_lookup(recipe, data, path)}.{domain}"
            for key, path in recipe.spec.hostnames.items()
        }
    return hosts


def _context(data: dict[str, Any], recipe: Recipe, shared: dict[str, Any]) -> dict[str, Any]:
    return {
        **data,
        **shared,
        "images": dict(recipe.spec.images),
        "recipe": {"name": recipe.name, "version": recipe.spec.version},
    }


def _tasks(env: SandboxedEnvironment, recipe: Recipe, ctx: dict[str, Any]) -> list[Task]:
    tasks = []
    for spec in recipe.spec.tasks:
        if not recipe_true(recipe, ctx, spec.when):
            continue
        items = ctx[spec.for_each] if spec.for_each else [None]
        for item in items:
            local = {**ctx, "item": item}
            argv = tuple(render_string(env, recipe, a, local, f"recipe.yaml:{spec.name}")
                         for a in spec.argv)
            task_env = tuple(
                (k, render_string(env, recipe, v, local, f"recipe.yaml:{spec.name}"))
                for k, v in sorted(spec.env.items()))
            description = spec.description.en if ctx.get("lang") == "en" else spec.description.fr
            tasks.append(Task(recipe.name, spec.name, render_string(
                env, recipe, description, local, f"recipe.yaml:{spec.name}"),
                spec.service, spec.user, argv, task_env))
    return tasks


def _checks(env: SandboxedEnvironment, recipe: Recipe, hosts: dict[str, dict[str, str]],
            ctx: dict[str, Any]) -> list[Check]:
    """The recipe's health checks; their expected texts may use the template context (e.g.
    the commune's homeserver address in Element's config.json)."""
    out = []

    def expand(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return render_string(env, recipe, value, ctx, f"recipe.yaml:health:{spec.name}")
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    for spec in recipe.spec.health:
        if not recipe_true(recipe, ctx, spec.when):
            continue
        if spec.host != "base" and spec.host not in hosts[recipe.name]:
            raise RenderError(tr(
                f"recette « {recipe.name} » : le contrôle « {spec.name} » vise l'hôte inconnu "
                f"« {spec.host} »", f"recipe '{recipe.name}': check '{spec.name}' targets "
                f"unknown host '{spec.host}'"))
        host = hosts["base"]["domaine"] if spec.host == "base" else hosts[recipe.name][spec.host]
        out.append(Check(recipe.name, spec.name, host, spec.path, spec.status,
                         expand(spec.json_), expand(dict(spec.headers)), expand(spec.contains)))
    return out


def _root_compose(slug: str, names: list[str]) -> bytes:
    lines = [
        "# Généré par kit-collab : un projet compose par commune, une inclusion par recette.",
        f"name: {escape.compose_value(slug)}",
        "include:",
        *[f"  - {escape.compose_value(n + '/compose.yaml')}" for n in names],
    ]
    return ("\n".join(lines) + "\n").encode()


def render_bundle(
    profile: Profile,
    recipes: RecipeSet,
    secrets: Secrets,
    allocated: dict[ports.Key, int] | None = None,
) -> Bundle:
    """Render every active recipe for this commune. Missing secrets are an error here:
    call ``ensure_secrets`` first (rendering itself draws no randomness)."""
    data = profile_data(profile)
    slug = profile.commune.code
    active = active_recipes(profile, recipes)
    allocated = allocated if allocated is not None else ports.allocate(port_requests(slug, active))
    hosts = hostnames(data, active)
    port_map: dict[str, dict[str, int]] = {}
    for recipe in active:
        bucket = port_map.setdefault(recipe.name, {})
        for spec in recipe.spec.ports:
            start = allocated[(slug, recipe.name, spec.name)]
            bucket[spec.name] = start
            bucket[f"{spec.name}_end"] = start + spec.size - 1
    missing = [f"{r.name}.{s.name}" for r in active for s in r.spec.secrets
               if not secrets.get(r.name, {}).get(s.name)]
    if missing:
        raise RenderError(tr(f"secrets manquants : {', '.join(missing)}",
                             f"missing secrets: {', '.join(missing)}"))
    shared = {
        "hosts": hosts,
        "secrets": {r.name: dict(secrets.get(r.name, {})) for r in active},
        "ports": port_map,
        "active": [r.name for r in active],
        "slug": slug,
        "proxy_network": constants.proxy_project(),
        "server_root": profile.serveur.racine,
    }
    files: list[BundleFile] = []
    tasks: list[Task] = []
    checks: list[Check] = []
    sites: list[str] = []
    commune_recipes: list[str] = []
    for recipe in active:
        env = environment(recipe)
        ctx = _context(data, recipe, shared)
        prefix = "proxy" if recipe.spec.scope == "server" else f"{recipe.name}"
        for spec in recipe.spec.files:
            if not recipe_true(recipe, data, spec.when):
                continue
            text = render_template(env, recipe, spec.template, ctx)
            if recipe.spec.proxy_site == spec.dest:
                sites.append(text)
                continue
            files.append(BundleFile(f"{prefix}/{spec.dest}", text.encode("utf-8"),
                                    spec.mode_int, recipe.name, spec.format, spec.owner))
        if recipe.spec.scope == "commune":
            commune_recipes.append(recipe.name)
        tasks.extend(_tasks(env, recipe, ctx))
        checks.extend(_checks(env, recipe, hosts, ctx))
    commune_files = [f for f in files if not f.path.startswith("proxy/")]
    commune_files.append(BundleFile("compose.yaml", _root_compose(slug, commune_recipes),
                                    0o644, "kit-collab", "compose"))
    commune_files.append(BundleFile("proxy/site.caddy", "\n".join(sites).encode("utf-8"),
                                    0o644, "kit-collab", "caddyfile"))
    # What account provisioning reads in the profile: a change of agents or services
    # municipaux alone makes a new release, so install provisions again (nothing mounts it).
    from kit_collab.plan import accounts

    commune_files.append(BundleFile("comptes.sha256", (accounts.digest(profile) + "\n").encode(),
                                    0o644, "kit-collab", "text"))
    # The manifest (tasks, recipe versions, checks) is part of what makes a release: a new
    # task or version alone gives a new id, so install runs it.
    unnamed = _manifest(slug, "", active, hosts, port_map, tasks, checks)
    release = _release_id([*commune_files, BundleFile("kit-collab.json", unnamed, 0o644,
                                                      "kit-collab", "json")])
    manifest = _manifest(slug, release, active, hosts, port_map, tasks, checks)
    commune_files.append(BundleFile("kit-collab.json", manifest, 0o644, "kit-collab", "json"))
    server_files = [f for f in files if f.path.startswith("proxy/")]
    rel = f"communes/{slug}/releases/{release}"
    placed = tuple(sorted(
        [*server_files, *[replace(f, path=f"{rel}/{f.path}") for f in commune_files]],
        key=lambda f: f.path))
    return Bundle(
        slug=slug, release=release, files=placed,
        recipes=tuple((r.name, r.spec.version) for r in active), hosts=hosts, ports=port_map,
        tasks=tuple(tasks), checks=tuple(checks),
        resources={"ram_mb": sum(r.spec.resources.ram_mb for r in active),
                   "disk_gb": sum(r.spec.resources.disk_gb for r in active),
                   "cpu": sum(r.spec.resources.cpu for r in active)},
    )


def _release_id(files: list[BundleFile]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.mode:o}\0".encode())
        digest.update(f.content)
    return "r-" + digest.hexdigest()[:12]


def _manifest(slug: str, release: str, active: list[Recipe], hosts: dict[str, dict[str, str]],
              port_map: dict[str, dict[str, int]], tasks: list[Task],
              checks: list[Check]) -> bytes:
    data = {
        "commune": slug,
        "release": release,
        "recettes": {r.name: r.spec.version for r in active},
        "services": {r.name: r.spec.services for r in active if r.spec.scope == "commune"},
        "hotes": hosts,
        "ports": port_map,
        "taches": [t.as_dict() for t in tasks],
        "controles": [c.as_dict() for c in checks],
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def write_bundle(bundle: Bundle, out: str) -> list[str]:
    """Write the bundle under ``out`` as it would sit under /opt/kit-collab, with ``current``
    pointing at the release. Returns the paths written."""
    written = []
    for f in bundle.files:
        target = os.path.join(out, f.path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(f.content)
        os.chmod(target, f.mode)
        written.append(f.path)
    current = os.path.join(out, "communes", bundle.slug, "current")
    if os.path.islink(current):
        os.unlink(current)
    os.symlink(f"releases/{bundle.release}", current)
    return written
