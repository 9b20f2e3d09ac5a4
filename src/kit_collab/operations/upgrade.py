"""Upgrades inside ``install``: the plan checked before anything changes, the data saved
first, Nextcloud stepped one major at a time, the apps updated afterwards.

``install`` (operations/install.py) calls ``gate`` from its preflight (before any change on
the server) and runs the deploy through ``stepwise``: when the plan needs an intermediate
image (a Nextcloud major of the recipe's path), the gate stops the deploy with
``NeedsIntermediate`` before anything changed, ``stepwise`` installs that release first
(a whole install: snapshot, switch, health, undone on failure), then tries again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kit_collab.apply import pg_install
from kit_collab.errors import KitCollabError
from kit_collab.i18n import tr
from kit_collab.plan import upgrade as plan_upgrade
from kit_collab.plan.upgrade import NC_APPS, Step, UpgradePlan
from kit_collab.recipes.load import RecipeSet

MAX_STEPS = 10  # intermediate releases in one install (a path of majors is shorter)
BACKUP_HOOK = "kit_collab.operations.backup"  # its before_upgrade(transport, profile, reporter)


class NeedsIntermediate(Exception):  # control flow, never shown to a person
    """Raised by the gate, before any change, when an intermediate release must come first."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.image)
        self.step = step


@dataclass
class Upgrade:
    """What the upgrade saw and did during one install (filled by ``gate``)."""

    without_backup: bool = False  # --sans-sauvegarde: written to the audit log and said
    first: UpgradePlan | None = None  # the plan as seen before the first change
    done: list[str] = field(default_factory=list)  # intermediate images installed
    notes: list[str] = field(default_factory=list)


def deployed_images(facts: Any) -> dict[str, str]:
    """Service -> image deployed: the running compose files first, state.json's record for
    the services it cannot read."""
    return {**facts.state.images, **facts.images}


def view(recipes: RecipeSet, facts: Any, bundle: Any) -> UpgradePlan:
    """The upgrade plan from the server's facts to the bundle (raises UpgradeRefused), with
    the lines saying how each PostgreSQL major is migrated (apply/pg_install.py)."""
    result = plan_upgrade.plan(recipes, plan_upgrade.wanted_of(bundle), deployed_images(facts))
    return replace(result, notes=tuple(pg_install.said(pg_install.planned(bundle, recipes,
                                                                          facts))))


def with_image(recipes: RecipeSet, step: Step) -> RecipeSet:
    """The recipes with the image of ``step``'s service set to the step's image."""
    recipe = recipes[step.recipe]
    key = next(k for k, p in recipe.spec.chemin_de_mise_a_niveau.items()
               if p.service == step.service)
    spec = recipe.spec.model_copy(update={"images": {**recipe.spec.images, key: step.image}})
    changed = replace(recipe, spec=spec)
    return replace(recipes, recipes=tuple(changed if r.name == recipe.name else r
                                          for r in recipes))


def without_data(recipes: RecipeSet) -> RecipeSet:
    """The recipes with no ``donnees``: no snapshot is taken (--sans-sauvegarde)."""
    return replace(recipes, recipes=tuple(
        replace(r, spec=r.spec.model_copy(update={"donnees": []})) for r in recipes))


def backup_before(transport: Any, profile: Any, reporter: Any) -> str:
    """HOOK for the backups (issue 16): when the profile has a ``sauvegardes:`` destination,
    a backup to it is wanted before a stateful upgrade. The backups' module provides
    ``before_upgrade(transport, profile, reporter) -> str`` (a note); until it exists, the
    upgrade relies on the local pre-switch snapshot alone and says so."""
    if getattr(profile, "sauvegardes", None) is None:
        return ""
    try:
        hook: Callable[[Any, Any, Any], str] | None = getattr(
            importlib.import_module(BACKUP_HOOK), "before_upgrade", None)
    except ImportError:
        hook = None
    if hook is None:
        return tr("sauvegarde distante non disponible dans cette version : seul l'instantané "
                  "local est pris", "remote backup not available in this version: only the "
                  "local snapshot is taken")
    return hook(transport, profile, reporter)


