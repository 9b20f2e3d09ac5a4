"""Active recipes + secrets + port blocks -> Bundle: every file that lands on the server.

Pure and deterministic: the same inputs give the same bytes. Templates run in a sandboxed,
strict Jinja environment (an undefined name is an error) with one escaping filter per format.
Each rendered file is validated as it is rendered, and the structure later stages need
(services, sites, port blocks) is filled here, once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from kit_collab import constants, escape
from kit_collab.bundle import ports, structure, validate
from kit_collab.bundle.active import hostnames, profile_data, recipe_true
from kit_collab.bundle.jinja import environment, render_string, render_template
from kit_collab.bundle.model import (
    Bundle,
    BundleFile,
    Check,
    PortBlock,
    Secrets,
    Service,
    StunTarget,
    Task,
    published_dir,
)
from kit_collab.errors import RenderError
from kit_collab.i18n import tr
from kit_collab.profile.mail_model import secret_names
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import Recipe, dest_problem

# The bundle's types, for the callers that name them through this module.
__all__ = ["Bundle", "BundleFile", "Check", "Secrets", "Task", "accounts_digest", "render_bundle"]

KIT = "kit-collab"  # the owner of the files the engine writes itself
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")  # a commune's folder name (others are no commune)
SERVED = "proxy"  # the release's folder the shared proxy sees (published at each switch)


def _check_served(recipe: Recipe, dest: str, text: str,
                  secrets: dict[str, dict[str, str]]) -> None:
    """A file the internet-facing proxy serves holds no secret."""
    if any(v and v in text for bucket in secrets.values() for v in bucket.values()):
        raise RenderError(tr(
            f"recette {recipe.name} : {dest} est servi par le proxy mais contient un secret",
            f"recipe {recipe.name}: {dest} is served by the proxy but holds a secret"))


def _check_owner(recipe: Recipe, dest: str, owner: str | None) -> None:
    """Files of a release belong to root: a container that must read a file no one else
    may read gets it through its group ("0:991" and mode 0640), never by owning it (a
    container that owned its configuration could rewrite it)."""
    if owner is not None and owner.partition(":")[0] != "0":
        raise RenderError(tr(
            f"recette {recipe.name} : {dest} doit appartenir à root (owner « 0:<groupe> », "
            f"et non « {owner} ») : le conteneur le lit par son groupe",
            f"recipe {recipe.name}: {dest} must belong to root (owner '0:<group>', not "
            f"'{owner}'): the container reads it through its group"))


def accounts_digest(profile: Profile) -> str:
    """Fingerprint of everything provisioning reads in the profile (its agents, services
    municipaux, the commune's name, the default quota): put in the bundle, a change of
    accounts alone makes a new release, so install provisions again."""
    data = {"users": [u.model_dump(mode="json") for u in profile.utilisateurs],
            "services": [s.model_dump(mode="json") for s in profile.services_municipaux],
            "commune": profile.commune.nom, "quota": profile.services.nextcloud.quota_par_defaut}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


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
        label = f"recipe.yaml:{spec.name}"
        for item in ctx[spec.for_each] if spec.for_each else [None]:
            local = {**ctx, "item": item}
            argv = tuple(render_string(env, recipe, a, local, label) for a in spec.argv)
            task_env = tuple((k, render_string(env, recipe, v, local, label))
                             for k, v in sorted(spec.env.items()))
            description = spec.description.en if ctx.get("lang") == "en" else spec.description.fr
            tasks.append(Task(recipe.name, spec.name,
                              render_string(env, recipe, description, local, label),
                              spec.service, spec.user, argv, task_env))
    return tasks


def _checks(env: SandboxedEnvironment, recipe: Recipe, hosts: dict[str, dict[str, str]],
            ctx: dict[str, Any]) -> list[Check]:
    """The recipe's health checks; their expected texts may use the template context (e.g.
    the commune's homeserver address in Element's config.json)."""
    out = []

    def expand(value: Any, label: str) -> Any:
        if isinstance(value, str) and "{{" in value:
            return render_string(env, recipe, value, ctx, label)
        if isinstance(value, dict):
            return {k: expand(v, label) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, label) for v in value]
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
        label = f"recipe.yaml:health:{spec.name}"
        out.append(Check(recipe.name, spec.name, host, spec.path, spec.status,
                         expand(spec.json_, label), expand(dict(spec.headers), label),
                         expand(spec.contains, label)))
    return out


def _root_compose(slug: str, names: list[str]) -> bytes:
    lines = [
        "# Généré par kit-collab : un projet compose par commune, une inclusion par recette.",
        f"name: {escape.compose_value(slug)}",
        "include:",
        *[f"  - {escape.compose_value(n + '/compose.yaml')}" for n in names],
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class _Rendered:
    """What the recipes gave, gathered while rendering them one by one."""

    files: list[BundleFile] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    proxy_services: list[Service] = field(default_factory=list)
    site_texts: list[tuple[str, str]] = field(default_factory=list)  # (recipe, caddyfile)
    served: list[BundleFile] = field(default_factory=list)  # release-relative, under SERVED


def _render_recipe(recipe: Recipe, data: dict[str, Any], shared: dict[str, Any],
                   out: _Rendered) -> None:
    env = environment(recipe)
    ctx = _context(data, recipe, shared)
    prefix = "proxy" if recipe.spec.scope == "server" else recipe.name
    for spec in recipe.spec.files:
        if not recipe_true(recipe, data, spec.when):
            continue
        unsafe = dest_problem(spec.dest)
        if unsafe:
            raise RenderError(tr(f"recette {recipe.name} : dest {unsafe}",
                                 f"recipe {recipe.name}: dest {unsafe}"))
        text = render_template(env, recipe, spec.template, ctx)
        if spec.served:
            _check_served(recipe, spec.dest, text, shared["secrets"])
        parsed = validate.parse(recipe, spec.template, spec.format, text)
        if recipe.spec.proxy_site == spec.dest:
            out.site_texts.append((recipe.name, text))
            continue
        _check_owner(recipe, spec.dest, spec.owner)
        path = f"{SERVED}/{recipe.name}/{spec.dest}" if spec.served else f"{prefix}/{spec.dest}"
        if spec.format == "compose":
            found = structure.services(recipe.name, path.rsplit("/", 1)[0], parsed)
            if recipe.spec.scope == "commune":
                out.services += found
            else:
                out.proxy_services += found
        target = out.served if spec.served else out.files
        target.append(BundleFile(path, text.encode("utf-8"), spec.mode_int, recipe.name,
                                 spec.format, spec.owner))
    out.tasks += _tasks(env, recipe, ctx)
    out.checks += _checks(env, recipe, shared["hosts"], ctx)


def _missing_secrets(active: list[Recipe], secrets: Secrets) -> None:
    missing = [f"{r.name}.{s.name}" for r in active for s in r.spec.secrets
               if not secrets.get(r.name, {}).get(s.name)]
    if missing:
        raise RenderError(tr(f"secrets manquants : {', '.join(missing)}",
                             f"missing secrets: {', '.join(missing)}"))


def render_bundle(profile: Profile, active: list[Recipe], secrets: Secrets,
                  port_blocks: dict[str, dict[str, PortBlock]],
                  neighbours: Iterable[str] = (),
                  postgres_volumes: Mapping[str, str] | None = None) -> Bundle:
    """Render the active recipes (in order) for this commune. Missing secrets are an error
    here: rendering itself draws no randomness (``make.make_bundle`` completes them).
    ``neighbours``: the other communes of the server (the shared proxy joins their networks)."""
    _missing_secrets(active, secrets)
    data = profile_data(profile)
    slug = profile.commune.code
    hosts = hostnames(data, active)
    port_map = ports.template_view(port_blocks)
    root = profile.serveur.racine
    buckets = [r.name for r in active] + [n.split(".")[0] for n in secret_names(profile.messagerie)]
    shared = {"hosts": hosts, "secrets": {b: dict(secrets.get(b, {})) for b in buckets},
              "ports": port_map, "active": [r.name for r in active], "slug": slug,
              # The network between the proxy and this commune's services (its own), and
              # every commune network of the server, which the proxy joins.
              "proxy_network": constants.commune_network(slug),
              "proxy_networks": [constants.commune_network(s)
                                 for s in sorted({slug, *neighbours}) if SLUG.fullmatch(s)],
              "server_root": root, "site_root": f"{published_dir(root, slug)}/current",
              # compose key -> Docker volume of a migrated cluster (only those migrated)
              "volumes_postgres": {k: f"{slug}_{v}" for k, v in
                                   sorted((postgres_volumes or {}).items())}}
    out = _Rendered()
    for recipe in active:
        _render_recipe(recipe, data, shared, out)
    release, placed = _place(profile, active, out, hosts, port_map)
    sites = tuple(site for name, text in out.site_texts
                  for site in structure.sites(name, text, out.services))
    return Bundle(
        slug=slug, release=release, files=placed,
        recipes=tuple((r.name, r.spec.version) for r in active), hosts=hosts, ports=port_map,
        tasks=tuple(out.tasks), checks=tuple(out.checks),
        resources={"ram_mb": sum(r.spec.resources.ram_mb for r in active),
                   "disk_gb": sum(r.spec.resources.disk_gb for r in active),
                   "cpu": sum(r.spec.resources.cpu for r in active)},
        services=tuple(out.services), proxy_services=tuple(out.proxy_services), sites=sites,
        port_blocks=port_blocks, stun=_stun(active, hosts, port_map))


def _stun(active: list[Recipe], hosts: dict[str, dict[str, str]],
          port_map: dict[str, dict[str, int]]) -> tuple[StunTarget, ...]:
    try:
        return tuple(StunTarget(r.name, hosts[r.name][s.host], port_map[r.name][s.port])
                     for r in active for s in r.spec.stun)
    except KeyError as exc:
        raise RenderError(tr(f"sonde STUN : nom ou port inconnu {exc}",
                             f"STUN probe: unknown name or port {exc}")) from None


def _place(profile: Profile, active: list[Recipe], out: _Rendered,
           hosts: dict[str, dict[str, str]],
           port_map: dict[str, dict[str, int]]) -> tuple[str, tuple[BundleFile, ...]]:
    """The release id, and every file at its place under the server root."""
    slug = profile.commune.code
    commune_recipes = [r.name for r in active if r.spec.scope == "commune"]
    commune_files = [f for f in out.files if not f.path.startswith("proxy/")] + out.served
    commune_files.append(BundleFile("compose.yaml", _root_compose(slug, commune_recipes),
                                    0o644, KIT, "compose"))
    sites = "\n".join(text for _name, text in out.site_texts)
    commune_files.append(BundleFile("proxy/site.caddy", sites.encode("utf-8"), 0o644, KIT,
                                    "caddyfile"))
    # What account provisioning reads in the profile: a change of agents or services
    # municipaux alone makes a new release, so install provisions again (nothing mounts it).
    commune_files.append(BundleFile("comptes.sha256", (accounts_digest(profile) + "\n").encode(),
                                    0o644, KIT, "text"))
    # The manifest (tasks, recipe versions, checks) is part of what makes a release: a new
    # task or version alone gives a new id, so install runs it.
    unnamed = _manifest(slug, "", active, hosts, port_map, out)
    release = _release_id([*commune_files, BundleFile("kit-collab.json", unnamed, 0o644, KIT,
                                                      "json")])
    manifest = _manifest(slug, release, active, hosts, port_map, out)
    commune_files.append(BundleFile("kit-collab.json", manifest, 0o644, KIT, "json"))
    server_files = [f for f in out.files if f.path.startswith("proxy/")]
    rel = f"communes/{slug}/releases/{release}"
    placed = tuple(sorted(
        [*server_files, *[replace(f, path=f"{rel}/{f.path}") for f in commune_files]],
        key=lambda f: f.path))
    return release, placed


def _release_id(files: list[BundleFile]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.mode:o}\0{f.owner or ''}\0".encode())
        digest.update(f.content)
    return "r-" + digest.hexdigest()[:12]


def _manifest(slug: str, release: str, active: list[Recipe], hosts: dict[str, dict[str, str]],
              port_map: dict[str, dict[str, int]], out: _Rendered) -> bytes:
    data = {
        "commune": slug,
        "release": release,
        "recettes": {r.name: r.spec.version for r in active},
        "services": {r.name: r.spec.services for r in active if r.spec.scope == "commune"},
        "hotes": hosts,
        "ports": port_map,
        "taches": [t.as_dict() for t in out.tasks],
        "controles": [c.as_dict() for c in out.checks],
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
