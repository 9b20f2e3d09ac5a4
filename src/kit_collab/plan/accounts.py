"""The agents' accounts and shared spaces as a plan: profile + existing accounts -> actions.

Pure: no network, no clock, no randomness. ``plan`` compares what the profile asks for with
what each service reports (``Existing``) and returns the actions that close the gap, as
frozen dataclasses; existing state that matches gives no action, so a second run plans
nothing. An account that the profile no longer lists is *disabled*, never deleted, and only
once somebody confirms (``Action.removal``). The command builders turn one action into
exact argument lists (Nextcloud ``occ``, Prosody ``prosodyctl``) or HTTP request specs
(Synapse admin and client APIs); the side effects live in provision.py.

What each service gets:
- Nextcloud: one user per agent (display name, e-mail, quota, groups), one group per service
  municipal, one group folder per service with read, write, share and delete for its group,
  administrators in ``admin``.
- Matrix: one account per agent (administrators flagged), one private room per service with
  its agents, and a room for the whole commune.
- Jitsi: one account per agent on the internal XMPP domain, so that agents open meetings.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kit_collab.i18n import tr
from kit_collab.profile.model import Profile, Utilisateur

SERVICES = ("nextcloud", "matrix", "jitsi")
NEXTCLOUD_ADMIN = "admin"  # NEXTCLOUD_ADMIN_USER of the recipe: never disabled
ADMIN_GROUP = "admin"  # Nextcloud's administrators group
MATRIX_BOT = "kit-collab"  # Matrix service account that creates the rooms: never disabled
# Alias of the room of the whole commune: "_" cannot appear in a service municipal's id, so
# it never collides with a service's room.
GENERAL_ROOM = "tous_les_agents"
JITSI_DOMAIN = "meet.jitsi"  # internal XMPP domain of docker-jitsi-meet, not the public host
PROSODY_CONFIG = "/run/prosody/config/prosody.cfg.lua"
# Group folder rights of a service's group: read (always), write, share, delete.
FOLDER_RIGHTS = ("write", "share", "delete")
FOLDER_MASK = 1 | 2 | 4 | 16 | 8  # read, update, create, share, delete
FOLDER_ID = "{folder}"  # in an argv: the id printed by the groupfolders:create just before
REMOVALS = frozenset({"disable", "remove-from-group"})
PROTECTED = {"nextcloud": frozenset({NEXTCLOUD_ADMIN}), "matrix": frozenset({MATRIX_BOT}),
             "jitsi": frozenset()}


# ---------------------------------------------------------------------------------------------
# What the services report


@dataclass(frozen=True)
class User:
    """An account as a service reports it (None: the service does not say)."""

    id: str
    name: str | None = None
    email: str | None = None  # Matrix: every e-mail address of the account, comma-separated
    admin: bool | None = None
    enabled: bool = True
    groups: tuple[str, ...] = ()
    quota: str | None = None
    deactivated: bool = False  # Matrix: deactivated (not just locked)


@dataclass(frozen=True)
class Folder:
    id: int
    name: str  # mount point
    groups: tuple[tuple[str, int], ...] = ()  # (group, permission mask)

    def rights(self, group: str) -> int:
        return dict(self.groups).get(group, 0)


@dataclass(frozen=True)
class Room:
    alias: str  # local part of the alias: a service's id or GENERAL_ROOM
    room_id: str
    name: str | None = None
    members: tuple[tuple[str, str], ...] = ()  # (local part, membership: join, invite, …)
    admins: tuple[str, ...] = ()  # local parts at power level 100 (creators aside)

    def membership(self, user: str) -> str | None:
        return dict(self.members).get(user)


@dataclass(frozen=True)
class ServiceState:
    """What one service holds. ``error``: it could not be read, so nothing is planned."""

    users: tuple[User, ...] = ()
    groups: tuple[str, ...] = ()  # Nextcloud groups
    folders: tuple[Folder, ...] | None = ()  # None: the group folders app did not answer
    rooms: tuple[Room, ...] = ()
    error: str | None = None

    def user(self, uid: str) -> User | None:
        return next((u for u in self.users if u.id == uid), None)


@dataclass(frozen=True)
class Existing:
    """Per service, what exists (None: the service is not installed, or was not read)."""

    nextcloud: ServiceState | None = None
    matrix: ServiceState | None = None
    jitsi: ServiceState | None = None

    def of(self, service: str) -> ServiceState | None:
        state: ServiceState | None = getattr(self, service)
        return state


# ---------------------------------------------------------------------------------------------
# Actions


@dataclass(frozen=True)
class Action:
    """One change on one service. ``data`` carries what the command builders need."""

    service: str
    kind: str  # create-user, set-name, set-email, set-quota, set-admin, enable, disable,
    # create-group, add-to-group, remove-from-group, create-folder, set-folder-rights,
    # rename-folder, create-room, rename-room, add-to-room, set-room-admin
    target: str
    detail: str = ""
    data: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.data).get(key, default)

    @property
    def removal(self) -> bool:
        """Takes something away from someone: applied only once confirmed."""
        return self.kind in REMOVALS

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "action": self.kind, "cible": self.target,
                "detail": self.detail, "retrait": self.removal}


def _act(service: str, kind: str, target: str, detail: str = "", **data: Any) -> Action:
    return Action(service, kind, target, detail, tuple(sorted(data.items())))


# ---------------------------------------------------------------------------------------------
# What the profile asks for


def agent_groups(profile: Profile, agent: Utilisateur) -> tuple[str, ...]:
    """An agent's Nextcloud groups: their services, then ``admin`` for administrators."""
    groups = list(dict.fromkeys(agent.services_municipaux))
    if agent.role == "administrateur":
        groups.append(ADMIN_GROUP)
    return tuple(groups)


