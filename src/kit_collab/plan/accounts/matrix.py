"""Matrix: one account per agent (administrators flagged), one private room per service with
its agents, and a room for the whole commune; and the Synapse requests of each action (HTTP
on the container's own loopback, as the kit-collab service account)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from kit_collab.i18n import tr
from kit_collab.plan.accounts.common import (
    AccountAction,
    ServiceState,
    act,
    disable_others,
    identity,
    rooms_wanted,
)
from kit_collab.profile.model import Profile


def plan_matrix(profile: Profile, state: ServiceState) -> list[AccountAction]:
    return (_matrix_users(profile, state) + _matrix_rooms(profile, state)
            + disable_others("matrix", profile, state.users))


def _matrix_users(profile: Profile, state: ServiceState) -> list[AccountAction]:
    actions: list[AccountAction] = []
    for agent in profile.utilisateurs:
        admin = agent.role == "administrateur"
        current = state.user(agent.identifiant)
        if current is None:
            actions.append(act("matrix", "create-user", agent.identifiant, tr(
                f"{agent.nom} <{agent.email}>{', administrateur' if admin else ''}",
                f"{agent.nom} <{agent.email}>{', administrator' if admin else ''}"),
                name=agent.nom, email=agent.email, admin=admin))
            continue
        if not current.enabled:
            actions.append(act("matrix", "enable", agent.identifiant, tr(
                "réactivé", "enabled again"), deactivated=current.deactivated))
        actions += identity("matrix", agent, current)
        if bool(current.admin) != admin:
            actions.append(act("matrix", "set-admin", agent.identifiant, tr(
                "administrateur" if admin else "n'est plus administrateur",
                "administrator" if admin else "no longer administrator"), admin=admin))
    return actions


def _matrix_rooms(profile: Profile, state: ServiceState) -> list[AccountAction]:
    """Each room, then its missing members (forced to join by the admin API: agents find
    their rooms without accepting invitations), then its administrators at level 100."""
    actions: list[AccountAction] = []
    admins = tuple(u.identifiant for u in profile.utilisateurs if u.role == "administrateur")
    for alias, name, members in rooms_wanted(profile):
        room = next((r for r in state.rooms if r.alias == alias), None)
        if room is None:
            actions.append(act("matrix", "create-room", alias, tr(
                f"salon privé « {name} »", f"private room '{name}'"), name=name))
        elif room.name != name:
            actions.append(act("matrix", "rename-room", alias, f"{room.name or '—'} → {name}",
                                name=name, room_id=room.room_id))
        for member in members:
            if room is None or room.membership(member) not in ("join", "invite", "ban"):
                actions.append(act("matrix", "add-to-room", member, tr(
                    f"membre du salon #{alias}", f"member of room #{alias}"), room=alias))
        for uid in admins:
            if room is None or uid not in room.admins:
                actions.append(act("matrix", "set-room-admin", uid, tr(
                    f"administrateur du salon #{alias}", f"administrator of room #{alias}"),
                    room=alias))
    return actions


@dataclass(frozen=True)
class Request:
    """One HTTP request to Synapse. ``password_of``: that agent's initial password is put in
    the body as ``password`` when it is sent (never in the plan)."""

    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    password_of: str | None = None


def user_id(local: str, domain: str) -> str:
    return f"@{local}:{domain}"


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def synapse_requests(action: AccountAction, domain: str) -> list[Request]:
    """The Synapse requests of one Matrix action: admin API for accounts and memberships,
    client API (as the service account) for creating and naming rooms."""
    uid, kind = action.target, action.kind
    account = f"/_synapse/admin/v2/users/{_q(user_id(uid, domain))}"
    email = [{"medium": "email", "address": action.get("email")}]
    if kind == "create-user":
        return [Request("PUT", account, {"displayname": action.get("name"),
                                         "admin": bool(action.get("admin")),
                                         "threepids": email}, password_of=uid)]
    if kind in ("set-name", "set-email", "set-admin", "disable"):
        body = {"set-name": {"displayname": action.get("name")}, "set-email": {
            "threepids": email}, "set-admin": {"admin": bool(action.get("admin"))},
            "disable": {"locked": True}}[kind]
        return [Request("PUT", account, body)]
    if kind == "enable":
        if action.get("deactivated"):  # Synapse wants a password to reactivate an account
            return [Request("PUT", account, {"deactivated": False}, password_of=uid)]
        return [Request("PUT", account, {"locked": False})]
    if kind == "create-room":
        return [Request("POST", "/_matrix/client/v3/createRoom", _room_body(action))]
    if kind == "rename-room":
        return [Request("PUT", f"/_matrix/client/v3/rooms/{_q(str(action.get('room_id')))}"
                        "/state/m.room.name", {"name": action.get("name")})]
    alias = f"#{action.get('room')}:{domain}"
    if kind == "add-to-room":
        return [Request("POST", f"/_synapse/admin/v1/join/{_q(alias)}",
                        {"user_id": user_id(uid, domain)})]
    if kind == "set-room-admin":  # power level 100, whatever the room version
        return [Request("POST", f"/_synapse/admin/v1/rooms/{_q(alias)}/make_room_admin",
                        {"user_id": user_id(uid, domain)})]
    raise ValueError(f"matrix: unknown action {kind}")


def _room_body(action: AccountAction) -> dict[str, Any]:
    """A private, encrypted room with its alias, created by the service account. Members and
    administrators come afterwards, one action each: power levels are granted through the
    admin API, which knows where each room version keeps its creators."""
    return {"preset": "private_chat", "visibility": "private", "name": action.get("name"),
            "room_alias_name": action.target,
            "initial_state": [{"type": "m.room.encryption", "state_key": "",
                               "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}
