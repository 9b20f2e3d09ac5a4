"""Status of one commune: deployed release, recipes, containers and their health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit_collab import constants
from kit_collab.i18n import tr
from kit_collab.operations import backup as backup_op
from kit_collab.operations.report import FAILED, OK, OperationResult, Reporter
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


@dataclass
class Status(OperationResult):
    pass


def status(transport: Any, profile: Profile, recipes: RecipeSet, reporter: Reporter) -> Status:
    """The server's facts and ``docker compose ps`` (one more round trip when installed).
    Not installed, or a container down: exit code 1."""
    from kit_collab.apply import deploy
    from kit_collab.apply.scripts import remote
    from kit_collab.plan import changes as plan_mod

    facts = deploy.read_facts(transport, profile)
    containers: list[dict[str, str]] = []
    if facts.current:
        ps = transport.run(remote.ps(profile.serveur.racine, profile.commune.code))
        containers = deploy.parse_ps(ps.stdout.decode("utf-8", "replace"))
    for c in containers:
        reporter.step(f"{c['service']} {c['etat']} {c['sante']}".strip())
    unfinished = facts.state.unfinished(facts.current)
    if unfinished:
        reporter.step(tr(f"Opération non terminée : {unfinished}",
                         f"Unfinished operation: {unfinished}"))
    pending = facts.state.pending
    data = {"commune": profile.commune.code, "release": facts.current or None,
            "operation_en_cours": pending.as_json() if pending else None,
            "non_termine": unfinished or None,
            "recettes": facts.state.recipes,
            "deploye_le": facts.state.deployed_at or None, "verrou": facts.lock or None,
            "conteneurs": containers,
            "derniere_sauvegarde": backup_op.last_backup(transport, profile)}
    if not facts.current:
        return Status(constants.EXIT_FAILURE, FAILED, "", unfinished or tr(
            "aucune version installée", "nothing installed"), data)
    oneshot = plan_mod.oneshot_services(deploy.desired(profile, recipes, facts)[0])
    bad = [c["service"] for c in containers if not deploy.is_healthy(c, oneshot)]
    if bad or unfinished:
        down = tr(f"en panne : {', '.join(bad)}", f"down: {', '.join(bad)}") if bad else ""
        then = tr("relancez « kit-collab install » pour terminer",
                  "run 'kit-collab install' again to finish")
        return Status(constants.EXIT_FAILURE, FAILED, facts.current, " ; ".join(
            m for m in (down, f"{unfinished} — {then}" if unfinished else "") if m), data)
    return Status(constants.EXIT_OK, OK, facts.current, "", data)
