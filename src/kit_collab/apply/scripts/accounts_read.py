"""Reading the agents' accounts: one script (one round trip) that reports the commune's lock
and every active service's accounts, and its parser.

Nextcloud: ``occ user:list``, ``group:list`` and ``groupfolders:list`` as JSON in its
container; Matrix: the Synapse runner, logged in as the kit-collab service account, lists
the accounts and the rooms through the admin API; Jitsi: the Prosody account files of the
internal XMPP domain, and the commune's record of the Jitsi accounts kit-collab disabled.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence

from kit_collab.apply.scripts.common import q
from kit_collab.apply.scripts.sections import failure, json_in, parse_sections, section
from kit_collab.apply.scripts.synapse import matrix_doc, payload, runner
from kit_collab.apply.scripts.target import Target
from kit_collab.i18n import tr
from kit_collab.plan import accounts
from kit_collab.plan.accounts import Existing, Folder, Room, ServiceState, User

DISABLED_FILE = "jitsi-desactives"  # in the commune's folder: Jitsi accounts kit-collab disabled


def prosody_host_dir(domain: str = accounts.JITSI_DOMAIN) -> str:
    """Prosody's file name for a host or user (util.datamanager): each byte that is not an
    ASCII letter or digit as %xx."""
    return re.sub(r"[^A-Za-z0-9]", lambda m: f"%{ord(m.group()):02x}", domain)


def read_script(target: Target, services: Sequence[str], domain: str,
                secrets: dict[str, dict[str, str]], aliases: Sequence[str]) -> str:
    """One script that reports the lock and every active service's accounts."""
    c = target.commune_dir
    parts = ["set -u", 'err="$(mktemp)"',
             section("lock", f"cat {q(c + '/.lock/info')} 2>/dev/null || true")]
    if "nextcloud" in services:
        for name, args in (("nextcloud-users", ["user:list", "--info", "--output=json",
                                                "--limit=100000"]),
                           ("nextcloud-groups", ["group:list", "--output=json",
                                                 "--limit=100000"]),
                           ("nextcloud-folders", ["groupfolders:list", "--output=json"])):
            parts.append(section(name, target.command("nextcloud", ["php", "occ", *args])))
    if "matrix" in services:
        data = payload(target, domain, secrets, "read", aliases=list(aliases))
        parts.append(section("matrix", runner(target, data) if data else
                             "echo 'secret matrix.bot_password absent' >&2; false",
                             stdin=True))
    if "jitsi" in services:
        accounts_dir = f'"$d"/{q(prosody_host_dir())}/accounts'
        inner = ("d=$(prosodyctl --config \"$1\" about 2>/dev/null | sed -n "
                 "'s/^Data directory: *//p'); [ -n \"$d\" ] || { echo 'prosodyctl about: "
                 f"no data directory' >&2; exit 3; }}; if [ -d {accounts_dir} ]; then "
                 f"ls -1 {accounts_dir}; fi")
        parts.append(section("jitsi-users", target.command(
            "jitsi", ["sh", "-c", inner, "sh", target.prosody_config])))
        parts.append(section("jitsi-disabled",
                             f"cat {q(c + '/' + DISABLED_FILE)} 2>/dev/null || true"))
    parts.append('rm -f "$err"')
    return "\n".join(parts) + "\n"


def parse_nextcloud(sections: dict[str, tuple[int, str]]) -> ServiceState:
    for name in ("nextcloud-users", "nextcloud-groups"):
        error = failure(sections, name)
        if error:
            return ServiceState(error=f"occ {name.split('-')[1]} : {error}")
    try:
        raw_users = json_in(sections["nextcloud-users"][1])
        raw_groups = json_in(sections["nextcloud-groups"][1])
    except ValueError:
        return ServiceState(error=tr("réponse illisible de occ", "unreadable answer from occ"))
    users = tuple(User(
        str(uid), name=info.get("display_name"), email=info.get("email") or None,
        enabled=bool(info.get("enabled", True)), groups=tuple(info.get("groups") or ()),
        quota=str(info.get("quota")) if info.get("quota") is not None else None)
        for uid, info in (raw_users.items() if isinstance(raw_users, dict) else ())
        if isinstance(info, dict))
    groups = tuple(str(g) for g in (raw_groups if isinstance(raw_groups, dict) else {}))
    return ServiceState(users=users, groups=groups, folders=_folders(sections))


def _folders(sections: dict[str, tuple[int, str]]) -> tuple[Folder, ...] | None:
    if failure(sections, "nextcloud-folders"):
        return None
    try:
        raw = json_in(sections["nextcloud-folders"][1])
    except ValueError:
        return None
    folders = []
    for item in raw if isinstance(raw, list) else []:
        groups = item.get("groups_list") or item.get("groups") or {}
        rights = []
        for gid, value in (groups.items() if isinstance(groups, dict) else ()):
            mask = value.get("permissions", 0) if isinstance(value, dict) else value
            rights.append((str(gid), int(mask)))
        folders.append(Folder(int(item["id"]), str(
            item.get("mountPoint") or item.get("mount_point") or ""), tuple(sorted(rights))))
    return tuple(folders)


def parse_matrix(sections: dict[str, tuple[int, str]]) -> ServiceState:
    doc, error = matrix_doc(sections)
    if doc is None:
        return ServiceState(error=error)
    users = tuple(User(
        u["id"], name=u.get("name"), email=",".join(u.get("emails") or ()) or None,
        admin=bool(u.get("admin")), enabled=not (u.get("locked") or u.get("deactivated")),
        deactivated=bool(u.get("deactivated"))) for u in doc.get("users", []))
    rooms = tuple(Room(r["alias"], r["room_id"], r.get("name"),
                                tuple(sorted((r.get("members") or {}).items())),
                                tuple(sorted(r.get("admins") or ())))
                  for r in doc.get("rooms", []))
    return ServiceState(users=users, rooms=rooms)


def parse_jitsi(sections: dict[str, tuple[int, str]]) -> ServiceState:
    error = failure(sections, "jitsi-users")
    if error:
        return ServiceState(error=f"prosodyctl : {error}")
    disabled = {line.strip() for line in sections.get("jitsi-disabled", (0, ""))[1].split("\n")
                if line.strip()}
    names = [urllib.parse.unquote(line.strip()[:-4])
             for line in sections["jitsi-users"][1].split("\n") if line.strip().endswith(".dat")]
    return ServiceState(users=tuple(User(n, enabled=n not in disabled)
                                    for n in sorted(names)))


def parse_read(text: str, services: Sequence[str]) -> tuple[Existing, str]:
    """(what exists, the lock's details or "") from a read script's output."""
    sections = parse_sections(text)
    states = {"nextcloud": parse_nextcloud, "matrix": parse_matrix, "jitsi": parse_jitsi}
    existing = Existing(**{s: states[s](sections) for s in services})
    return existing, sections.get("lock", (0, ""))[1].strip()
