"""Provisioning as a plan: profile + existing accounts -> actions (pure, no server).

Also the exact commands each action becomes (occ and prosodyctl argument lists, Synapse
request specs), the read script's parser on sample outputs, and the apply script's handling
of secrets, checked as text.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from kit_collab.apply import provision
from kit_collab.apply.transport import CommandResult
from kit_collab.plan import accounts
from kit_collab.plan.accounts import AccountAction, Existing, Folder, Room, ServiceState, User
from kit_collab.profile.model import Profile

from .conftest import base_profile

DOMAIN = "saint-essai.fr"
KINDS = {"create-user", "set-name", "set-email", "set-quota", "set-admin", "enable",
         "disable", "create-group", "add-to-group", "remove-from-group", "create-folder",
         "set-folder-rights", "rename-folder", "create-room", "rename-room", "add-to-room",
         "set-room-admin"}


def _data() -> dict[str, Any]:
    data = base_profile()
    data["services_municipaux"] = [{"id": "accueil", "nom": "Accueil"},
                                   {"id": "urbanisme", "nom": "Urbanisme / Travaux"}]
    data["utilisateurs"] += [
        {"identifiant": "jagent", "nom": "Jean Agent", "email": "Jean@Saint-Essai.fr",
         "services_municipaux": ["accueil", "urbanisme"], "quota": "2 Go"},
        {"identifiant": "lpetit", "nom": "Léa Petit", "email": "lea@saint-essai.fr",
         "services_municipaux": ["urbanisme"]},
    ]
    return data


def _profile(data: dict[str, Any] | None = None) -> Profile:
    return Profile.model_validate(data or _data())


FRESH = Existing(
    nextcloud=ServiceState(users=(User("admin", "admin", groups=("admin",)),), groups=("admin",)),
    matrix=ServiceState(), jitsi=ServiceState())


def _kinds(actions: list[AccountAction]) -> list[tuple[str, str, str]]:
    return [(a.service, a.kind, a.target) for a in actions]


# ---------------------------------------------------------------------------------------------
# A small model of the three services: applying actions to an Existing


def simulate(existing: Existing, actions: list[AccountAction]) -> Existing:
    """What the services would report once ``actions`` ran (as the real commands do)."""
    states = {s: existing.of(s) for s in accounts.SERVICES}
    for action in actions:
        state = states[action.service]
        assert state is not None
        states[action.service] = _step(state, action)
    return Existing(**states)


def _user_step(state: ServiceState, action: AccountAction) -> ServiceState:
    users = {u.id: u for u in state.users}
    uid, kind = action.target, action.kind
    if kind == "create-user":
        email = action.get("email") if action.service != "jitsi" else None
        users[uid] = User(uid, action.get("name"), email and email.lower(),
                          admin=action.get("admin"), groups=tuple(action.get("groups", ())),
                          quota=action.get("quota"))
    else:
        user = users[uid]
        changes: dict[str, Any] = {
            "set-name": {"name": action.get("name")},
            "set-email": {"email": str(action.get("email")).lower()},
            "set-quota": {"quota": str(action.get("quota")).replace(" ", "")},
            "set-admin": {"admin": action.get("admin")},
            "enable": {"enabled": True, "deactivated": False},
            "disable": {"enabled": False},
            "add-to-group": {"groups": (*user.groups, action.get("group"))},
            "remove-from-group": {"groups": tuple(g for g in user.groups
                                                  if g != action.get("group"))},
        }[kind]
        users[uid] = replace(user, **changes)
    return replace(state, users=tuple(users.values()))


def _step(state: ServiceState, action: AccountAction) -> ServiceState:
    kind = action.kind
    if kind == "create-group":
        return replace(state, groups=(*state.groups, action.target))
    if kind in ("create-folder", "set-folder-rights", "rename-folder"):
        folders = list(state.folders or ())
        if kind == "create-folder":
            folders.append(Folder(len(folders) + 1, action.target,
                                  ((action.get("group"), accounts.FOLDER_MASK),)))
        else:
            i = next(i for i, f in enumerate(folders) if f.id == action.get("folder"))
            folders[i] = (replace(folders[i], name=action.target) if kind == "rename-folder"
                          else replace(folders[i], groups=tuple(sorted({
                              **dict(folders[i].groups),
                              action.get("group"): accounts.FOLDER_MASK}.items()))))
        return replace(state, folders=tuple(folders))
    if kind in ("create-room", "rename-room", "add-to-room", "set-room-admin"):
        rooms = {r.alias: r for r in state.rooms}
        alias = action.target if kind in ("create-room", "rename-room") else action.get("room")
        if kind == "create-room":
            rooms[alias] = Room(alias, f"!{alias}:x", action.get("name"))
        elif kind == "rename-room":
            rooms[alias] = replace(rooms[alias], name=action.get("name"))
        elif kind == "add-to-room":
            rooms[alias] = replace(rooms[alias], members=(*rooms[alias].members,
                                                          (action.target, "join")))
        else:
            rooms[alias] = replace(rooms[alias], admins=(*rooms[alias].admins, action.target))
        return replace(state, rooms=tuple(rooms.values()))
    return _user_step(state, action)


# ---------------------------------------------------------------------------------------------
# The plan


def test_first_run_creates_everything_in_order() -> None:
    actions = accounts.plan(_profile(), FRESH)
    assert {a.kind for a in actions} <= KINDS
    nextcloud = _kinds([a for a in actions if a.service == "nextcloud"])
    assert nextcloud == [
        ("nextcloud", "create-group", "accueil"), ("nextcloud", "create-group", "urbanisme"),
        ("nextcloud", "create-user", "mdupont"), ("nextcloud", "create-user", "jagent"),
        ("nextcloud", "create-user", "lpetit"),
        ("nextcloud", "create-folder", "Accueil"),
        ("nextcloud", "create-folder", "Urbanisme - Travaux")]
    marie = next(a for a in actions if a.service == "nextcloud" and a.target == "mdupont")
    assert marie.get("groups") == ("accueil", "admin") and marie.get("quota") == "10 GB"
    jean = next(a for a in actions if a.service == "nextcloud" and a.target == "jagent")
    assert jean.get("groups") == ("accueil", "urbanisme") and jean.get("quota") == "2 GB"
    matrix = _kinds([a for a in actions if a.service == "matrix"])
    assert matrix[:3] == [("matrix", "create-user", u) for u in ("mdupont", "jagent", "lpetit")]
    rooms = [(a.kind, a.target, a.get("room")) for a in actions
             if a.service == "matrix" and "room" in a.kind]
    assert rooms == [
        ("create-room", "accueil", None), ("add-to-room", "mdupont", "accueil"),
        ("add-to-room", "jagent", "accueil"), ("set-room-admin", "mdupont", "accueil"),
        ("create-room", "urbanisme", None), ("add-to-room", "jagent", "urbanisme"),
        ("add-to-room", "lpetit", "urbanisme"), ("set-room-admin", "mdupont", "urbanisme"),
        ("create-room", accounts.GENERAL_ROOM, None),
        ("add-to-room", "mdupont", accounts.GENERAL_ROOM),
        ("add-to-room", "jagent", accounts.GENERAL_ROOM),
        ("add-to-room", "lpetit", accounts.GENERAL_ROOM),
        ("set-room-admin", "mdupont", accounts.GENERAL_ROOM)]
    general = next(a for a in actions if a.kind == "create-room"
                   and a.target == accounts.GENERAL_ROOM)
    assert general.get("name") == "Saint-Essai"
    assert _kinds([a for a in actions if a.service == "jitsi"]) == [
        ("jitsi", "create-user", u) for u in ("mdupont", "jagent", "lpetit")]
    assert not any(a.removal for a in actions)


def test_rerun_after_the_actions_plans_nothing() -> None:
    profile = _profile()
    after = simulate(FRESH, accounts.plan(profile, FRESH))
    assert accounts.plan(profile, after) == []
    # Twice over, from a state that differed on every field: still converges in one run.
    changed = _data()
    changed["utilisateurs"][1].update(nom="Jean Agent-Martin", email="jean.agent@saint-essai.fr",
                                      role="administrateur", services_municipaux=["urbanisme"])
    changed["services_municipaux"][1]["nom"] = "Urbanisme"
    changed["commune"]["nom"] = "Saint-Essai-sur-Mer"
    later = Profile.model_validate(changed)
    actions = accounts.plan(later, after)
    assert actions and accounts.plan(later, simulate(after, actions)) == []


def test_matching_existing_state_gives_no_action() -> None:
    """Written out by hand, as the services report it (Nextcloud keeps e-mails lower-case,
    quotas as set; Matrix lists e-mails as threepids)."""
    nextcloud = ServiceState(
        users=(User("admin", "admin", groups=("admin",)),
               User("mdupont", "Marie Dupont", "marie@saint-essai.fr",
                    groups=("accueil", "admin"), quota="10 GB"),
               User("jagent", "Jean Agent", "jean@saint-essai.fr",
                    groups=("urbanisme", "accueil", "autre"), quota="2GB"),
               User("lpetit", "Léa Petit", "lea@saint-essai.fr", groups=("urbanisme",),
                    quota="10 gb")),
        groups=("admin", "accueil", "urbanisme", "autre"),
        folders=(Folder(3, "Accueil", (("accueil", 31),)),
                 Folder(4, "Urbanisme - Travaux", (("admin", 1), ("urbanisme", 31)))))
    members = (("mdupont", "join"), ("jagent", "invite"), ("lpetit", "join"))
    matrix = ServiceState(
        users=(User("mdupont", "Marie Dupont", "marie@saint-essai.fr", admin=True),
               User("jagent", "Jean Agent", "jean@saint-essai.fr,jean@perso.fr", admin=False),
               User("lpetit", "Léa Petit", "lea@saint-essai.fr", admin=False)),
        rooms=(Room("accueil", "!a:x", "Accueil", members, ("mdupont",)),
               Room("urbanisme", "!u:x", "Urbanisme / Travaux", members, ("mdupont",)),
               Room(accounts.GENERAL_ROOM, "!g:x", "Saint-Essai", members, ("mdupont",))))
    jitsi = ServiceState(users=(User("mdupont"), User("jagent"), User("lpetit")))
    assert accounts.plan(_profile(), Existing(nextcloud, matrix, jitsi)) == []


def test_removed_user_is_disabled_never_deleted() -> None:
    ancien = User("ancien", "Ancien Agent", "ancien@saint-essai.fr", groups=("accueil",))
    gone = User("parti", "Déjà parti", enabled=False)
    bot = User(accounts.MATRIX_BOT, "kit-collab", admin=True)
    existing = Existing(
        nextcloud=replace(FRESH.nextcloud, users=(*FRESH.nextcloud.users, ancien, gone)),
        matrix=ServiceState(users=(ancien, gone, bot)),
        jitsi=ServiceState(users=(User("ancien"), User("parti", enabled=False))))
    actions = accounts.plan(_profile(), existing)
    removals = [a for a in actions if a.removal]
    assert _kinds(removals) == [("nextcloud", "disable", "ancien"),
                                ("matrix", "disable", "ancien"),
                                ("jitsi", "disable", "ancien")]
    assert {a.kind for a in actions} <= KINDS  # there is no "delete" kind at all
    touched = {a.target for a in actions}
    assert not touched & {"admin", accounts.MATRIX_BOT, "parti"}
    assert accounts.occ_commands(removals[0])[0].argv == ("php", "occ", "user:disable", "ancien")
    (lock,) = accounts.synapse_requests(removals[1], DOMAIN)
    assert (lock.method, lock.body) == ("PUT", {"locked": True})
    # Back in the profile: enabled again, never created twice.
    data = _data()
    data["utilisateurs"].append({"identifiant": "parti", "nom": "Déjà parti",
                                 "email": "parti@saint-essai.fr"})
    back = [a for a in accounts.plan(Profile.model_validate(data), existing)
            if a.target == "parti"]
    assert [(a.service, a.kind) for a in back if a.kind in ("enable", "create-user")] == [
        ("nextcloud", "enable"), ("matrix", "enable"), ("jitsi", "enable")]


def test_unreadable_service_plans_nothing_for_it() -> None:
    """A service that did not answer is never taken for empty: no creations, and above all
    no disabling of every account."""
    existing = Existing(nextcloud=ServiceState(error="occ : exit code 1"),
                        matrix=ServiceState(error="Synapse ne répond pas"),
                        jitsi=ServiceState(users=(User("ancien"),)))
    assert _kinds(accounts.plan(_profile(), existing)) == [
        ("jitsi", "create-user", "mdupont"), ("jitsi", "create-user", "jagent"),
        ("jitsi", "create-user", "lpetit"), ("jitsi", "disable", "ancien")]
    assert accounts.plan(_profile(), Existing()) == []  # no service installed


def test_group_folders_get_their_group_with_full_rights() -> None:
    assert accounts.FOLDER_MASK == 31  # read 1, update 2, create 4, delete 8, share 16
    folders = (Folder(3, "Accueil", (("accueil", 1),)),  # read only: fixed
               Folder(4, "Urbanisme", (("urbanisme", 31),)))  # renamed service: folder kept
    state = replace(FRESH.nextcloud, groups=("admin", "accueil", "urbanisme"), folders=folders)
    actions = [a for a in accounts.plan(_profile(), replace(FRESH, nextcloud=state))
               if "folder" in a.kind]
    assert _kinds(actions) == [("nextcloud", "set-folder-rights", "Accueil"),
                               ("nextcloud", "rename-folder", "Urbanisme - Travaux")]
    assert [c.argv for c in accounts.occ_commands(actions[0])] == [
        ("php", "occ", "groupfolders:group", "3", "accueil", "write", "share", "delete")]
    assert [c.argv for c in accounts.occ_commands(actions[1])] == [
        ("php", "occ", "groupfolders:rename", "--", "4", "Urbanisme - Travaux")]
    # Unknown (the groupfolders app did not answer): nothing planned for folders.
    unknown = replace(state, folders=None)
    assert not [a for a in accounts.plan(_profile(), replace(FRESH, nextcloud=unknown))
                if "folder" in a.kind]


def test_administrators_are_in_admin_and_flagged() -> None:
    profile = _profile()
    after = simulate(FRESH, accounts.plan(profile, FRESH))
    nextcloud_admins = [u.id for u in after.nextcloud.users if "admin" in u.groups]
    assert nextcloud_admins == ["admin", "mdupont"]
    assert [u.id for u in after.matrix.users if u.admin] == ["mdupont"]
    # Léa promoted, Marie demoted: Léa joins admin; Marie leaves it (a removal, confirmed
    # before it applies) and loses the Matrix flag; Nextcloud's own admin is never touched.
    data = _data()
    data["utilisateurs"][0]["role"] = "agent"
    data["utilisateurs"][2]["role"] = "administrateur"
    actions = accounts.plan(Profile.model_validate(data), after)
    assert [(a.service, a.kind, a.target, a.get("group", a.get("admin"))) for a in actions
            if a.kind in ("add-to-group", "remove-from-group", "set-admin")] == [
        ("nextcloud", "remove-from-group", "mdupont", "admin"),
        ("nextcloud", "add-to-group", "lpetit", "admin"),
        ("matrix", "set-admin", "mdupont", False), ("matrix", "set-admin", "lpetit", True)]
    assert [a.removal for a in actions if a.kind.endswith("group")] == [True, False]


def test_quotas_compared_as_nextcloud_reads_them() -> None:
    profile = _profile()
    after = simulate(FRESH, accounts.plan(profile, FRESH))
    assert accounts.quota_key("10 GB") == accounts.quota_key("10gb") == "10gb"
    assert accounts.quota_key("illimité") == accounts.quota_key("none")
    data = _data()
    data["services"]["nextcloud"] = {"actif": True, "quota_par_defaut": "20 GB"}
    data["utilisateurs"][1]["quota"] = "illimité"
    actions = [a for a in accounts.plan(Profile.model_validate(data), after)
               if a.kind == "set-quota"]
    assert [(a.target, a.get("quota")) for a in actions] == [
        ("mdupont", "20 GB"), ("jagent", "none"), ("lpetit", "20 GB")]
    assert accounts.occ_commands(actions[1])[0].argv == (
        "php", "occ", "user:setting", "--", "jagent", "files", "quota", "none")


# ---------------------------------------------------------------------------------------------
# Command builders: exact argument lists and request specs


def _action(service: str, kind: str, target: str, **data: Any) -> AccountAction:
    return AccountAction(service, kind, target, "", tuple(sorted(data.items())))


def test_occ_argv_exact() -> None:
    create = _action("nextcloud", "create-user", "mdupont", name="Marie Dupont",
                     email="marie@saint-essai.fr", groups=("accueil", "admin"), quota="10 GB")
    commands = accounts.occ_commands(create)
    assert [c.argv for c in commands] == [
        ("php", "occ", "user:add", "--password-from-env", "--display-name=Marie Dupont",
         "--group=accueil", "--group=admin", "mdupont"),
        ("php", "occ", "user:setting", "--", "mdupont", "settings", "email",
         "marie@saint-essai.fr"),
        ("php", "occ", "user:setting", "--", "mdupont", "files", "quota", "10 GB")]
    assert (commands[0].password_env, commands[0].password_of) == ("OC_PASS", "mdupont")
    assert all(c.password_of is None for c in commands[1:])
    cases = {
        ("create-group", "accueil", (("name", "Accueil « x »"),)):
            [("group:add", "--display-name=Accueil « x »", "accueil")],
        ("set-name", "mdupont", (("name", "-Marie D."),)):
            [("user:setting", "--", "mdupont", "settings", "display_name", "-Marie D.")],
        ("set-email", "mdupont", (("email", "m@saint-essai.fr"),)):
            [("user:setting", "--", "mdupont", "settings", "email", "m@saint-essai.fr")],
        ("add-to-group", "mdupont", (("group", "urbanisme"),)):
            [("group:adduser", "urbanisme", "mdupont")],
        ("remove-from-group", "mdupont", (("group", "admin"),)):
            [("group:removeuser", "admin", "mdupont")],
        ("enable", "mdupont", ()): [("user:enable", "mdupont")],
        ("disable", "mdupont", ()): [("user:disable", "mdupont")],
        ("create-folder", "Urbanisme - Travaux", (("group", "urbanisme"),)):
            [("groupfolders:create", "--", "Urbanisme - Travaux"),
             ("groupfolders:group", accounts.FOLDER_ID, "urbanisme", "write", "share",
              "delete")],
    }
    for (kind, target, data), expected in cases.items():
        argvs = [c.argv for c in accounts.occ_commands(AccountAction("nextcloud", kind, target, "",
                                                              data))]
        assert argvs == [("php", "occ", *e) for e in expected], kind
    folder = accounts.occ_commands(_action("nextcloud", "create-folder", "A", group="a"))
    assert [c.capture for c in folder] == [True, False]


def test_synapse_request_specs() -> None:
    create = _action("matrix", "create-user", "mdupont", name="Marie Dupont",
                     email="marie@saint-essai.fr", admin=True)
    (put,) = accounts.synapse_requests(create, DOMAIN)
    assert put == accounts.Request(
        "PUT", "/_synapse/admin/v2/users/%40mdupont%3Asaint-essai.fr",
        {"displayname": "Marie Dupont", "admin": True,
         "threepids": [{"medium": "email", "address": "marie@saint-essai.fr"}]},
        password_of="mdupont")  # noqa: S106 (whose password: an identifier)
    assert "password" not in put.body  # added only when sent, from the secrets
    specs = {
        ("set-name", "jagent", (("name", "J"),)): ("PUT", {"displayname": "J"}),
        ("set-admin", "jagent", (("admin", False),)): ("PUT", {"admin": False}),
        ("disable", "jagent", ()): ("PUT", {"locked": True}),
        ("enable", "jagent", (("deactivated", False),)): ("PUT", {"locked": False}),
    }
    for (kind, target, data), (method, body) in specs.items():
        action = AccountAction("matrix", kind, target, "", data)
        (request,) = accounts.synapse_requests(action, DOMAIN)
        assert (request.method, request.body, request.password_of) == (method, body, None)
        assert request.path == "/_synapse/admin/v2/users/%40jagent%3Asaint-essai.fr"
    (react,) = accounts.synapse_requests(_action("matrix", "enable", "jagent",
                                                 deactivated=True), DOMAIN)
    assert (react.body, react.password_of) == ({"deactivated": False}, "jagent")
    (room,) = accounts.synapse_requests(_action("matrix", "create-room", "accueil",
                                                name="Accueil"), DOMAIN)
    assert (room.method, room.path) == ("POST", "/_matrix/client/v3/createRoom")
    assert room.body == {
        "preset": "private_chat", "visibility": "private", "name": "Accueil",
        "room_alias_name": "accueil",
        "initial_state": [{"type": "m.room.encryption", "state_key": "",
                           "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}
    (join,) = accounts.synapse_requests(_action("matrix", "add-to-room", "jagent",
                                                room="accueil"), DOMAIN)
    assert join == accounts.Request("POST", "/_synapse/admin/v1/join/%23accueil%3Asaint-essai.fr",
                                    {"user_id": "@jagent:saint-essai.fr"})
    (admin,) = accounts.synapse_requests(_action("matrix", "set-room-admin", "mdupont",
                                                 room=accounts.GENERAL_ROOM), DOMAIN)
    assert admin.path == ("/_synapse/admin/v1/rooms/%23tous_les_agents%3Asaint-essai.fr"
                          "/make_room_admin")
    (rename,) = accounts.synapse_requests(_action("matrix", "rename-room", "accueil",
                                                  name="Accueil", room_id="!r:x"), DOMAIN)
    assert (rename.method, rename.path, rename.body) == (
        "PUT", "/_matrix/client/v3/rooms/%21r%3Ax/state/m.room.name", {"name": "Accueil"})


def test_prosody_commands_take_the_password_on_stdin() -> None:
    argv = ("prosodyctl", "--config", "/run/prosody/config/prosody.cfg.lua", "register",
            "mdupont", "meet.jitsi")
    for kind in ("create-user", "enable"):
        (command,) = accounts.prosody_commands(_action("jitsi", kind, "mdupont"))
        assert (command.argv, command.password_of, command.password_env) == (
            argv, "mdupont", None)
    (disable,) = accounts.prosody_commands(_action("jitsi", "disable", "mdupont"))
    assert (disable.argv, disable.random_password, disable.password_of) == (argv, True, None)


# ---------------------------------------------------------------------------------------------
# Reading: the script and its parser


@dataclass
class FakeTransport:
    """Records the scripts; answers with canned output."""

    stdout: str = ""
    calls: list[tuple[str, bytes]] | None = None

    def run(self, script: str, *, stdin: bytes | None = None, timeout: float | None = None,
            **_kw: Any) -> CommandResult:
        self.calls = [*(self.calls or []), (script, stdin or b"")]
        return CommandResult(0, self.stdout.encode(), b"")


def _section(name: str, body: str, code: int = 0) -> str:
    return f"\n@@kc:begin {name}\n{body}\n@@kc:end {name} {code}\n"


NEXTCLOUD_USERS = {
    "admin": {"user_id": "admin", "display_name": "admin", "email": "", "enabled": True,
              "groups": ["admin"], "quota": "none", "last_seen": "2026-01-01T00:00:00+00:00",
              "user_directory": "/var/www/html/data/admin", "backend": "Database"},
    "mdupont": {"user_id": "mdupont", "display_name": "Marie Dupont",
                "email": "marie@saint-essai.fr", "enabled": True,
                "groups": ["accueil", "admin"], "quota": "10 GB"},
    "ancien": {"user_id": "ancien", "display_name": "Ancien", "email": "", "enabled": False,
               "groups": [], "quota": "default"},
}
FOLDERS_V22 = [{"id": 1, "quota": -3, "acl": False, "size": 0, "mountPoint": "Accueil",
                "groups": {"accueil": {"displayName": "Accueil", "permissions": 31,
                                       "type": "group"}},
                "groups_list": {"accueil": 31}, "manage": [], "rootId": 5, "storageId": 2},
               {"id": 2, "mountPoint": "Vide", "groups": [], "groups_list": []}]
FOLDERS_OLD = [{"id": 7, "mount_point": "Accueil", "groups": {"accueil": 7}}]
MATRIX = {"ok": True, "users": [
    {"id": "mdupont", "name": "Marie Dupont", "admin": True, "deactivated": False,
     "locked": False, "emails": ["marie@saint-essai.fr"]},
    {"id": "ancien", "name": None, "admin": False, "deactivated": True, "locked": False,
     "emails": []}],
    "rooms": [{"alias": "accueil", "room_id": "!a:saint-essai.fr", "name": "Accueil",
               "members": {"mdupont": "join", "kit-collab": "join"}, "admins": ["mdupont"]}]}


def _read_output(*, folders: Any = FOLDERS_V22, matrix: Any = MATRIX) -> str:
    return (_section("lock", "") + _section("nextcloud-users", json.dumps(NEXTCLOUD_USERS))
            + _section("nextcloud-groups", '{"admin": ["admin", "mdupont"], "accueil": []}')
            + _section("nextcloud-folders", json.dumps(folders))
            + _section("matrix", json.dumps(matrix))
            + _section("jitsi-users", "jean%2edupont.dat\nmdupont.dat\nancien.dat")
            + _section("jitsi-disabled", "ancien"))


def test_parse_read_sample_outputs() -> None:
    services = ("nextcloud", "matrix", "jitsi")
    existing, lock = provision.parse_read(_read_output(), services)
    assert lock == ""
    nextcloud = existing.nextcloud
    assert nextcloud is not None and nextcloud.error is None
    assert nextcloud.user("mdupont") == User("mdupont", "Marie Dupont", "marie@saint-essai.fr",
                                             groups=("accueil", "admin"), quota="10 GB")
    assert nextcloud.user("ancien").enabled is False and nextcloud.user("admin").email is None
    assert nextcloud.groups == ("admin", "accueil")
    assert nextcloud.folders == (Folder(1, "Accueil", (("accueil", 31),)), Folder(2, "Vide"))
    old, _ = provision.parse_read(_read_output(folders=FOLDERS_OLD), services)
    assert old.nextcloud.folders == (Folder(7, "Accueil", (("accueil", 7),)),)
    matrix = existing.matrix
    assert matrix.user("mdupont") == User("mdupont", "Marie Dupont", "marie@saint-essai.fr",
                                          admin=True)
    assert matrix.user("ancien") == User("ancien", admin=False, enabled=False, deactivated=True)
    assert matrix.rooms == (Room("accueil", "!a:saint-essai.fr", "Accueil",
                                 (("kit-collab", "join"), ("mdupont", "join")), ("mdupont",)),)
    assert [(u.id, u.enabled) for u in existing.jitsi.users] == [
        ("ancien", False), ("jean.dupont", True), ("mdupont", True)]


def test_parse_read_failures_are_service_errors() -> None:
    text = (_section("nextcloud-users", "Nextcloud is in maintenance mode", 1)
            + "@@kc:begin nextcloud-users.err\nmaintenance\n@@kc:end nextcloud-users.err 0\n"
            + _section("nextcloud-groups", "{}")
            + _section("matrix", json.dumps({"ok": False, "error": "not-admin",
                                             "detail": "('You are not a server admin',)"}), 1)
            + _section("jitsi-users", "", 3) + _section("lock", "alice@pc pid=1 install r-1"))
    existing, lock = provision.parse_read(text, ("nextcloud", "matrix", "jitsi"))
    assert "maintenance" in existing.nextcloud.error
    assert "administrateur" in existing.matrix.error and "UPDATE users" in existing.matrix.error
    assert "3" in existing.jitsi.error
    assert lock == "alice@pc pid=1 install r-1"
    missing, _ = provision.parse_read("", ("matrix",))
    assert missing.matrix.error and missing.nextcloud is None


def test_survey_reads_every_service_in_one_round_trip() -> None:
    profile = _profile()
    transport = FakeTransport(_read_output())
    secrets = {"matrix": {"bot_password": "bot-secret-123", "registration_shared_secret": "s3"}}
    found = provision.survey(transport, provision.target_for(profile), profile,
                             ("nextcloud", "matrix", "jitsi"), secrets)
    assert transport.calls is not None and len(transport.calls) == 1
    command, stdin = transport.calls[0]
    assert command == "sh -s"  # the script, with the service account's secret, on stdin
    script = stdin.decode()
    compose = ("docker compose -p saint-essai-fr -f "
               "/opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T")
    for args in ("user:list --info --output=json --limit=100000",
                 "group:list --output=json --limit=100000", "groupfolders:list --output=json"):
        assert f"{compose} -u 33 nextcloud php occ {args} </dev/null" in script
    assert f"{compose} -u 991 matrix-synapse python3 -c " in script
    assert f"{compose} -u 1000 jitsi-prosody sh -c " in script
    assert "/run/prosody/config/prosody.cfg.lua" in script
    for line in script.splitlines():
        if "bot-secret-123" in line:
            assert line.startswith("printf '%s' '{") and line.index("bot-secret-123") < \
                line.index(" | docker compose")
    # "ancien" is already disabled everywhere; "jean.dupont" only has a Jitsi account.
    assert [(a.service, a.target) for a in found.actions if a.kind == "disable"] == [
        ("jitsi", "jean.dupont")]


# ---------------------------------------------------------------------------------------------
# Applying: secrets, results


SECRETS = {"comptes": {"mdupont": "Pw-Marie-1", "jagent": "Pw-Jean-2", "lpetit": "Pw-Lea-3"},
           "matrix": {"bot_password": "bot-secret-123", "registration_shared_secret": "s3"}}


def test_apply_script_keeps_passwords_off_command_lines() -> None:
    profile = _profile()
    actions = accounts.plan(profile, FRESH)
    script, owners = provision.apply_script(provision.target_for(profile), actions, DOMAIN,
                                            SECRETS)
    for password in SECRETS["comptes"].values():
        lines = [line for line in script.splitlines() if password in line]
        # occ (OC_PASS in the command's environment), prosodyctl (printf into its stdin),
        # the Synapse runner (printf of its JSON input): nowhere else.
        assert len(lines) == 3, lines
        for line in lines:
            before, _, after = line.partition(" docker compose ")
            assert password in before and password not in after
            assert "OC_PASS=" in before or "printf " in before
    create = next(line for line in script.splitlines() if "user:add" in line)
    assert "-u 33 -e OC_PASS nextcloud php occ user:add --password-from-env " \
           "'--display-name=Marie Dupont' --group=accueil --group=admin mdupont" in create
    folder = [line for line in script.splitlines() if "groupfolders:" in line][:2]
    assert "kc_id=$(" in folder[0] and 'groupfolders:group "$kc_id" accueil write share ' \
        "delete" in folder[1]
    payload = json.loads(next(line for line in script.splitlines() if '"mode": "apply"' in line)
                         .split("printf '%s' ", 1)[1].split(" | ", 1)[0].strip("'"))
    requests = [r for a in actions if a.service == "matrix"
                for r in accounts.synapse_requests(a, DOMAIN)]
    assert [(s["method"], s["path"]) for s in payload["requests"]] == [
        (r.method, r.path) for r in requests]
    assert payload["requests"][0]["body"]["password"] == SECRETS["comptes"]["mdupont"]
    assert len(owners) == len(requests)


def test_apply_reports_each_action_and_holds_removals() -> None:
    profile = _profile()
    actions = [
        _action("nextcloud", "create-group", "accueil", name="Accueil"),
        _action("nextcloud", "disable", "ancien"),
        _action("matrix", "set-name", "mdupont", name="Marie"),
        _action("matrix", "create-user", "nouveau", name="N", email="n@saint-essai.fr",
                admin=False),
        _action("jitsi", "create-user", "jagent"),
    ]
    output = ("@@kc:action 0 ok\n@@kc:action 2 failed\n@@kc:log Pw-Jean-2 refused\n"
              + _section("matrix", json.dumps({"ok": True, "results": [
                  {"status": 200, "ok": True, "error": None}]})))
    transport = FakeTransport(output)
    outcome = provision.apply(transport, provision.target_for(profile), profile, actions,
                              SECRETS, confirm_disable=False)
    assert [(a.kind, a.target) for a in outcome.skipped] == [("disable", "ancien"),
                                                             ("create-user", "nouveau")]
    assert [(r.action.kind, r.action.target, r.ok) for r in outcome.results] == [
        ("create-group", "accueil", True), ("set-name", "mdupont", True),
        ("create-user", "jagent", False)]
    assert "Pw-Jean-2" not in outcome.results[2].log  # secrets are masked in the report
    assert any("ancien" in w and "--yes" in w for w in outcome.warnings)
    assert any("nouveau" in w and "install" in w for w in outcome.warnings)
    nothing = provision.apply(FakeTransport(), provision.target_for(profile), profile,
                              [actions[1]], SECRETS, confirm_disable=False)
    assert nothing.results == []


# ---------------------------------------------------------------------------------------------
# Who exists where (the `users` command's table)


def test_table_shows_who_exists_where() -> None:
    existing = Existing(
        nextcloud=replace(FRESH.nextcloud, users=(
            *FRESH.nextcloud.users,
            User("mdupont", "Marie", "marie@saint-essai.fr", groups=("accueil", "admin"),
                 quota="10 GB"), User("ancien", enabled=True))),
        matrix=ServiceState(error="Synapse ne répond pas"), jitsi=None)
    profile = _profile()
    actions = accounts.plan(profile, existing)
    rows = {r.identifiant: r.as_dict() for r in accounts.table(profile, existing, actions)}
    assert list(rows) == ["mdupont", "jagent", "lpetit", "ancien"]
    assert rows["mdupont"]["services"]["nextcloud"] == {"etat": "present",
                                                        "actions": ["set-name"]}
    assert rows["jagent"]["services"]["nextcloud"] == {"etat": "absent",
                                                       "actions": ["create-user"]}
    assert rows["ancien"]["dans_profil"] is False
    assert rows["ancien"]["services"]["nextcloud"]["actions"] == ["disable"]
    assert rows["mdupont"]["services"]["matrix"]["etat"] == "erreur"
    assert rows["mdupont"]["services"]["jitsi"]["etat"] == "non-installe"


def test_users_command_report_and_cells() -> None:
    from kit_collab.cli.commands import users

    profile = _profile()
    found = provision.Survey(FRESH, accounts.plan(profile, FRESH), "", ["attention"])
    data = users.report(profile, ("nextcloud", "matrix", "jitsi"), found)
    assert data["commune"] == "saint-essai-fr" and data["avertissements"] == ["attention"]
    assert {a["action"] for a in data["actions"]} <= KINDS
    assert json.loads(json.dumps(data)) == data
    assert users.cell("present", ()) == "[green]✓[/]"
    assert users.cell("absent", ("create-user",)) == "[yellow]à créer[/]"
    assert users.cell("present", ("disable",)) == "[red]à désactiver[/]"
    assert users.cell("present", ("set-name", "set-email")) == \
        "présent [yellow]→ nom, e-mail[/]"


def test_digest_follows_what_provisioning_reads() -> None:
    base = accounts.digest(_profile())
    assert base == accounts.digest(_profile())
    changed = _data()
    changed["utilisateurs"][2]["services_municipaux"] = ["accueil"]
    assert accounts.digest(Profile.model_validate(changed)) != base
    other = copy.deepcopy(_data())
    other["serveur"]["hote"] = "192.0.2.99"
    assert accounts.digest(Profile.model_validate(other)) == base


@pytest.mark.parametrize(("nom", "folder"), [("Urbanisme / Travaux", "Urbanisme - Travaux"),
                                             ("  État civil. ", "État civil"),
                                             ("L'Haÿ \"x\" $HOME #1", "L'Haÿ \"x\" $HOME #1")])
def test_folder_names(nom: str, folder: str) -> None:
    assert accounts.folder_name(nom) == folder
