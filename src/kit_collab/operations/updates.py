"""What is out of date in one commune: per service, the deployed upstream version and the
one this kit-collab would install, and which updates carry security fixes (from the
advisories recorded in the recipes: no network). Read-only: one round trip for the facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit_collab import constants
from kit_collab.i18n import count, tr
from kit_collab.operations.report import NOTHING, OK, OperationResult, Reporter
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


@dataclass
class Updates(OperationResult):
    pass


def versions(recipes: RecipeSet, facts: Any, bundle: Any) -> list[dict[str, Any]]:
    """Every service's versions as the JSON report gives them."""
    from kit_collab.operations.upgrade import deployed_images
    from kit_collab.plan import upgrade as plan_upgrade

    return [v.as_dict() for v in plan_upgrade.versions(
        recipes, plan_upgrade.wanted_of(bundle), deployed_images(facts))]


def updates(transport: Any, profile: Profile, recipes: RecipeSet,
            reporter: Reporter) -> Updates:
    """The commune's versions; "ok" (something to update) or "rien à faire"."""
    from kit_collab.apply import deploy

    reporter.step(tr("Lecture de l'état du serveur", "Reading the server's state"))
    facts = deploy.read_facts(transport, profile)
    bundle = deploy.desired(profile, recipes, facts)[0]
    seen = versions(recipes, facts, bundle)
    late = [v for v in seen if v["deploye"] and not v["a_jour"]]
    fixes = sorted({cve for v in late for cve in v["securite"]})
    for v in late:
        reporter.step(v["texte"] + (f" [{', '.join(v['securite'])}]" if v["securite"] else ""))
    data = {"commune": profile.commune.code, "installee": bool(facts.current),
            "a_mettre_a_jour": [v["service"] for v in late], "correctifs_securite": fixes,
            "versions": seen}
    if not facts.current:
        return Updates(constants.EXIT_OK, NOTHING, tr("non installée", "not installed"), "",
                       data)
    if not late:
        return Updates(constants.EXIT_OK, NOTHING, tr("à jour", "up to date"), "", data)
    summary = tr(f"{count(len(late), ('service', 'services'), ('', ''))} à mettre à jour",
                 f"{count(len(late), ('', ''), ('service', 'services'))} to update") + (
        ", " + count(len(fixes), ("correctif de sécurité", "correctifs de sécurité"),
                     ("security fix", "security fixes")) if fixes else "")
    message = ", ".join(v["texte"] for v in late)
    return Updates(constants.EXIT_OK, OK, summary, message, data)