def agent_quota(profile: Profile, agent: Utilisateur) -> str:
    return agent.quota or profile.services.nextcloud.quota_par_defaut


def folder_name(nom: str) -> str:
    """A service's group folder: its name, without the path separators groupfolders would
    read as sub-folders."""
    return re.sub(r"\s+", " ", nom.replace("/", "-").replace("\\", "-")).strip(" .") or "-"


def rooms_wanted(profile: Profile) -> list[tuple[str, str, tuple[str, ...]]]:
    """(alias, name, members) of each room: one per service municipal, with its agents, and
    one for the whole commune when it has agents."""
    rooms = [(s.id, s.nom, tuple(u.identifiant for u in profile.utilisateurs
                                 if s.id in u.services_municipaux))
             for s in profile.services_municipaux]
    if profile.utilisateurs:
        rooms.append((GENERAL_ROOM, profile.commune.nom,
                      tuple(u.identifiant for u in profile.utilisateurs)))
    return rooms


def digest(profile: Profile) -> str:
    """Fingerprint of everything provisioning reads in the profile (its agents, services
    municipaux, the commune's name, the default quota): put in the bundle's manifest, a
    change of accounts alone makes a new release, so install provisions again."""
    from kit_collab.bundle.render import accounts_digest

    return accounts_digest(profile)


def quota_key(value: str | None) -> str:
    """Quotas compared the way Nextcloud reads them: "10 GB" == "10GB" == "10 gb"."""
    text = (value or "default").strip().lower().replace(" ", "")
    return "none" if text in ("none", "unlimited", "illimité") else text


# ---------------------------------------------------------------------------------------------
# The plan


def plan(profile: Profile, existing: Existing) -> list[Action]:
    """Every action that brings the services to the profile, in the order they must run."""
    actions: list[Action] = []
    if existing.nextcloud is not None and existing.nextcloud.error is None:
        actions += _nextcloud(profile, existing.nextcloud)
    if existing.matrix is not None and existing.matrix.error is None:
        actions += _matrix(profile, existing.matrix)
    if existing.jitsi is not None and existing.jitsi.error is None:
        actions += _jitsi(profile, existing.jitsi)
    return actions


def _disable_others(service: str, profile: Profile, users: Iterable[User]) -> list[Action]:
    wanted = {u.identifiant for u in profile.utilisateurs}
    return [_act(service, "disable", u.id, tr(
        "absent du profil : compte désactivé (jamais supprimé)",
        "not in the profile: account disabled (never deleted)"))
        for u in users if u.id not in wanted and u.id not in PROTECTED[service] and u.enabled]


