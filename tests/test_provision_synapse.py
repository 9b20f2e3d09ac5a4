"""Matrix provisioning against a real Synapse (started by the test, SQLite, loopback).

The executor is provision's own: the read and apply scripts run through a LocalTransport,
the Synapse runner (the same standard-library program that runs in the container) sends the
request specs of accounts.synapse_requests over loopback HTTP. Only where it runs differs:
here instead of ``docker compose exec matrix-synapse``. The service account starts absent:
provisioning registers it, as a server admin, with the registration shared secret.
"""

from __future__ import annotations

import copy
import stat
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit_collab.apply import provision
from kit_collab.apply.transport import LocalTransport
from kit_collab.plan import accounts

from .provbed import DOMAIN, Synapse, local_target, profile_data, profile_of, running_synapse

pytestmark = pytest.mark.validators


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    with running_synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


def _target(server: Synapse) -> provision.Target:
    return local_target(server.tmp, synapse_url=server.url,
                        synapse_token_file=str(server.tmp / "bot.token"))


def _survey(server: Synapse, data: dict[str, Any]) -> provision.Survey:
    with LocalTransport() as transport:
        return provision.survey(transport, _target(server), profile_of(data), ("matrix",),
                                _secrets(server, data))


def _secrets(server: Synapse, data: dict[str, Any]) -> dict[str, dict[str, str]]:
    from .provbed import secrets_for

    return secrets_for(profile_of(data), server.secrets)


def _apply(server: Synapse, data: dict[str, Any], actions: list[accounts.AccountAction], *,
           confirm: bool) -> provision.Outcome:
    with LocalTransport() as transport:
        return provision.apply(transport, _target(server), profile_of(data), actions,
                               _secrets(server, data), confirm_disable=confirm)


def _provision(server: Synapse, data: dict[str, Any]) -> provision.Outcome:
    found = _survey(server, data)
    assert found.warnings == []
    outcome = _apply(server, data, found.actions, confirm=False)
    assert outcome.failed == [], [(r.action, r.log) for r in outcome.failed]
    return outcome


def _room_state(server: Synapse, alias: str) -> tuple[str, dict[str, Any]]:
    token = server.bot_token()
    quoted = urllib.parse.quote(f"#{alias}:{DOMAIN}", safe="")
    status, found = server.call("GET", f"/_matrix/client/v3/directory/room/{quoted}",
                                token=token)
    assert status == 200, found
    room = urllib.parse.quote(found["room_id"], safe="")
    status, state = server.call("GET", f"/_synapse/admin/v1/rooms/{room}/state", token=token)
    assert status == 200, state
    return found["room_id"], state


def _members(state: dict[str, Any]) -> dict[str, str]:
    return {e["state_key"]: e["content"]["membership"] for e in state["state"]
            if e["type"] == "m.room.member"}


def test_accounts_and_rooms_created_then_rerun_is_a_noop(synapse: Synapse) -> None:
    data = profile_data(matrix=True)
    first = _survey(synapse, data)
    kinds = [(a.kind, a.target) for a in first.actions]
    assert ("create-user", "mdupont") in kinds and ("create-user", "lpetit") in kinds
    assert [t for k, t in kinds if k == "create-room"] == ["accueil", "urbanisme",
                                                           accounts.GENERAL_ROOM]
    _provision(synapse, data)

    # The service account was registered as a server admin, and keeps its token (0600).
    token_file = synapse.tmp / "bot.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = synapse.bot_token()
    status, bot = synapse.call("GET", "/_synapse/admin/v2/users/%40kit-collab%3A" + DOMAIN,
                               token=token)
    assert status == 200 and bot["admin"] is True

    # Accounts: display names, e-mail, administrators flagged; each agent logs in with the
    # initial password kept in the secrets.
    secrets = _secrets(synapse, data)
    for agent in data["utilisateurs"]:
        uid = f"@{agent['identifiant']}:{DOMAIN}"
        status, user = synapse.call("GET", "/_synapse/admin/v2/users/" + urllib.parse.quote(
            uid, safe=""), token=token)
        assert status == 200, user
        assert user["displayname"] == agent["nom"]
        assert bool(user["admin"]) == (agent.get("role") == "administrateur")
        assert [t["address"] for t in user["threepids"]] == [agent["email"]]
        status, session = synapse.login(agent["identifiant"],
                                        secrets["comptes"][agent["identifiant"]])
        assert status == 200, session

    # Rooms: one per service with its agents, one for the whole commune; the service's
    # hostile name kept as is; the administrator at power level 100 in each.
    for alias, name, members in [("accueil", "Accueil", {"mdupont", "jagent"}),
                                 ("urbanisme", "Urbanisme & « Travaux »", {"jagent", "lpetit"}),
                                 (accounts.GENERAL_ROOM, "Saint-Essai",
                                  {"mdupont", "jagent", "lpetit"})]:
        _room_id, state = _room_state(synapse, alias)
        names = [e["content"]["name"] for e in state["state"] if e["type"] == "m.room.name"]
        assert names == [name]
        joined = {k.split(":")[0][1:] for k, v in _members(state).items() if v == "join"}
        assert members <= joined, (alias, joined)
        levels = next(e["content"] for e in state["state"] if e["type"] == "m.room.power_levels")
        assert levels["users"].get(f"@mdupont:{DOMAIN}") == 100
        encryption = [e for e in state["state"] if e["type"] == "m.room.encryption"]
        assert encryption and encryption[0]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"

    # Re-run: the same profile plans nothing, and its survey reads what the first run made.
    again = _survey(synapse, data)
    assert again.actions == [] and again.warnings == []
    assert {r.alias for r in again.existing.matrix.rooms} == {
        "accueil", "urbanisme", accounts.GENERAL_ROOM}
    assert synapse.bot_token() == token  # no new login: the kept token was used


