"""Install one commune: preflight, deploy, health, the agents' sheets.

``install`` runs over an open transport; the single run and the fleet call it alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.check.findings import ERROR, OK, Finding
from kit_collab.i18n import count, tr
from kit_collab.operations import backup as backup_op
from kit_collab.operations import diagnose
from kit_collab.operations.report import NOTHING, OperationResult, Reporter
from kit_collab.operations.sheets import recovery_beside
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


@dataclass(frozen=True)
class InstallOptions:
    force: bool = False  # install despite preflight errors (written to the audit log)
    lock_wait: float = 0  # seconds to wait for another operation's lock
    wait: int = 300  # seconds for the services to become healthy
    sheets_dir: Path | None = None  # the agents' sheets; default fiches-<slug> beside profile
    sheets_always: bool = False  # write the sheets even when nothing changed
    without_backup: bool = False  # --sans-sauvegarde (written to the audit log and said)
    ask_secret: Callable[[str], str] | None = None  # backup credentials typed once (terminal)


@dataclass
class Installed(OperationResult):
    outcome: Any = None  # apply.deploy's outcome (plan, bundle, secrets: never printed)
    findings: list[Finding] = field(default_factory=list)
    sheets: str = ""  # the sentence saying where the sheets are (never a password)


def install(transport: Any, profile: Profile, profile_path: Path, recipes: RecipeSet,
            options: InstallOptions, reporter: Reporter) -> Installed:
    """Preflight, install, health checks, the agents' sheets."""
    from kit_collab.apply import deploy, interrupt
    from kit_collab.operations import upgrade

    state = upgrade.Upgrade(without_backup=options.without_backup)

    def preflight(facts: Any, bundle: Any, recipes: RecipeSet = recipes) -> str:
        note = upgrade.gate(state, recipes, facts, bundle, reporter,
                            lambda: upgrade.backup_before(transport, profile, reporter))
        findings, records = diagnose.preflight_and_records(
            profile, bundle, facts, transport=transport, recipes=recipes)
        if any(f.level != OK for f in findings):
            reporter.findings(findings, records)
        return " ".join(n for n in (note, diagnose.gate(findings, force=options.force)) if n)

    def deploy_with(chosen: RecipeSet) -> Any:
        return deploy.install(transport, profile, chosen, reporter=reporter,
                              lock_wait=options.lock_wait, wait_seconds=options.wait,
                              preflight=lambda f, b: preflight(f, b, chosen))

    # A first Ctrl-C stops between two steps (apply/interrupt.py), never inside one.
    with interrupt.section(profile.commune.code, str(profile_path)):
        outcome = upgrade.stepwise(deploy_with, recipes, state, reporter)
        if outcome.applied:
            outcome.warnings += [*state.notes, *upgrade.run_after(transport, profile, state,
                                                                  reporter)]
        sheets = ""
        if outcome.applied or options.sheets_always:
            sheets = write_sheets(profile_path, profile, outcome, options.sheets_dir)
        if outcome.applied:
            interrupt.check("sante", profile.commune.code)
    findings: list[Finding] = []
    if outcome.applied:
        findings = diagnose.health_after_deploy(transport, profile, outcome.bundle,
                                                options.wait, reporter)
    findings += backup_op.ensure(transport, profile, recipes, outcome.bundle, reporter,
                                 ask=options.ask_secret, secrets=outcome.secrets)
    sheets = " ".join(s for s in (sheets, recovery_beside(  # once the password is drawn
        transport, profile, profile_path, options.sheets_dir)) if s)
    return _installed(profile, outcome, findings, sheets)


def write_sheets(profile_path: Path, profile: Profile, outcome: Any,
                 folder: Path | None) -> str:
    """The agents' printable sheets (with their initial passwords) in a private folder beside
    the profile; returns the sentence to print (never a password)."""
    from kit_collab.handover import sheets

    if not profile.utilisateurs:
        return ""
    target = folder or sheets.default_folder(profile_path, profile)
    paths = sheets.write_sheets(profile, outcome.bundle.hosts, outcome.secrets, target)
    made = count(len(profile.utilisateurs), ("fiche", "fiches"), ("sheet", "sheets"))
    files = count(len(paths), ("fichier", "fichiers"), ("file", "files"))
    return tr(f"Fiches des agents : {made} et le guide d'accueil dans {target} "
              f"(dossier privé, {files}) — à imprimer, puis à ranger.",
              f"Agents' sheets: {made} and the welcome guide in {target} "
              f"(private folder, {files}) — print them, then put them away.")


def _installed(profile: Profile, outcome: Any, findings: list[Finding],
               sheets: str) -> Installed:
    plan, bundle = outcome.plan, outcome.bundle
    errors = [f for f in findings if f.level == ERROR]
    data = {"commune": profile.commune.code, "release": bundle.release,
            "precedente": plan.previous, "applique": outcome.applied,
            "fichiers": {"ajoutes": len(plan.added), "modifies": len(plan.changed),
                         "supprimes": len(plan.removed)},
            "redemarres": list(plan.restart),
            "adresses": {r: [f"https://{h}" for h in hosts.values()]
                         for r, hosts in bundle.hosts.items() if r != "base"},
            "fiches": sheets or None, "avertissements": list(outcome.warnings),
            "constats": [f.as_dict() for f in findings]}
    if not outcome.applied:
        return Installed(constants.EXIT_OK, NOTHING, tr("à jour", "up to date"), "", data,
                         outcome=outcome, findings=findings, sheets=sheets)
    summary = tr(f"version {plan.release} : {len(plan.added)}+{len(plan.changed)}~"
                 f"{len(plan.removed)}- fichiers",
                 f"release {plan.release}: {len(plan.added)}+{len(plan.changed)}~"
                 f"{len(plan.removed)}- files")
    code = constants.EXIT_FAILURE if errors else constants.EXIT_OK
    base = OperationResult.of(code, summary, errors[0].message if errors else "", data)
    return Installed(base.code, base.state, base.summary, base.message, base.data,
                     outcome=outcome, findings=findings, sheets=sheets)