def _nextcloud(profile: Profile, state: ServiceState) -> list[Action]:
    actions: list[Action] = []
    known = set(state.groups) | {g for u in state.users for g in u.groups}
    for svc in profile.services_municipaux:
        if svc.id not in known:
            actions.append(_act("nextcloud", "create-group", svc.id,
                                tr(f"groupe « {svc.nom} »", f"group '{svc.nom}'"), name=svc.nom))
    if ADMIN_GROUP not in known:
        actions.append(_act("nextcloud", "create-group", ADMIN_GROUP, name=ADMIN_GROUP))
    managed = {s.id for s in profile.services_municipaux} | {ADMIN_GROUP}
    for agent in profile.utilisateurs:
        actions += _nextcloud_user(profile, agent, state.user(agent.identifiant), managed)
    if state.folders is not None:
        actions += _folders(profile, state.folders)
    return actions + _disable_others("nextcloud", profile, state.users)


def _nextcloud_user(profile: Profile, agent: Utilisateur, current: User | None,
                    managed: set[str]) -> list[Action]:
    uid, groups, quota = agent.identifiant, agent_groups(profile, agent), agent_quota(
        profile, agent)
    if current is None:
        return [_act("nextcloud", "create-user", uid, tr(
            f"{agent.nom} <{agent.email}>, groupes : {', '.join(groups) or 'aucun'}, quota "
            f"{quota}", f"{agent.nom} <{agent.email}>, groups: {', '.join(groups) or 'none'}, "
            f"quota {quota}"), name=agent.nom, email=agent.email, groups=groups, quota=quota)]
    actions = []
    if not current.enabled:
        actions.append(_act("nextcloud", "enable", uid, tr("réactivé", "enabled again")))
    actions += _identity("nextcloud", agent, current)
    if quota_key(current.quota) != quota_key(quota):
        actions.append(_act("nextcloud", "set-quota", uid, f"{current.quota or '—'} → {quota}",
                            quota=quota))
    actions += [_act("nextcloud", "add-to-group", uid, tr(f"groupe {g}", f"group {g}"), group=g)
                for g in groups if g not in current.groups]
    actions += [_act("nextcloud", "remove-from-group", uid, tr(
        f"retiré du groupe {g}", f"removed from group {g}"), group=g)
        for g in current.groups if g in managed and g not in groups]
    return actions


def _identity(service: str, agent: Utilisateur, current: User) -> list[Action]:
    actions = []
    if current.name != agent.nom:
        actions.append(_act(service, "set-name", agent.identifiant,
                            f"{current.name or '—'} → {agent.nom}", name=agent.nom))
    emails = [e.strip().lower() for e in (current.email or "").split(",") if e.strip()]
    if agent.email.lower() not in emails:
        actions.append(_act(service, "set-email", agent.identifiant,
                            f"{current.email or '—'} → {agent.email}", email=agent.email))
    return actions


def _folders(profile: Profile, folders: tuple[Folder, ...]) -> list[Action]:
    actions = []
    for svc in profile.services_municipaux:
        name = folder_name(svc.nom)
        found = next((f for f in folders if f.name == name), None) or next(
            (f for f in folders if svc.id in dict(f.groups)), None)
        if found is None:
            actions.append(_act("nextcloud", "create-folder", name, tr(
                f"dossier partagé du groupe {svc.id} (lecture, écriture, partage, suppression)",
                f"group folder of group {svc.id} (read, write, share, delete)"), group=svc.id))
            continue
        if found.name != name:
            actions.append(_act("nextcloud", "rename-folder", name, f"{found.name} → {name}",
                                folder=found.id))
        if found.rights(svc.id) != FOLDER_MASK:
            actions.append(_act("nextcloud", "set-folder-rights", name, tr(
                f"groupe {svc.id} : lecture, écriture, partage, suppression",
                f"group {svc.id}: read, write, share, delete"), folder=found.id, group=svc.id))
    return actions


def _matrix(profile: Profile, state: ServiceState) -> list[Action]:
    return (_matrix_users(profile, state) + _matrix_rooms(profile, state)
            + _disable_others("matrix", profile, state.users))


