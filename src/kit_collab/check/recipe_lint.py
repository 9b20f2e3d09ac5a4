"""``kit-collab recipes lint``: rules as data, each with a code, a level and how to fix it.

Pure: reads recipe files and renders them with a built-in sample profile; no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jinja2
from jinja2 import meta, nodes

from kit_collab import escape
from kit_collab.bundle.active import is_true, profile_data
from kit_collab.bundle.jinja import CONTEXT_NAMES, environment
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.model import Bundle
from kit_collab.bundle.secrets import ACCOUNTS, digest_draw
from kit_collab.check import pin_lint
from kit_collab.check.findings import ERROR, WARNING, Finding, Level
from kit_collab.errors import InputError, KitCollabError, Problem
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import VERSION_RE, Recipe, RecipeSet, dest_problem

# A profile with every service on and every kind of value, to render each template once.
SAMPLE_PROFILE: dict[str, Any] = {
    "commune": {"nom": "Commune d'Essai", "domaine": "essai.example",
                "email_contact": "mairie@essai.example"},
    "serveur": {"hote": "192.0.2.10", "hebergeur": "essai", "pays": "FR",
                "certificats": {"mode": "acme", "serveur_acme": "https://acme.essai.example/dir"}},
    "services": {"nextcloud": {"collabora": True}, "matrix": {"federation": True}},
    "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
    "utilisateurs": [{"identifiant": "agent", "nom": "Agent Essai", "email": "agent@essai.example",
                      "role": "administrateur", "services_municipaux": ["accueil"]}],
}


@dataclass(frozen=True)
class Located:
    """A rule's message with the file and line it is about."""

    message: str
    file: str | None
    line: int | None


@dataclass(frozen=True)
class LintContext:
    recipes: RecipeSet
    context_names: frozenset[str]
    sample: Bundle | None
    sample_error: str | None
    sample_problems: tuple[Problem, ...] = ()
    today: date = field(default_factory=date.today)


RuleCheck = Callable[[Recipe, LintContext], list[str] | list[Located]]


@dataclass(frozen=True)
class Rule:
    code: str
    level: Level
    description: tuple[str, str]  # (fr, en)
    how_to_fix: tuple[str, str]
    check: RuleCheck


def _parse(recipe: Recipe, name: str) -> nodes.Template:
    env = environment(recipe)
    return env.parse(recipe.template_text(name))


def _templates(recipe: Recipe) -> list[tuple[str, str]]:
    """(template, format) of each file whose template exists and parses."""
    out: list[tuple[str, str]] = []
    for spec in recipe.spec.files:
        try:
            _parse(recipe, spec.template)
        except (OSError, jinja2.TemplateSyntaxError):
            continue
        out.append((spec.template, spec.format))
    return out


def _check_version(recipe: Recipe, _: LintContext) -> list[str]:
    if VERSION_RE.match(recipe.spec.version):
        return []
    return [tr(f"version « {recipe.spec.version} » : attendu <kit>+<amont>, ex. 1.0.0+34.0.2",
               f"version '{recipe.spec.version}': expected <kit>+<upstream>, e.g. 1.0.0+34.0.2")]


def _check_images(recipe: Recipe, _: LintContext) -> list[str]:
    bad = []
    for key, image in recipe.spec.images.items():
        name = image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        if "@sha256:" not in image and (not tag or tag == "latest" or not re.search(r"\d", tag)):
            bad.append(tr(f"image {key} « {image} » non épinglée",
                          f"image {key} '{image}' is not pinned"))
    return bad


def _check_health(recipe: Recipe, _: LintContext) -> list[str]:
    if recipe.spec.hostnames and not recipe.spec.health:
        return [tr("publie un nom d'hôte mais ne déclare aucun contrôle de santé",
                   "publishes a hostname but declares no health check")]
    return []


def _check_templates_parse(recipe: Recipe, _: LintContext) -> list[str]:
    out = []
    for spec in recipe.spec.files:
        try:
            _parse(recipe, spec.template)
        except OSError:
            out.append(tr(f"modèle absent : recipes/{recipe.name}/templates/{spec.template}",
                          f"missing template: recipes/{recipe.name}/templates/{spec.template}"))
        except jinja2.TemplateSyntaxError as exc:
            out.append(tr(f"{spec.template}:{exc.lineno} : syntaxe Jinja invalide ({exc.message})",
                          f"{spec.template}:{exc.lineno}: invalid Jinja syntax ({exc.message})"))
    return out


