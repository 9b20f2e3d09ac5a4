"""Provisioning on the server: read the accounts in one round trip, apply a plan in another.

The pure halves: plan/accounts/ (what exists -> what to do, and each action's exact
commands) and apply/scripts/ (the read and apply scripts with their parsers, the Synapse
runner). Here: the two round trips, and what install calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit_collab.apply.scripts import accounts_apply, accounts_read
from kit_collab.apply.scripts.accounts_apply import (
    ActionResult,
    PasswordDraw,
    initial_password,
    parse_apply,
)
from kit_collab.apply.scripts.accounts_read import DISABLED_FILE, parse_read, prosody_host_dir
from kit_collab.apply.scripts.sections import MARK
from kit_collab.apply.scripts.synapse import MATRIX_ERRORS
from kit_collab.apply.scripts.target import SERVICE_OF, Target
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.i18n import count, tr
from kit_collab.plan import accounts
from kit_collab.plan.accounts import AccountAction, Existing
from kit_collab.profile.model import Profile
from kit_collab.redact import remember

__all__ = ["DISABLED_FILE", "MARK", "MATRIX_ERRORS", "SERVICE_OF", "ActionResult", "Outcome",
           "Survey", "Target", "apply", "apply_script", "parse_apply", "parse_read",
           "prosody_host_dir", "provision", "services_of", "survey", "target_for"]


def target_for(profile: Profile) -> Target:
    return Target(profile.serveur.racine, profile.commune.code)


def services_of(names: Iterable[str]) -> tuple[str, ...]:
    """The services provisioning knows among these recipe names, in its order."""
    given = set(names)
    return tuple(s for s in accounts.SERVICES if s in given)


def _draw() -> str:
    """A random password nobody keeps (disabled Jitsi accounts), hidden from every output."""
    password = SYSTEM("mot-de-passe-jetable", 32, "alnum")
    remember([password])
    return password


def apply_script(target: Target, actions: Sequence[AccountAction], domain: str,
                 secrets: dict[str, dict[str, str]], draw: PasswordDraw = _draw
                 ) -> tuple[str, list[int]]:
    """accounts_apply.apply_script, its random passwords drawn here."""
    return accounts_apply.apply_script(target, actions, domain, secrets, draw)


@dataclass
class Survey:
    existing: Existing
    actions: list[AccountAction]
    lock: str = ""
    warnings: list[str] = field(default_factory=list)


def survey(transport: Any, target: Target, profile: Profile, services: Sequence[str],
           secrets: dict[str, dict[str, str]]) -> Survey:
    """What exists and what to do: one round trip, nothing changed."""
    domain = profile.matrix_server_name  # Matrix ids: @agent:<server_name>
    aliases = [alias for alias, _name, _members in accounts.rooms_wanted(profile)]
    script = accounts_read.read_script(target, services, domain, secrets, aliases)
    result = transport.run("sh -s", stdin=script.encode(), timeout=300)
    existing, lock = accounts_read.parse_read(result.stdout.decode("utf-8", "replace"), services)
    warnings = [tr(f"{svc} : comptes illisibles ({state.error}) ; rien n'y est changé",
                   f"{svc}: accounts unreadable ({state.error}); nothing changed there")
                for svc in services if (state := existing.of(svc)) and state.error]
    state = existing.nextcloud
    if state is not None and state.error is None and state.folders is None:
        warnings.append(tr("nextcloud : dossiers partagés illisibles (application groupfolders "
                           "active ?) ; ils ne sont pas créés",
                           "nextcloud: group folders unreadable (groupfolders app enabled?); "
                           "they are not created"))
    return Survey(existing, accounts.plan(profile, existing), lock, warnings)


@dataclass
class Outcome:
    results: list[ActionResult]
    skipped: list[AccountAction]  # removals not confirmed, creations without a password
    warnings: list[str]

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if not r.ok]


def _needs_password(action: AccountAction) -> bool:
    return action.kind == "create-user" or (action.kind == "enable" and (
        action.service == "jitsi" or bool(action.get("deactivated"))))


def apply(transport: Any, target: Target, profile: Profile, actions: Sequence[AccountAction],
          secrets: dict[str, dict[str, str]], *, confirm_disable: bool) -> Outcome:
    """Apply the actions in one round trip. Removals (disable, remove-from-group) only with
    ``confirm_disable``; an account whose initial password is unknown is not created."""
    warnings: list[str] = []
    skipped = [a for a in actions if a.removal and not confirm_disable]
    nopass = [a for a in actions if _needs_password(a) and not initial_password(secrets, a.target)]
    if skipped:
        warnings.append(tr(
            f"{count(len(skipped), ('retrait', 'retraits'), ('', ''))} en attente de "
            "confirmation ("
            f"{', '.join(sorted({a.target for a in skipped}))}) : kit-collab users <profil> "
            "--apply --yes", f"{count(len(skipped), ('', ''), ('removal', 'removals'))} awaiting "
            "confirmation ("
            f"{', '.join(sorted({a.target for a in skipped}))}): kit-collab users <profile> "
            "--apply --yes"))
    if nopass:
        warnings.append(tr(
            f"mot de passe initial inconnu pour {', '.join(sorted({a.target for a in nopass}))}"
            " : lancez « kit-collab install » pour le créer",
            f"initial password unknown for {', '.join(sorted({a.target for a in nopass}))}: "
            "run 'kit-collab install' to create it"))
    held = {id(a) for a in [*skipped, *nopass]}
    todo = [a for a in actions if id(a) not in held]
    if not todo:
        return Outcome([], skipped + nopass, warnings)
    remember(secrets.get("comptes", {}).values())
    script, owners = apply_script(target, todo, profile.matrix_server_name, secrets)
    result = transport.run("sh -s", stdin=script.encode(), timeout=1800)
    results = parse_apply(result.stdout.decode("utf-8", "replace"), todo, owners)
    warnings += [tr(f"{r.action.service} : {r.action.kind} {r.action.target} en échec : "
                    f"{r.log[-300:] or '?'}", f"{r.action.service}: {r.action.kind} "
                    f"{r.action.target} failed: {r.log[-300:] or '?'}")
                 for r in results if not r.ok]
    return Outcome(results, skipped + nopass, warnings)


def provision(transport: Any, profile: Profile, bundle: Any,
              secrets: dict[str, dict[str, str]], *, confirm_disable: bool,
              reporter: Any = None) -> list[str]:
    """What install calls after the post-install tasks: the agents' accounts and shared
    spaces brought to the profile (two round trips; one when nothing is to do). Returns the
    warnings (services that could not be read, failures, removals left for confirmation)."""
    services = services_of(name for name, _version in bundle.recipes)
    if not services:
        return []
    target = target_for(profile)
    found = survey(transport, target, profile, services, secrets)
    if reporter is not None:
        actions = count(len(found.actions), ("action", "actions"), ("action", "actions"))
        reporter.step(tr(f"Comptes et espaces partagés : {actions}",
                         f"Accounts and shared spaces: {actions}"))
    if not found.actions:
        return found.warnings
    outcome = apply(transport, target, profile, found.actions, secrets,
                    confirm_disable=confirm_disable)
    return found.warnings + outcome.warnings