def _matrix_users(profile: Profile, state: ServiceState) -> list[Action]:
    actions: list[Action] = []
    for agent in profile.utilisateurs:
        admin = agent.role == "administrateur"
        current = state.user(agent.identifiant)
        if current is None:
            actions.append(_act("matrix", "create-user", agent.identifiant, tr(
                f"{agent.nom} <{agent.email}>{', administrateur' if admin else ''}",
                f"{agent.nom} <{agent.email}>{', administrator' if admin else ''}"),
                name=agent.nom, email=agent.email, admin=admin))
            continue
        if not current.enabled:
            actions.append(_act("matrix", "enable", agent.identifiant, tr(
                "réactivé", "enabled again"), deactivated=current.deactivated))
        actions += _identity("matrix", agent, current)
        if bool(current.admin) != admin:
            actions.append(_act("matrix", "set-admin", agent.identifiant, tr(
                "administrateur" if admin else "n'est plus administrateur",
                "administrator" if admin else "no longer administrator"), admin=admin))
    return actions


def _matrix_rooms(profile: Profile, state: ServiceState) -> list[Action]:
    """Each room, then its missing members (forced to join by the admin API: agents find
    their rooms without accepting invitations), then its administrators at level 100."""
    actions: list[Action] = []
    admins = tuple(u.identifiant for u in profile.utilisateurs if u.role == "administrateur")
    for alias, name, members in rooms_wanted(profile):
        room = next((r for r in state.rooms if r.alias == alias), None)
        if room is None:
            actions.append(_act("matrix", "create-room", alias, tr(
                f"salon privé « {name} »", f"private room '{name}'"), name=name))
        elif room.name != name:
            actions.append(_act("matrix", "rename-room", alias, f"{room.name or '—'} → {name}",
                                name=name, room_id=room.room_id))
        for member in members:
            if room is None or room.membership(member) not in ("join", "invite", "ban"):
                actions.append(_act("matrix", "add-to-room", member, tr(
                    f"membre du salon #{alias}", f"member of room #{alias}"), room=alias))
        for uid in admins:
            if room is None or uid not in room.admins:
                actions.append(_act("matrix", "set-room-admin", uid, tr(
                    f"administrateur du salon #{alias}", f"administrator of room #{alias}"),
                    room=alias))
    return actions


def _jitsi(profile: Profile, state: ServiceState) -> list[Action]:
    actions = []
    for agent in profile.utilisateurs:
        current = state.user(agent.identifiant)
        if current is None:
            actions.append(_act("jitsi", "create-user", agent.identifiant, tr(
                "peut ouvrir une réunion", "can open a meeting")))
        elif not current.enabled:
            actions.append(_act("jitsi", "enable", agent.identifiant,
                                tr("réactivé", "enabled again")))
    return actions + _disable_others("jitsi", profile, state.users)


# ---------------------------------------------------------------------------------------------
# Who exists where: one row per account, for the `users` command


@dataclass(frozen=True)
class Row:
    identifiant: str
    nom: str | None  # None: not in the profile
    cells: tuple[tuple[str, str, tuple[str, ...]], ...]  # (service, state, planned kinds)

    def as_dict(self) -> dict[str, Any]:
        return {"identifiant": self.identifiant, "nom": self.nom, "dans_profil": self.nom
                is not None, "services": {svc: {"etat": st, "actions": list(kinds)}
                                          for svc, st, kinds in self.cells}}


def table(profile: Profile, existing: Existing, actions: list[Action]) -> list[Row]:
    """Per account (the profile's, then the others the services hold), per service: its
    state (present, absent, desactive, erreur, non-installe) and the planned action kinds."""
    ids = [u.identifiant for u in profile.utilisateurs]
    names = {u.identifiant: u.nom for u in profile.utilisateurs}
    for svc in SERVICES:
        state = existing.of(svc)
        for user in state.users if state else ():
            if user.id not in ids and user.id not in PROTECTED[svc]:
                ids.append(user.id)
    rows = []
    for uid in ids:
        cells = []
        for svc in SERVICES:
            state = existing.of(svc)
            kinds = tuple(a.kind for a in actions if a.service == svc and a.target == uid)
            if state is None:
                cells.append((svc, "non-installe", kinds))
            elif state.error is not None:
                cells.append((svc, "erreur", kinds))
            else:
                account = state.user(uid)
                status = "absent" if account is None else (
                    "present" if account.enabled else "desactive")
                cells.append((svc, status, kinds))
        rows.append(Row(uid, names.get(uid), tuple(cells)))
    return rows