def _check_variables(recipe: Recipe, ctx: LintContext) -> list[str]:
    out = []
    for name, _fmt in _templates(recipe):
        unknown = meta.find_undeclared_variables(_parse(recipe, name)) - ctx.context_names
        for var in sorted(unknown):
            out.append(tr(f"{name} : variable « {var} » non définie",
                          f"{name}: variable '{var}' is not defined"))
    return out


def _unescaped(tree: nodes.Template, fmt: str) -> list[int]:
    allowed = escape.SAFE_FILTERS.get(fmt)
    if allowed is None:
        return []
    lines = []
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                continue
            ok = isinstance(child, nodes.Filter) and (
                child.name in allowed or child.name in escape.NUMERIC_FILTERS)
            if not ok:
                lines.append(child.lineno)
    return lines


def _check_escaping(recipe: Recipe, _: LintContext) -> list[str]:
    out = []
    for name, fmt in _templates(recipe):
        for line in _unescaped(_parse(recipe, name), fmt):
            filters = ", ".join(sorted(escape.SAFE_FILTERS[fmt]))
            out.append(tr(f"{name}:{line} : valeur insérée sans filtre d'échappement {fmt} "
                          f"({filters})",
                          f"{name}:{line}: value inserted without a {fmt} escaping filter "
                          f"({filters})"))
    return out


def _check_secret_modes(recipe: Recipe, _: LintContext) -> list[str]:
    out = []
    for spec in recipe.spec.files:
        try:
            used = meta.find_undeclared_variables(_parse(recipe, spec.template))
        except (OSError, jinja2.TemplateSyntaxError):
            continue
        if "secrets" in used and spec.mode_int & 0o007:
            out.append(tr(f"{spec.dest} contient des secrets mais est lisible par tous "
                          f"({spec.mode})",
                          f"{spec.dest} holds secrets but is world-readable ({spec.mode})"))
    return out


def _check_requires(recipe: Recipe, ctx: LintContext) -> list[str]:
    return [tr(f"dépend de « {n} », recette inconnue", f"requires '{n}', an unknown recipe")
            for n in recipe.spec.requires if n not in ctx.recipes.by_name]


def _check_health_hosts(recipe: Recipe, _: LintContext) -> list[str]:
    known = set(recipe.spec.hostnames) | {"base"}
    return [tr(f"contrôle « {h.name} » : hôte « {h.host} » non déclaré dans hostnames",
               f"check '{h.name}': host '{h.host}' not declared in hostnames")
            for h in recipe.spec.health if h.host not in known]


def _check_profile_paths(recipe: Recipe, _: LintContext) -> list[str]:
    data = profile_data(Profile.model_validate(SAMPLE_PROFILE))
    paths = [*recipe.spec.active_if, *recipe.spec.hostnames.values(),
             *[f.when for f in recipe.spec.files if f.when],
             *[h.when for h in recipe.spec.health if h.when],
             *[t.when for t in recipe.spec.tasks if t.when]]
    out = []
    for path in paths:
        try:
            is_true(data, path)
        except KeyError:
            out.append(tr(f"chemin de profil inconnu : « {path} »",
                          f"unknown profile path: '{path}'"))
    return out


def _check_renders(recipe: Recipe, ctx: LintContext) -> list[Located]:
    """The sample render's error, on the recipe whose template it names."""
    if not ctx.sample_error:
        return []
    mine = f"recipes/{recipe.name}/"
    located = [p for p in ctx.sample_problems if (p.file or "").startswith(mine)]
    if located:
        return [Located(ctx.sample_error, p.file, p.line) for p in located[:1]]
    if not any(p.file for p in ctx.sample_problems) and recipe.name in ctx.sample_error:
        return [Located(ctx.sample_error, None, None)]
    return []