def say_plan(result: UpgradePlan, reporter: Any) -> None:
    for version in result.versions:
        if version.outdated:
            fixes = tr(f" (correctifs de sécurité : {', '.join(version.security)})",
                       f" (security fixes: {', '.join(version.security)})") \
                if version.security else ""
            reporter.step(f"{version.service} : {version.text()}{fixes}")
    for step in result.steps:
        what = " ".join(w for w in (step.kind, step.service, step.image) if w)
        reporter.step(tr(f"Étape {what} : {step.risk} (~{step.minutes} min)",
                         f"Step {what}: {step.risk} (~{step.minutes} min)"))
    for line in result.notes:  # how each PostgreSQL major is migrated
        reporter.step(line)


def gate(state: Upgrade, recipes: RecipeSet, facts: Any, bundle: Any, reporter: Any,
         backup: Callable[[], str]) -> str:
    """Before any change: the plan (refusals raise: an older major too; a newer PostgreSQL
    major is migrated by install, apply/pg_install.py, its steps said here), the next
    intermediate release (raises NeedsIntermediate), the backup wanted; returns the note for
    the audit log."""
    result = view(recipes, facts, bundle)
    if state.first is None:
        state.first = result
        say_plan(result, reporter)
    if result.intermediate:
        raise NeedsIntermediate(result.intermediate[0])
    if not result.stateful:
        return ""
    if state.without_backup:
        said = tr("--sans-sauvegarde : mise à niveau SANS instantané des données ni "
                  "sauvegarde ; pas de retour possible des données en cas d'échec",
                  "--sans-sauvegarde: upgrade WITHOUT data snapshot or backup; no way back "
                  "for the data on failure")
        reporter.step(said)
        state.notes.append(said)
        return "sans-sauvegarde"
    note = backup()
    if note:
        reporter.step(note)
        state.notes.append(note)
    return ""


def stepwise(install: Callable[[RecipeSet], Any], recipes: RecipeSet, state: Upgrade,
             reporter: Any) -> Any:
    """``install(recipes)`` (a whole deploy), preceded by each intermediate release the gate
    asks for; an intermediate that fails stops here (it was undone by its own deploy)."""
    base = without_data(recipes) if state.without_backup else recipes
    try:
        for _ in range(MAX_STEPS):
            try:
                return install(base)
            except NeedsIntermediate as need:
                reporter.step(tr(f"Étape intermédiaire : {need.step.service} "
                                 f"{need.step.image}", f"Intermediate step: "
                                 f"{need.step.service} {need.step.image}"))
                install(with_image(base, need.step))
                state.done.append(need.step.image)
        return install(base)
    except KitCollabError as exc:
        if state.done:  # said: the commune runs (healthy) the last intermediate release
            exc.hint = " ; ".join(h for h in (tr(
                ("étape intermédiaire réussie et en place : " if len(state.done) == 1 else
                 "étapes intermédiaires réussies et en place : ") + ", ".join(state.done),
                "intermediate steps done and running: " + ", ".join(state.done)),
                exc.hint) if h)
        raise


def after_steps(state: Upgrade) -> list[Step]:
    """The steps to run once the final release is healthy (the apps of a new major)."""
    first = state.first
    return [s for s in first.steps if s.kind == NC_APPS] if first else []


def run_after(transport: Any, profile: Any, state: Upgrade, reporter: Any) -> list[str]:
    """``occ app:update --all`` and ``occ db:add-missing-indices`` after a Nextcloud major;
    warnings for those that failed (the release stays: it is healthy)."""
    from kit_collab.apply.runner import run
    from kit_collab.apply.scripts import tasks as tasks_script
    from kit_collab.bundle.model import Task

    tasks: list[tuple[Task, dict[str, str]]] = [
        (Task(s.recipe, f"apres-{i}", " ".join(c), s.service, s.user, c, ()), {})
        for s in after_steps(state) for i, c in enumerate(s.commands)]
    if not tasks:
        return []
    reporter.step(tr("Après la mise à niveau : " + " ; ".join(t.description for t, _ in tasks),
                     "After the upgrade: " + "; ".join(t.description for t, _ in tasks)))
    script = tasks_script.tasks_script(profile.serveur.racine, profile.commune.code, tasks)
    result = run(transport, "sh -s", stdin=script.encode(), timeout=3600)
    failed = tasks_script.failed_tasks(result.stdout.decode("utf-8", "replace"))
    return [tr(f"« {tasks[i][0].description} » en échec : à relancer à la main",
               f"'{tasks[i][0].description}' failed: run it again by hand")
            for i in failed if i < len(tasks)]
