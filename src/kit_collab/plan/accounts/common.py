"""What the accounts' plan is made of: what the services report, the actions, the commands,
and what the profile asks for, shared by the three services."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kit_collab.bundle.render import accounts_digest
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


# Actions


@dataclass(frozen=True)
class AccountAction:
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


def act(service: str, kind: str, target: str, detail: str = "", **data: Any) -> AccountAction:
    return AccountAction(service, kind, target, detail, tuple(sorted(data.items())))


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
    """Fingerprint of what provisioning reads in the profile (kept in the bundle's manifest)."""
    return accounts_digest(profile)


def quota_key(value: str | None) -> str:
    """Quotas compared the way Nextcloud reads them: "10 GB" == "10GB" == "10 gb"."""
    text = (value or "default").strip().lower().replace(" ", "")
    return "none" if text in ("none", "unlimited", "illimité") else text


def disable_others(service: str, profile: Profile, users: Iterable[User]) -> list[AccountAction]:
    wanted = {u.identifiant for u in profile.utilisateurs}
    return [act(service, "disable", u.id, tr(
        "absent du profil : compte désactivé (jamais supprimé)",
        "not in the profile: account disabled (never deleted)"))
        for u in users if u.id not in wanted and u.id not in PROTECTED[service] and u.enabled]


def identity(service: str, agent: Utilisateur, current: User) -> list[AccountAction]:
    actions = []
    if current.name != agent.nom:
        actions.append(act(service, "set-name", agent.identifiant,
                            f"{current.name or '—'} → {agent.nom}", name=agent.nom))
    emails = [e.strip().lower() for e in (current.email or "").split(",") if e.strip()]
    if agent.email.lower() not in emails:
        actions.append(act(service, "set-email", agent.identifiant,
                            f"{current.email or '—'} → {agent.email}", email=agent.email))
    return actions
