"""Plan one commune: what an install would change on its server, changing nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit_collab import constants
from kit_collab.i18n import count, tr
from kit_collab.operations import upgrade as upgrade_op
from kit_collab.operations.report import NOTHING, OK, OperationResult, Reporter
from kit_collab.plan import identity
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


@dataclass
class Planned(OperationResult):
    plan: Any = None  # plan.changes.Plan
    upgrade: Any = None  # plan.upgrade.UpgradePlan: versions and steps


def plan(transport: Any, profile: Profile, recipes: RecipeSet, reporter: Reporter) -> Planned:
    """Read the server's state (one round trip) and compare it with the profile."""
    from kit_collab.apply import deploy

    reporter.step(tr("Lecture de l'état du serveur", "Reading the server's state"))
    facts = deploy.read_facts(transport, profile)
    result, bundle, _secrets = deploy.make_plan(profile, recipes, facts)
    steps = upgrade_op.view(recipes, facts, bundle)  # a refused jump raises here (exit 2)
    changes = result.changes()
    for change in changes:
        reporter.step(f"{change.action} {change.target} {change.detail}".strip())
    upgrade_op.say_plan(steps, reporter)
    data = {**result.as_dict(), "mise_a_niveau": steps.as_dict()}
    note = identity.first_install_note(profile, facts.state)
    if note:  # said before the first install: identifiers never change afterwards
        reporter.step(note)
        data["identifiants_matrix"] = note
    if result.noop:
        return Planned(constants.EXIT_OK, NOTHING, tr("à jour", "up to date"), "",
                       data, plan=result, upgrade=steps)
    return Planned(constants.EXIT_OK, OK, count(len(changes), ("changement", "changements"),
                                                ("change", "changes")), result.resume,
                   data, plan=result, upgrade=steps)
