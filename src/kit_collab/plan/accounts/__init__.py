"""The agents' accounts and shared spaces as a plan: profile + existing accounts -> actions.

Pure: no network, no clock, no randomness. ``plan`` compares what the profile asks for with
what each service reports (``Existing``) and returns the actions that close the gap, as
frozen dataclasses; existing state that matches gives no action, so a second run plans
nothing. An account that the profile no longer lists is *disabled*, never deleted, and only
once somebody confirms (``AccountAction.removal``). The command builders turn one action into
exact argument lists (Nextcloud ``occ``, Prosody ``prosodyctl``) or HTTP request specs
(Synapse admin and client APIs); the side effects live in apply/provision.py.

One module per service (nextcloud, matrix, jitsi: what it gets, and its commands), the
shared types in common, the `users` table in table.
"""

from __future__ import annotations

from kit_collab.plan.accounts.common import (
    ADMIN_GROUP,
    FOLDER_ID,
    FOLDER_MASK,
    FOLDER_RIGHTS,
    GENERAL_ROOM,
    JITSI_DOMAIN,
    MATRIX_BOT,
    NEXTCLOUD_ADMIN,
    PROSODY_CONFIG,
    PROTECTED,
    REMOVALS,
    SERVICES,
    AccountAction,
    Command,
    Existing,
    Folder,
    Room,
    ServiceState,
    User,
    agent_groups,
    agent_quota,
    digest,
    folder_name,
    quota_key,
    rooms_wanted,
)
from kit_collab.plan.accounts.jitsi import plan_jitsi, prosody_commands
from kit_collab.plan.accounts.matrix import Request, plan_matrix, synapse_requests, user_id
from kit_collab.plan.accounts.nextcloud import occ_commands, plan_nextcloud
from kit_collab.plan.accounts.table import Row, table
from kit_collab.profile.model import Profile

__all__ = ["ADMIN_GROUP", "FOLDER_ID", "FOLDER_MASK", "FOLDER_RIGHTS", "GENERAL_ROOM",
           "JITSI_DOMAIN", "MATRIX_BOT", "NEXTCLOUD_ADMIN", "PROSODY_CONFIG", "PROTECTED",
           "REMOVALS", "SERVICES", "AccountAction", "Command", "Existing", "Folder", "Request",
           "Room",
           "Row", "ServiceState", "User", "agent_groups", "agent_quota", "digest",
           "folder_name", "occ_commands", "plan", "prosody_commands", "quota_key",
           "rooms_wanted", "synapse_requests", "table", "user_id"]


def plan(profile: Profile, existing: Existing) -> list[AccountAction]:
    """Every action that brings the services to the profile, in the order they must run."""
    actions: list[AccountAction] = []
    if existing.nextcloud is not None and existing.nextcloud.error is None:
        actions += plan_nextcloud(profile, existing.nextcloud)
    if existing.matrix is not None and existing.matrix.error is None:
        actions += plan_matrix(profile, existing.matrix)
    if existing.jitsi is not None and existing.jitsi.error is None:
        actions += plan_jitsi(profile, existing.jitsi)
    return actions
