"""Jitsi: one account per agent on the internal XMPP domain, so that agents open meetings;
and the ``prosodyctl`` argument lists of each action (in the jitsi-prosody container)."""

from __future__ import annotations

from kit_collab.i18n import tr
from kit_collab.plan.accounts.common import (
    JITSI_DOMAIN,
    PROSODY_CONFIG,
    AccountAction,
    Command,
    ServiceState,
    act,
    disable_others,
)
from kit_collab.profile.model import Profile


def plan_jitsi(profile: Profile, state: ServiceState) -> list[AccountAction]:
    actions = []
    for agent in profile.utilisateurs:
        current = state.user(agent.identifiant)
        if current is None:
            actions.append(act("jitsi", "create-user", agent.identifiant, tr(
                "peut ouvrir une réunion", "can open a meeting")))
        elif not current.enabled:
            actions.append(act("jitsi", "enable", agent.identifiant,
                                tr("réactivé", "enabled again")))
    return actions + disable_others("jitsi", profile, state.users)


def prosody_commands(action: AccountAction, config: str = PROSODY_CONFIG) -> list[Command]:
    """``register USER meet.jitsi`` without a password argument: prosodyctl then reads it on
    its standard input (twice), so it never shows in a process list. Disabling sets a random
    password nobody keeps (Prosody 0.12 has no disabled state; 13 has one, but only through
    its running admin shell): the account stays, unusable, until it is enabled again with
    the agent's initial password."""
    argv = ("prosodyctl", "--config", config, "register", action.target, JITSI_DOMAIN)
    if action.kind in ("create-user", "enable"):
        return [Command(argv, password_of=action.target)]
    if action.kind == "disable":
        return [Command(argv, random_password=True)]
    raise ValueError(f"jitsi: unknown action {action.kind}")