def _check_compose_services(recipe: Recipe, ctx: LintContext) -> list[str]:
    if ctx.sample is None or recipe.name not in dict(ctx.sample.recipes):
        return []
    rendered = [s for s in (*ctx.sample.services, *ctx.sample.proxy_services)
                if s.recipe == recipe.name]
    if not any(spec.dest == "compose.yaml" for spec in recipe.spec.files):
        return [tr("aucun fichier compose.yaml rendu", "no compose.yaml rendered")]
    found = {s.name for s in rendered}
    declared = set(recipe.spec.services)
    out = []
    if found != declared:
        out.append(tr(f"services déclarés {sorted(declared)} ≠ services du compose {sorted(found)}",
                      f"declared services {sorted(declared)} ≠ compose services {sorted(found)}"))
    images = set(recipe.spec.images.values())
    for svc in rendered:
        if svc.image not in images:
            out.append(tr(f"service {svc.name} : image « {svc.image} » non déclarée",
                          f"service {svc.name}: image '{svc.image}' not declared"))
    # A task may run in a service of a recipe this one requires (Collabora configures Nextcloud).
    reachable = found | {s for need in recipe.spec.requires if need in ctx.recipes.by_name
                         for s in ctx.recipes[need].spec.services}
    for task in recipe.spec.tasks:
        if task.service not in reachable:
            out.append(tr(f"tâche « {task.name} » : service « {task.service} » absent",
                          f"task '{task.name}': service '{task.service}' missing"))
    return out


def _check_unique_services(recipe: Recipe, ctx: LintContext) -> list[str]:
    out = []
    for other in ctx.recipes:
        if other.name == recipe.name or other.spec.scope != recipe.spec.scope:
            continue
        for name in sorted(set(recipe.spec.services) & set(other.spec.services)):
            out.append(tr(f"service « {name} » aussi déclaré par « {other.name} »",
                          f"service '{name}' also declared by '{other.name}'"))
    return out


def _check_task_secrets(recipe: Recipe, ctx: LintContext) -> list[str]:
    if ctx.sample is None:
        return []
    out = []
    for task in ctx.sample.tasks:
        if task.recipe != recipe.name:
            continue
        for var, ref in task.env:
            owner, _, name = ref.partition(".")
            if owner == ACCOUNTS:
                continue
            spec = ctx.recipes.by_name.get(owner)
            if spec is None or name not in {s.name for s in spec.spec.secrets}:
                out.append(tr(f"tâche « {task.name} » : {var} renvoie au secret inconnu "
                              f"« {ref} »", f"task '{task.name}': {var} refers to the unknown "
                              f"secret '{ref}'"))
    return sorted(set(out))


def _check_dest_paths(recipe: Recipe, _: LintContext) -> list[str]:
    return [why for why in (dest_problem(spec.dest) for spec in recipe.spec.files) if why]


