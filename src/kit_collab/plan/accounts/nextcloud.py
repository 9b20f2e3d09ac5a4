"""Nextcloud: one user per agent (display name, e-mail, quota, groups), one group per service
municipal, one group folder per service with read, write, share and delete for its group,
administrators in ``admin``; and the exact ``occ`` argument lists of each action (run as
www-data in the nextcloud container)."""

from __future__ import annotations

from typing import Any

from kit_collab.i18n import tr
from kit_collab.plan.accounts.common import (
    ADMIN_GROUP,
    FOLDER_ID,
    FOLDER_MASK,
    FOLDER_RIGHTS,
    AccountAction,
    Command,
    Folder,
    ServiceState,
    User,
    act,
    agent_groups,
    agent_quota,
    disable_others,
    folder_name,
    identity,
    quota_key,
)
from kit_collab.profile.model import Profile, Utilisateur


def plan_nextcloud(profile: Profile, state: ServiceState) -> list[AccountAction]:
    actions: list[AccountAction] = []
    known = set(state.groups) | {g for u in state.users for g in u.groups}
    for svc in profile.services_municipaux:
        if svc.id not in known:
            actions.append(act("nextcloud", "create-group", svc.id,
                                tr(f"groupe « {svc.nom} »", f"group '{svc.nom}'"), name=svc.nom))
    if ADMIN_GROUP not in known:
        actions.append(act("nextcloud", "create-group", ADMIN_GROUP, name=ADMIN_GROUP))
    managed = {s.id for s in profile.services_municipaux} | {ADMIN_GROUP}
    for agent in profile.utilisateurs:
        actions += _nextcloud_user(profile, agent, state.user(agent.identifiant), managed)
    if state.folders is not None:
        actions += _folders(profile, state.folders)
    return actions + disable_others("nextcloud", profile, state.users)


def _nextcloud_user(profile: Profile, agent: Utilisateur, current: User | None,
                    managed: set[str]) -> list[AccountAction]:
    uid, groups, quota = agent.identifiant, agent_groups(profile, agent), agent_quota(
        profile, agent)
    if current is None:
        return [act("nextcloud", "create-user", uid, tr(
            f"{agent.nom} <{agent.email}>, groupes : {', '.join(groups) or 'aucun'}, quota "
            f"{quota}", f"{agent.nom} <{agent.email}>, groups: {', '.join(groups) or 'none'}, "
            f"quota {quota}"), name=agent.nom, email=agent.email, groups=groups, quota=quota)]
    actions = []
    if not current.enabled:
        actions.append(act("nextcloud", "enable", uid, tr("réactivé", "enabled again")))
    actions += identity("nextcloud", agent, current)
    if quota_key(current.quota) != quota_key(quota):
        actions.append(act("nextcloud", "set-quota", uid, f"{current.quota or '—'} → {quota}",
                            quota=quota))
    actions += [act("nextcloud", "add-to-group", uid, tr(f"groupe {g}", f"group {g}"), group=g)
                for g in groups if g not in current.groups]
    actions += [act("nextcloud", "remove-from-group", uid, tr(
        f"retiré du groupe {g}", f"removed from group {g}"), group=g)
        for g in current.groups if g in managed and g not in groups]
    return actions


def _folders(profile: Profile, folders: tuple[Folder, ...]) -> list[AccountAction]:
    actions = []
    for svc in profile.services_municipaux:
        name = folder_name(svc.nom)
        found = next((f for f in folders if f.name == name), None) or next(
            (f for f in folders if svc.id in dict(f.groups)), None)
        if found is None:
            actions.append(act("nextcloud", "create-folder", name, tr(
                f"dossier partagé du groupe {svc.id} (lecture, écriture, partage, suppression)",
                f"group folder of group {svc.id} (read, write, share, delete)"), group=svc.id))
            continue
        if found.name != name:
            actions.append(act("nextcloud", "rename-folder", name, f"{found.name} → {name}",
                                folder=found.id))
        if found.rights(svc.id) != FOLDER_MASK:
            actions.append(act("nextcloud", "set-folder-rights", name, tr(
                f"groupe {svc.id} : lecture, écriture, partage, suppression",
                f"group {svc.id}: read, write, share, delete"), folder=found.id, group=svc.id))
    return actions


def _occ(*args: str, **kw: Any) -> Command:
    return Command(("php", "occ", *args), **kw)


def occ_commands(action: AccountAction) -> list[Command]:
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
