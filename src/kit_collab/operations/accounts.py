"""The agents' accounts of one commune: who exists where, what differs from the profile,
and (``apply``) the changes made. Removals (an account disabled, an agent taken out of a
group) wait for a confirmation; accounts are never deleted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kit_collab import constants
from kit_collab.errors import DeployError
from kit_collab.i18n import count, tr
from kit_collab.operations.report import FAILED, NOTHING, OK, OperationResult, Reporter
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet

# (survey, removals) -> confirmed? Asked only when removals are planned and not pre-confirmed.
ConfirmRemovals = Callable[[Any, list[Any]], bool]


@dataclass(frozen=True)
class AccountsOptions:
    apply: bool = False
    yes: bool = False  # removals confirmed in advance


@dataclass
class Accounts(OperationResult):
    survey: Any = None  # apply.provision.Survey
    applied: Any = None  # apply.provision's outcome when --apply ran


def report(profile: Profile, services: tuple[str, ...], found: Any,
           outcome: Any = None) -> dict[str, Any]:
    """Everything ``users`` shows, as data."""
    from kit_collab.plan import accounts

    rows = accounts.table(profile, found.existing, found.actions)
    data: dict[str, Any] = {
        "commune": profile.commune.code,
        "services": {svc: {"installe": svc in services,
                           "erreur": (state.error if (state := found.existing.of(svc)) else None)}
                     for svc in accounts.SERVICES},
        "comptes": [r.as_dict() for r in rows],
        "actions": [a.as_dict() for a in found.actions],
        "avertissements": list(found.warnings),
        "verrou": found.lock or None,
    }
    if outcome is not None:
        data["resultats"] = [{**r.action.as_dict(), "ok": r.ok, "journal": r.log}
                             for r in outcome.results]
        data["en_attente"] = [a.as_dict() for a in outcome.skipped]
        data["avertissements"] += outcome.warnings
    return data


def accounts(transport: Any, profile: Profile, recipes: RecipeSet, options: AccountsOptions,
             reporter: Reporter, confirm: ConfirmRemovals | None = None) -> Accounts:
    """Survey the accounts (two round trips); with ``options.apply`` apply the planned
    actions (one more)."""
    from kit_collab.apply import deploy, provision
    from kit_collab.bundle.active import active_recipes
    from kit_collab.plan import secrets_guard

    active = [r.name for r in active_recipes(profile, recipes)]
    reporter.step(tr("Lecture de l'état du serveur", "Reading the server's state"))
    facts = deploy.read_facts(transport, profile)
    if not facts.current:
        raise DeployError(tr(f"la commune {profile.commune.code} n'est pas installée sur "
                             "son serveur", f"commune {profile.commune.code} is not "
                             "installed on its server"),
                          hint=tr("lancez d'abord « kit-collab install »",
                                  "run 'kit-collab install' first"))
    secrets_guard.check_file(profile.serveur.racine, profile.commune.code, facts)
    deployed = set(facts.state.recipes or active)
    services = provision.services_of(n for n in active if n in deployed)
    target = provision.target_for(profile)
    found = provision.survey(transport, target, profile, services, facts.secrets)
    outcome = None
    if options.apply and found.actions:
        if found.lock:
            raise deploy.locked_error(found.lock, profile)
        removals = [a for a in found.actions if a.removal]
        confirmed = options.yes
        if removals and not confirmed and confirm is not None:
            confirmed = confirm(found, removals)
        outcome = provision.apply(transport, target, profile, found.actions,
                                  facts.secrets, confirm_disable=confirmed)
    return _accounts(profile, services, found, outcome)


def _accounts(profile: Profile, services: tuple[str, ...], found: Any,
              outcome: Any) -> Accounts:
    data = report(profile, services, found, outcome)
    unreadable = [svc for svc, v in data["services"].items() if v["erreur"]]
    failed = bool(outcome and outcome.failed) or bool(unreadable)
    if outcome is not None:
        done = sum(1 for r in outcome.results if r.ok)
        summary = count(done, ("action appliquée", "actions appliquées"),
                        ("action applied", "actions applied"))
    else:
        summary = count(len(found.actions), ("action prévue", "actions prévues"),
                        ("planned action", "planned actions"))
    message = tr(f"illisible : {', '.join(unreadable)}", f"unreadable: {', '.join(unreadable)}"
                 ) if unreadable else ""
    if failed:
        return Accounts(constants.EXIT_FAILURE, FAILED, summary,
                        message or tr("actions en échec", "failed actions"), data,
                        survey=found, applied=outcome)
    state = NOTHING if not found.actions else OK
    return Accounts(constants.EXIT_OK, state, summary, "", data, survey=found, applied=outcome)