# ---------------------------------------------------------------------------------------------
# Command builders: Nextcloud occ (argv run as www-data in the nextcloud container)


@dataclass(frozen=True)
class Command:
    """One command run in a service's container. ``password_of``: that agent's initial
    password reaches the command through the environment variable ``password_env`` (occ) or
    on its standard input, twice (prosodyctl), never in argv. ``random_password``: a new
    random one nobody keeps. ``capture``: the command prints a value that later arguments
    named ``FOLDER_ID`` take."""

    argv: tuple[str, ...]
    password_of: str | None = None
    password_env: str | None = None
    random_password: bool = False
    capture: bool = False


def _occ(*args: str, **kw: Any) -> Command:
    return Command(("php", "occ", *args), **kw)


def occ_commands(action: Action) -> list[Command]:
    """The occ commands of one Nextcloud action, as exact argument lists. A free text (a
    name, a folder) that reaches a positional argument comes after ``--``: a name starting
    with "-" is never read as an option."""
    uid, kind = action.target, action.kind
    if kind == "create-group":
        return [_occ("group:add", f"--display-name={action.get('name')}", uid)]
    if kind == "create-user":
        groups = [f"--group={g}" for g in action.get("groups", ())]
        return [_occ("user:add", "--password-from-env", f"--display-name={action.get('name')}",
                     *groups, uid, password_of=uid,
                     password_env="OC_PASS"),  # noqa: S106 (a variable's name, not a value)
                _occ("user:setting", "--", uid, "settings", "email", action.get("email")),
                _occ("user:setting", "--", uid, "files", "quota", action.get("quota"))]
    simple: dict[str, list[Command]] = {
        "set-name": [_occ("user:setting", "--", uid, "settings", "display_name",
                          str(action.get("name")))],
        "set-email": [_occ("user:setting", "--", uid, "settings", "email",
                           str(action.get("email")))],
        "set-quota": [_occ("user:setting", "--", uid, "files", "quota",
                           str(action.get("quota")))],
        "add-to-group": [_occ("group:adduser", str(action.get("group")), uid)],
        "remove-from-group": [_occ("group:removeuser", str(action.get("group")), uid)],
        "enable": [_occ("user:enable", uid)],
        "disable": [_occ("user:disable", uid)],
    }
    if kind in simple:
        return simple[kind]
    if kind == "create-folder":
        return [_occ("groupfolders:create", "--", uid, capture=True),
                _occ("groupfolders:group", FOLDER_ID, str(action.get("group")), *FOLDER_RIGHTS)]
    if kind == "set-folder-rights":
        return [_occ("groupfolders:group", str(action.get("folder")), str(action.get("group")),
                     *FOLDER_RIGHTS)]
    if kind == "rename-folder":
        return [_occ("groupfolders:rename", "--", str(action.get("folder")), uid)]
    raise ValueError(f"nextcloud: unknown action {kind}")


# Prosody (prosodyctl in the jitsi-prosody container)


def prosody_commands(action: Action, config: str = PROSODY_CONFIG) -> list[Command]:
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


# Synapse (HTTP on the container's own loopback, as the kit-collab service account)


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


def synapse_requests(action: Action, domain: str) -> list[Request]:
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


def _room_body(action: Action) -> dict[str, Any]:
    """A private, encrypted room with its alias, created by the service account. Members and
    administrators come afterwards, one action each: power levels are granted through the
    admin API, which knows where each room version keeps its creators."""
    return {"preset": "private_chat", "visibility": "private", "name": action.get("name"),
            "room_alias_name": action.target,
            "initial_state": [{"type": "m.room.encryption", "state_key": "",
                               "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}