def test_changes_are_updates_and_removed_user_is_locked_not_deleted(synapse: Synapse) -> None:
    data = profile_data(matrix=True)
    _provision(synapse, data)  # whatever the other test did: start from the profile

    changed = copy.deepcopy(data)
    changed["commune"]["nom"] = "Saint-Essai-sur-Mer"
    lea = changed["utilisateurs"][2]
    lea.update(nom="Léa Petit-Martin", email="lea.petit@saint-essai.fr", role="administrateur")
    changed["utilisateurs"] = [u for u in changed["utilisateurs"] if u["identifiant"] != "jagent"]
    found = _survey(synapse, changed)
    kinds = sorted((a.kind, a.target) for a in found.actions)
    assert kinds == sorted([
        ("rename-room", accounts.GENERAL_ROOM), ("set-name", "lpetit"),
        ("set-email", "lpetit"), ("set-admin", "lpetit"),
        ("set-room-admin", "lpetit"), ("set-room-admin", "lpetit"),  # urbanisme, commune
        ("set-room-admin", "lpetit"),  # accueil: an administrator gets every service room
        ("disable", "jagent")])
    assert not any(a.kind == "delete" for a in found.actions)

    # Without confirmation the removal waits; everything else is applied.
    outcome = _apply(synapse, changed, found.actions, confirm=False)
    assert outcome.failed == []
    assert [(a.kind, a.target) for a in outcome.skipped] == [("disable", "jagent")]
    secrets = _secrets(synapse, changed)
    assert synapse.login("jagent", secrets["comptes"]["jagent"])[0] == 200

    # Confirmed: locked, not deleted — the account and its data stay, the login is refused.
    pending = _survey(synapse, changed)
    assert [(a.kind, a.target) for a in pending.actions] == [("disable", "jagent")]
    assert _apply(synapse, changed, pending.actions, confirm=True).failed == []
    status, refused = synapse.login("jagent", secrets["comptes"]["jagent"])
    assert status in (401, 403) and refused["errcode"] == "M_USER_LOCKED", refused
    token = synapse.bot_token()
    status, user = synapse.call("GET", f"/_synapse/admin/v2/users/%40jagent%3A{DOMAIN}",
                                token=token)
    assert status == 200 and user["locked"] is True and user["deactivated"] is False
    _room_id, state = _room_state(synapse, "urbanisme")
    assert _members(state)[f"@jagent:{DOMAIN}"] == "join"  # history and rooms are kept
    assert _survey(synapse, changed).actions == []  # nothing left to do

    # Back in the profile: enabled again, with the password they had.
    back = _survey(synapse, data)
    assert ("enable", "jagent") in [(a.kind, a.target) for a in back.actions]
    assert _apply(synapse, data, back.actions, confirm=False).failed == []
    assert synapse.login("jagent", secrets["comptes"]["jagent"])[0] == 200
    assert [(a.kind, a.target) for a in _survey(synapse, data).actions
            if a.target == "jagent"] == []


def test_unreadable_synapse_plans_nothing(synapse: Synapse, tmp_path: Path) -> None:
    """A wrong service-account password: the survey says why and plans nothing for Matrix
    (never a mass disabling because a service did not answer)."""
    data = profile_data(matrix=True)
    secrets = _secrets(synapse, data)
    secrets["matrix"] = {**secrets["matrix"], "bot_password": "not-the-password"}
    target = local_target(tmp_path, synapse_url=synapse.url,
                          synapse_token_file=str(tmp_path / "none.token"))
    with LocalTransport() as transport:
        found = provision.survey(transport, target, profile_of(data), ("matrix",), secrets)
    assert found.actions == []
    assert found.existing.matrix is not None and found.existing.matrix.error
    assert "kit-collab" in found.warnings[0]