RULES: tuple[Rule, ...] = (
    Rule("KC001", ERROR, ("version au format <kit>+<amont>", "version is <kit>+<upstream>"),
         ("écrivez par ex. 1.0.0+34.0.2", "write e.g. 1.0.0+34.0.2"), _check_version),
    Rule("KC002", ERROR, ("images épinglées (jamais latest)", "images pinned (never latest)"),
         ("donnez une étiquette de version précise", "give an exact version tag"), _check_images),
    Rule("KC003", ERROR, ("un contrôle de santé par service publié",
                          "a health check for each published service"),
         ("ajoutez une entrée health:", "add a health: entry"), _check_health),
    Rule("KC004", ERROR, ("chaque modèle existe et se lit", "each template exists and parses"),
         ("créez ou corrigez le modèle", "create or fix the template"), _check_templates_parse),
    Rule("KC005", ERROR, ("chaque variable de modèle est définie",
                          "every template variable is defined"),
         ("utilisez commune, serveur, services, hosts, secrets, ports, images…",
          "use commune, serveur, services, hosts, secrets, ports, images…"), _check_variables),
    Rule("KC006", ERROR, ("chaque valeur insérée est échappée pour le format du fichier",
                          "every inserted value is escaped for the file's format"),
         ("terminez l'expression par le filtre du format, ex. {{ x | env }}",
          "end the expression with the format's filter, e.g. {{ x | env }}"), _check_escaping),
    Rule("KC007", ERROR, ("un fichier qui contient des secrets n'est pas lisible par tous",
                          "a file holding secrets is not world-readable"),
         ('mettez mode: "0600" (ou "0640" avec owner)', 'set mode: "0600" (or "0640" with owner)'),
         _check_secret_modes),
    Rule("KC008", ERROR, ("les dépendances existent", "dependencies exist"),
         ("corrigez requires:", "fix requires:"), _check_requires),
    Rule("KC009", ERROR, ("les contrôles visent des hôtes déclarés",
                          "checks target declared hosts"),
         ("utilisez une clé de hostnames ou base", "use a hostnames key or base"),
         _check_health_hosts),
    Rule("KC010", ERROR, ("les chemins de profil existent", "profile paths exist"),
         ("utilisez un chemin du schéma (kit-collab schema)",
          "use a path from the schema (kit-collab schema)"), _check_profile_paths),
    Rule("KC011", ERROR, ("la recette se rend avec un profil complet",
                          "the recipe renders with a full profile"),
         ("lisez le message : modèle et ligne", "read the message: template and line"),
         _check_renders),
    Rule("KC012", ERROR, ("services, images et tâches cohérents avec le compose",
                          "services, images and tasks match the compose file"),
         ("alignez services:, images: et le compose.yaml",
          "align services:, images: and compose.yaml"), _check_compose_services),
    Rule("KC013", ERROR, ("noms de services uniques entre recettes (un projet compose par "
                          "commune)", "service names unique across recipes (one compose "
                          "project per commune)"),
         ("préfixez les services par le nom de la recette",
          "prefix services with the recipe's name"), _check_unique_services),
    Rule("KC014", ERROR, ("les tâches ne renvoient qu'à des secrets déclarés",
                          "tasks refer only to declared secrets"),
         ("écrivez <recette>.<secret> d'un secret déclaré, ou comptes.<identifiant> pour le "
          "mot de passe initial d'un agent", "write <recipe>.<secret> of a declared secret, "
          "or comptes.<identifiant> for an agent's initial password"), _check_task_secrets),
    Rule("KC015", ERROR, ("chaque dest reste dans le dossier de la recette",
                          "each dest stays inside the recipe's folder"),
         ("écrivez un chemin relatif sans « .. », ex. config/app.yaml",
          "write a relative path without '..', e.g. config/app.yaml"), _check_dest_paths),
    Rule("KC016", ERROR, ("chaque image épinglée a sa date de publication amont",
                          "each pinned image has its upstream release date"),
         ("ajoutez released: {clé: AAAA-MM-JJ} lue dans les notes de version amont",
          "add released: {key: YYYY-MM-DD} read in the upstream release notes"),
         lambda r, _c: pin_lint.undated(r)),
    Rule("KC017", WARNING, ("épinglage récent (moins de 120 jours)", "recent pin (under 120 "
                            "days)"),
         ("relisez les notes de version amont ; passez au dernier correctif et mettez à jour "
          "released:", "read the upstream release notes again; move to the latest patch and "
          "update released:"), lambda r, c: pin_lint.stale(r, c.today)),
    Rule("KC018", ERROR, ("aucune image exposée à un avis critique déjà corrigé en amont",
                          "no image exposed to a critical advisory fixed upstream"),
         ("épinglez la version corrigée (ou plus récente)", "pin the fixed version (or newer)"),
         lambda r, _c: pin_lint.critical(r)),
    Rule("KC019", WARNING, ("aucune image exposée à un avis de sécurité déjà corrigé en amont",
                            "no image exposed to a security advisory fixed upstream"),
         ("épinglez la version corrigée (ou plus récente)", "pin the fixed version (or newer)"),
         lambda r, _c: pin_lint.lesser(r)),
)


def _sample(recipes: RecipeSet) -> tuple[Bundle | None, str | None, tuple[Problem, ...]]:
    """The sample profile's bundle (secrets from a fixed source: nothing random in a lint),
    or the render error with where it is."""
    profile = Profile.model_validate(SAMPLE_PROFILE)
    try:
        return make_bundle(profile, recipes, draw=digest_draw("lint")).bundle, None, ()
    except InputError as exc:
        return None, exc.message, tuple(exc.problems)
    except KitCollabError as exc:
        return None, exc.message, ()


def context_names() -> frozenset[str]:
    data = profile_data(Profile.model_validate(SAMPLE_PROFILE))
    return frozenset({*data, *CONTEXT_NAMES})


def lint(recipes: RecipeSet, today: date | None = None) -> list[Finding]:
    """Every rule on every recipe; ``today`` dates the pins' age (the machine's date)."""
    sample, error, problems = _sample(recipes)
    ctx = LintContext(recipes, context_names(), sample, error, problems,
                      today or date.today())
    findings = []
    for recipe in recipes:
        for rule in RULES:
            for found in rule.check(recipe, ctx):
                note = found if isinstance(found, Located) else Located(found, None, None)
                findings.append(Finding(rule.level, recipe.name, tr(*rule.description),
                                        note.message, tr(*rule.how_to_fix), code=rule.code,
                                        file=note.file, line=note.line))
    # Errors first, warnings (old pins) after: what blocks is read first.
    return sorted(findings, key=lambda f: f.level != ERROR)
