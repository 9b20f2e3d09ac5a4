"""Provisioning on the server: read the accounts in one round trip, apply a plan in another.

The pure half (what exists -> what to do, and each action's exact commands) is accounts.py.
Here: the two scripts, their parsers, and the Synapse runner.

- Reading is one script (one SSH round trip): ``occ user:list``, ``group:list`` and
  ``groupfolders:list`` as JSON in the Nextcloud container; the Synapse runner (below) in
  the Synapse container, logged in as the kit-collab service account, lists the accounts and
  the rooms through the admin API; the Prosody account files of the internal XMPP domain;
  the commune's lock and its record of disabled Jitsi accounts.
- Applying is one script too. Secrets travel as tasks_script's do: inside the script, which
  goes to ``sh -s`` on standard input, never on a command line; each command gets its
  password through its own environment (occ's OC_PASS, passed on with ``-e``) or its
  standard input (prosodyctl, the Synapse runner).
- The Synapse runner is a small standard-library Python program run with ``python3 -c``;
  it sends the request specs of accounts.synapse_requests as they are. The tests run the
  very same program, against a real Synapse, with a ``Target`` whose commands run here.
"""

from __future__ import annotations

import json
import re
import secrets as secrets_mod
import shlex
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit_collab.plan import accounts
from kit_collab.apply.scripts import remote
from kit_collab.plan.accounts import Action, Existing, ServiceState
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.redact import redact, remember

q = shlex.quote
MARK = "@@kc:"
SERVICE_OF = {"nextcloud": ("nextcloud", "33"), "matrix": ("matrix-synapse", "991"),
              "jitsi": ("jitsi-prosody", "1000")}
DISABLED_FILE = "jitsi-desactives"  # in the commune's folder: Jitsi accounts kit-collab disabled


@dataclass(frozen=True)
class Target:
    """Where the commands run: in the commune's containers (``docker compose exec``), or,
    for the tests, straight on the machine the transport reaches (``local``)."""

    root: str
    slug: str
    synapse_url: str = "http://127.0.0.1:8008"
    # The service account's access token, kept in Synapse's data volume (uid 991, 0600).
    synapse_token_file: str = "/data/kit-collab.token"  # noqa: S105 (a path)
    prosody_config: str = accounts.PROSODY_CONFIG
    python: str = "python3"
    local: bool = False

    @property
    def commune_dir(self) -> str:
        return remote.commune_dir(self.root, self.slug)

    def command(self, service: str, argv: Sequence[str], env: Iterable[str] = (), *,
                quoted: bool = False) -> str:
        """``argv`` run in ``service``'s container as its user, with the variables ``env``
        (set by the caller in front of the command) passed on. ``quoted``: the arguments
        are already shell words."""
        words = list(argv) if quoted else [q(a) for a in argv]
        if self.local:
            return " ".join(words)
        name, user = SERVICE_OF[service]
        names = [x for n in env for x in ("-e", q(n))]
        return remote.compose(self.root, self.slug, "exec", "-T", "-u", q(user), *names,
                              q(name), *words)


def target_for(profile: Profile) -> Target:
    return Target(profile.serveur.racine, profile.commune.code)


def services_of(names: Iterable[str]) -> tuple[str, ...]:
    """The services provisioning knows among these recipe names, in its order."""
    given = set(names)
    return tuple(s for s in accounts.SERVICES if s in given)


# ---------------------------------------------------------------------------------------------
# The Synapse runner: standard-library Python, run in the Synapse container


SYNAPSE_RUNNER = r'''
import hashlib, hmac, json, os, sys, time, urllib.error, urllib.parse, urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Fail(Exception):
    pass


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    for _ in range(20):
        req = urllib.request.Request(base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with OPENER.open(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                doc = json.loads(raw or b"{}")
            except ValueError:
                doc = {"error": raw.decode("utf-8", "replace")[:300]}
            if exc.code == 429:
                time.sleep(min(5.0, doc.get("retry_after_ms", 500) / 1000.0))
                continue
            return exc.code, doc
        except OSError as exc:
            raise Fail("unreachable", str(exc))
    return 429, {"errcode": "M_LIMIT_EXCEEDED", "error": "rate limited"}


def q(text):
    return urllib.parse.quote(text, safe="")


def register_bot(p):
    """The service account does not exist yet: create it, as a server admin, with the
    registration shared secret (what register_new_matrix_user does)."""
    status, doc = call(p["base"], "GET", "/_synapse/admin/v1/register")
    if status != 200:
        raise Fail("register", doc.get("error"))
    mac = hmac.new(p["shared_secret"].encode("utf-8"), digestmod=hashlib.sha1)
    for part in (doc["nonce"], p["bot"], p["bot_password"]):
        mac.update(part.encode("utf-8"))
        mac.update(b"\x00")
    mac.update(b"admin")
    status, reg = call(p["base"], "POST", "/_synapse/admin/v1/register", {
        "nonce": doc["nonce"], "username": p["bot"], "password": p["bot_password"],
        "admin": True, "mac": mac.hexdigest()})
    if status != 200:
        raise Fail("bot-password" if reg.get("errcode") == "M_USER_IN_USE" else "register",
                   reg.get("error"))
    return reg["access_token"]


def saved_token(p, me):
    """The service account's access token kept from an earlier run (Synapse lets an address
    log in 5 times, then once every 5 minutes: logging in on every run would soon wait)."""
    try:
        with open(p["token_file"]) as handle:
            token = handle.read().strip()
    except (OSError, KeyError):
        return None
    status, doc = call(p["base"], "GET", "/_matrix/client/v3/account/whoami", None, token)
    return token if status == 200 and doc.get("user_id") == me else None


def save_token(p, token):
    try:
        fd = os.open(p["token_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
    except (OSError, KeyError):
        pass


def login(p):
    me = "@%s:%s" % (p["bot"], p["domain"])
    token = saved_token(p, me)
    if token is None:
        status, doc = call(p["base"], "POST", "/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": p["bot"]},
            "password": p["bot_password"], "initial_device_display_name": "kit-collab"})
        if status == 200:
            token = doc["access_token"]
        elif status == 403 and p.get("shared_secret"):
            token = register_bot(p)
        else:
            raise Fail("login", doc.get("error"))
        save_token(p, token)
    status, doc = call(p["base"], "GET", "/_synapse/admin/v1/users/%s/admin" % q(me), None, token)
    if status != 200 or not doc.get("admin"):
        raise Fail("not-admin", doc.get("error"))
    # The service account creates rooms and adds members in bursts: no rate limit for it.
    call(p["base"], "POST", "/_synapse/admin/v1/users/%s/override_ratelimit" % q(me),
         {"messages_per_second": 0, "burst_count": 0}, token)
    return token


def read(p, token):
    base, domain, suffix = p["base"], p["domain"], ":" + p["domain"]
    users, start = [], 0
    while True:
        status, doc = call(base, "GET", "/_synapse/admin/v2/users?from=%d&limit=500"
                           "&guests=false&deactivated=true&locked=true" % start, None, token)
        if status != 200:
            raise Fail("users", doc.get("error"))
        for user in doc.get("users", []):
            name = user["name"]
            if not name.endswith(suffix) or name[1:-len(suffix)] == p["bot"]:
                continue
            status, info = call(base, "GET", "/_synapse/admin/v2/users/" + q(name), None, token)
            emails = [t["address"] for t in info.get("threepids", []) if t.get("medium") == "email"]
            users.append({"id": name[1:-len(suffix)], "name": user.get("displayname"),
                          "admin": bool(user.get("admin")),
                          "deactivated": bool(user.get("deactivated")),
                          "locked": bool(user.get("locked")), "emails": emails})
        if "next_token" not in doc:
            break
        start = int(doc["next_token"])
    rooms = []
    for alias in p.get("aliases", []):
        status, found = call(base, "GET", "/_matrix/client/v3/directory/room/" +
                             q("#%s:%s" % (alias, domain)), None, token)
        if status == 404:
            continue
        if status != 200:
            raise Fail("rooms", found.get("error"))
        room_id = found["room_id"]
        status, state = call(base, "GET", "/_synapse/admin/v1/rooms/%s/state" % q(room_id),
                             None, token)
        if status != 200:
            raise Fail("rooms", state.get("error"))
        name, members, admins = None, {}, []
        for event in state.get("state", []):
            if event.get("type") == "m.room.name":
                name = (event.get("content") or {}).get("name")
            if event.get("type") == "m.room.power_levels":
                levels = (event.get("content") or {}).get("users") or {}
                admins = [u[1:-len(suffix)] for u, level in levels.items()
                          if u.endswith(suffix) and isinstance(level, int) and level >= 100]
            key = event.get("state_key") or ""
            if event.get("type") == "m.room.member" and key.endswith(suffix):
                members[key[1:-len(suffix)]] = (event.get("content") or {}).get("membership")
        rooms.append({"alias": alias, "room_id": room_id, "name": name, "members": members,
                      "admins": admins})
    return {"users": users, "rooms": rooms}


def apply(p, token):
    results = []
    for spec in p.get("requests", []):
        status, doc = call(p["base"], spec["method"], spec["path"], spec.get("body"), token)
        ok = 200 <= status < 300
        results.append({"status": status, "ok": ok,
                        "error": None if ok else "%s %s" % (doc.get("errcode"), doc.get("error"))})
    return {"results": results}


def main():
    p = json.loads(sys.stdin.read())
    try:
        token = login(p)
    except Fail as exc:
        print(json.dumps({"ok": False, "error": exc.args[0], "detail": str(exc.args[1:])}))
        return 1
    try:
        out = read(p, token) if p["mode"] == "read" else apply(p, token)
        out["ok"] = True
    except Fail as exc:
        out = {"ok": False, "error": exc.args[0], "detail": str(exc.args[1:])}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


sys.exit(main())
'''


def _matrix_payload(target: Target, domain: str, secrets: dict[str, dict[str, str]],
                    mode: str, **extra: Any) -> str | None:
    matrix = secrets.get("matrix", {})
    if not matrix.get("bot_password"):
        return None
    return json.dumps({"mode": mode, "base": target.synapse_url, "domain": domain,
                       "token_file": target.synapse_token_file,
                       "bot": accounts.MATRIX_BOT, "bot_password": matrix["bot_password"],
                       "shared_secret": matrix.get("registration_shared_secret", ""),
                       **extra}, ensure_ascii=False)


def _runner(target: Target, payload: str) -> str:
    """The Synapse runner fed ``payload`` on its standard input (printf is a shell builtin:
    the secrets in the payload never reach a command line)."""
    return (f"printf '%s' {q(payload)} | "
            + target.command("matrix", [target.python, "-c", SYNAPSE_RUNNER]))


# ---------------------------------------------------------------------------------------------
# Reading: one script, its sections parsed back


def _section(name: str, command: str, *, stdin: bool = False) -> str:
    """``command``'s output between markers, its exit code, and the end of its error output
    when it failed. Commands never read the script's own standard input."""
    redirect = "" if stdin else " </dev/null"
    return f"""printf '\\n{MARK}begin %s\\n' {q(name)}
{command}{redirect} 2>"$err"; rc=$?
printf '\\n{MARK}end %s %s\\n' {q(name)} "$rc"
if [ "$rc" != 0 ]; then
  printf '{MARK}begin %s\\n' {q(name + ".err")}; tail -c 1500 "$err"
  printf '\\n{MARK}end %s 0\\n' {q(name + ".err")}
fi
"""


def prosody_host_dir(domain: str = accounts.JITSI_DOMAIN) -> str:
    """Prosody's file name for a host or user (util.datamanager): each byte that is not an
    ASCII letter or digit as %xx."""
    return re.sub(r"[^A-Za-z0-9]", lambda m: f"%{ord(m.group()):02x}", domain)


def read_script(target: Target, services: Sequence[str], domain: str,
                secrets: dict[str, dict[str, str]], aliases: Sequence[str]) -> str:
    """One script that reports the lock and every active service's accounts."""
    c = target.commune_dir
    parts = ["set -u", 'err="$(mktemp)"',
             _section("lock", f"cat {q(c + '/.lock/info')} 2>/dev/null || true")]
    if "nextcloud" in services:
        for name, args in (("nextcloud-users", ["user:list", "--info", "--output=json",
                                                "--limit=100000"]),
                           ("nextcloud-groups", ["group:list", "--output=json",
                                                 "--limit=100000"]),
                           ("nextcloud-folders", ["groupfolders:list", "--output=json"])):
            parts.append(_section(name, target.command("nextcloud", ["php", "occ", *args])))
    if "matrix" in services:
        payload = _matrix_payload(target, domain, secrets, "read", aliases=list(aliases))
        parts.append(_section("matrix", _runner(target, payload) if payload else
                              "echo 'secret matrix.bot_password absent' >&2; false",
                              stdin=True))
    if "jitsi" in services:
        accounts_dir = f'"$d"/{q(prosody_host_dir())}/accounts'
        inner = ("d=$(prosodyctl --config \"$1\" about 2>/dev/null | sed -n "
                 "'s/^Data directory: *//p'); [ -n \"$d\" ] || { echo 'prosodyctl about: "
                 f"no data directory' >&2; exit 3; }}; if [ -d {accounts_dir} ]; then "
                 f"ls -1 {accounts_dir}; fi")
        parts.append(_section("jitsi-users", target.command(
            "jitsi", ["sh", "-c", inner, "sh", target.prosody_config])))
        parts.append(_section("jitsi-disabled",
                              f"cat {q(c + '/' + DISABLED_FILE)} 2>/dev/null || true"))
    parts.append('rm -f "$err"')
    return "\n".join(parts) + "\n"


def parse_sections(text: str) -> dict[str, tuple[int, str]]:
    """name -> (exit code, output) of each section of a read script's output."""
    found: dict[str, tuple[int, str]] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(MARK + "begin "):
            current, lines = line[len(MARK) + 6:], []
        elif line.startswith(MARK + "end ") and current is not None:
            name, _, code = line[len(MARK) + 4:].rpartition(" ")
            if name == current:
                body = "\n".join(lines)
                found[name] = (int(code) if code.lstrip("-").isdigit() else 1,
                               body[:-1] if body.endswith("\n") else body)
                current = None
        elif current is not None:
            lines.append(line)
    return found


def _json_in(text: str) -> Any:
    """The JSON document in a command's output (occ may print a notice before it)."""
    for i, ch in enumerate(text):
        if ch in "[{":
            try:
                return json.JSONDecoder().raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise ValueError("no JSON")


def _failure(sections: dict[str, tuple[int, str]], name: str) -> str | None:
    if name not in sections:
        return tr("pas de réponse", "no answer")
    code, _ = sections[name]
    if code == 0:
        return None
    detail = redact(sections.get(name + ".err", (0, ""))[1].strip())[-400:]
    return tr(f"code de sortie {code}", f"exit code {code}") + (f" : {detail}" if detail else "")


def parse_nextcloud(sections: dict[str, tuple[int, str]]) -> ServiceState:
    for name in ("nextcloud-users", "nextcloud-groups"):
        error = _failure(sections, name)
        if error:
            return ServiceState(error=f"occ {name.split('-')[1]} : {error}")
    try:
        raw_users = _json_in(sections["nextcloud-users"][1])
        raw_groups = _json_in(sections["nextcloud-groups"][1])
    except ValueError:
        return ServiceState(error=tr("réponse illisible de occ", "unreadable answer from occ"))
    users = tuple(accounts.User(
        str(uid), name=info.get("display_name"), email=info.get("email") or None,
        enabled=bool(info.get("enabled", True)), groups=tuple(info.get("groups") or ()),
        quota=str(info.get("quota")) if info.get("quota") is not None else None)
        for uid, info in (raw_users.items() if isinstance(raw_users, dict) else ())
        if isinstance(info, dict))
    groups = tuple(str(g) for g in (raw_groups if isinstance(raw_groups, dict) else {}))
    return ServiceState(users=users, groups=groups, folders=_folders(sections))


def _folders(sections: dict[str, tuple[int, str]]) -> tuple[accounts.Folder, ...] | None:
    if _failure(sections, "nextcloud-folders"):
        return None
    try:
        raw = _json_in(sections["nextcloud-folders"][1])
    except ValueError:
        return None
    folders = []
    for item in raw if isinstance(raw, list) else []:
        groups = item.get("groups_list") or item.get("groups") or {}
        rights = []
        for gid, value in (groups.items() if isinstance(groups, dict) else ()):
            mask = value.get("permissions", 0) if isinstance(value, dict) else value
            rights.append((str(gid), int(mask)))
        folders.append(accounts.Folder(int(item["id"]), str(
            item.get("mountPoint") or item.get("mount_point") or ""), tuple(sorted(rights))))
    return tuple(folders)


MATRIX_ERRORS = {
    "not-admin": (
        "le compte technique kit-collab de Matrix n'est pas administrateur du serveur (créé "
        "par une version précédente ? Synapse documente le remède : UPDATE users SET admin = 1 "
        "WHERE name = '@kit-collab:<domaine>' dans sa base, service matrix-db)",
        "the kit-collab Matrix service account is not a server administrator (created by an "
        "earlier version? Synapse documents the fix: UPDATE users SET admin = 1 WHERE name = "
        "'@kit-collab:<domain>' in its database, service matrix-db)"),
    "bot-password": (
        "le compte technique kit-collab de Matrix existe avec un autre mot de passe",
        "the kit-collab Matrix service account exists with another password"),
    "login": ("connexion du compte technique kit-collab refusée par Synapse",
              "Synapse refused the kit-collab service account's login"),
    "unreachable": ("Synapse ne répond pas", "Synapse does not answer"),
}


def _matrix_doc(sections: dict[str, tuple[int, str]]) -> tuple[dict[str, Any] | None, str | None]:
    """The runner's answer, or why there is none."""
    if "matrix" not in sections:
        return None, tr("pas de réponse", "no answer")
    try:
        doc = _json_in(sections["matrix"][1])
    except ValueError:
        return None, _failure(sections, "matrix") or tr("réponse illisible", "unreadable answer")
    if not isinstance(doc, dict):
        return None, tr("réponse illisible", "unreadable answer")
    if not doc.get("ok"):
        fr, en = MATRIX_ERRORS.get(str(doc.get("error")), (
            f"Synapse : {doc.get('error')}", f"Synapse: {doc.get('error')}"))
        return None, tr(fr, en) + redact(f" ({doc.get('detail')})" if doc.get("detail") else "")
    return doc, None


def parse_matrix(sections: dict[str, tuple[int, str]]) -> ServiceState:
    doc, error = _matrix_doc(sections)
    if doc is None:
        return ServiceState(error=error)
    users = tuple(accounts.User(
        u["id"], name=u.get("name"), email=",".join(u.get("emails") or ()) or None,
        admin=bool(u.get("admin")), enabled=not (u.get("locked") or u.get("deactivated")),
        deactivated=bool(u.get("deactivated"))) for u in doc.get("users", []))
    rooms = tuple(accounts.Room(r["alias"], r["room_id"], r.get("name"),
                                tuple(sorted((r.get("members") or {}).items())),
                                tuple(sorted(r.get("admins") or ())))
                  for r in doc.get("rooms", []))
    return ServiceState(users=users, rooms=rooms)


def parse_jitsi(sections: dict[str, tuple[int, str]]) -> ServiceState:
    error = _failure(sections, "jitsi-users")
    if error:
        return ServiceState(error=f"prosodyctl : {error}")
    disabled = {line.strip() for line in sections.get("jitsi-disabled", (0, ""))[1].split("\n")
                if line.strip()}
    names = [urllib.parse.unquote(line.strip()[:-4])
             for line in sections["jitsi-users"][1].split("\n") if line.strip().endswith(".dat")]
    return ServiceState(users=tuple(accounts.User(n, enabled=n not in disabled)
                                    for n in sorted(names)))


def parse_read(text: str, services: Sequence[str]) -> tuple[Existing, str]:
    """(what exists, the lock's details or "") from a read script's output."""
    sections = parse_sections(text)
    states = {"nextcloud": parse_nextcloud, "matrix": parse_matrix, "jitsi": parse_jitsi}
    existing = Existing(**{s: states[s](sections) for s in services})
    return existing, sections.get("lock", (0, ""))[1].strip()


# ---------------------------------------------------------------------------------------------
# Applying: one script, one status line per action


def _password(secrets: dict[str, dict[str, str]], uid: str) -> str | None:
    return secrets.get("comptes", {}).get(uid)


def _command_line(target: Target, service: str, command: accounts.Command,
                  secrets: dict[str, dict[str, str]]) -> str:
    argv = ['"$kc_id"' if a == accounts.FOLDER_ID else q(a) for a in command.argv]
    env = [command.password_env] if command.password_env else []
    line = target.command(service, argv, env, quoted=True)
    if command.random_password or (command.password_of and not command.password_env):
        password = (secrets_mod.token_urlsafe(24) if command.random_password
                    else _password(secrets, str(command.password_of)) or "")
        remember([password])
        return f"printf '%s\\n%s\\n' {q(password)} {q(password)} | {line}"
    if command.password_env:
        password = _password(secrets, str(command.password_of)) or ""
        return f"{command.password_env}={q(password)} {line} </dev/null"
    return line + " </dev/null"


def _action_block(target: Target, index: int, action: Action,
                  secrets: dict[str, dict[str, str]]) -> str:
    commands = (accounts.occ_commands(action) if action.service == "nextcloud"
                else accounts.prosody_commands(action, target.prosody_config))
    lines = [f"# {index}: {action.service} {action.kind}", "ok=1"]
    for command in commands:
        line = _command_line(target, action.service, command, secrets)
        if command.capture:
            lines.append(f'if [ "$ok" = 1 ]; then kc_id=$({line} 2>"$out" | tail -n 1 | '
                         "tr -dc 0-9); [ -n \"$kc_id\" ] || ok=0; fi")
        else:
            lines.append(f'if [ "$ok" = 1 ]; then {line} >"$out" 2>&1 || ok=0; fi')
    if action.service == "jitsi" and action.kind in ("disable", "enable"):
        record = q(f"{target.commune_dir}/{DISABLED_FILE}")
        who = q(action.target)
        update = (f"printf '%s\\n' {who} >> {record}" if action.kind == "disable" else
                  f"{{ grep -vx -- {who} {record} > {record}.new || true; }} && "
                  f"mv {record}.new {record}")
        lines.append(f'if [ "$ok" = 1 ]; then mkdir -p {q(target.commune_dir)} && {update} '
                     "|| ok=0; fi")
    lines.append(f"kc_done {index}")
    return "\n".join(lines)


def apply_script(target: Target, actions: Sequence[Action], domain: str,
                 secrets: dict[str, dict[str, str]]) -> tuple[str, list[int]]:
    """The script applying ``actions`` (and, for Matrix, the index of the action each
    request of the runner's batch belongs to)."""
    parts = ["set -u", 'out="$(mktemp)"', 'err="$(mktemp)"', "kc_id=",
             f"kc_done() {{ if [ \"$ok\" = 1 ]; then printf '{MARK}action %s ok\\n' \"$1\"; "
             f"else printf '{MARK}action %s failed\\n' \"$1\"; tail -n 5 \"$out\" | "
             f"sed 's/^/{MARK}log /'; fi; }}"]
    owners: list[int] = []
    specs: list[dict[str, Any]] = []
    for index, action in enumerate(actions):
        if action.service == "matrix":
            for request in accounts.synapse_requests(action, domain):
                body = dict(request.body)
                if request.password_of:
                    body["password"] = _password(secrets, request.password_of) or ""
                specs.append({"method": request.method, "path": request.path, "body": body})
                owners.append(index)
        else:
            parts.append(_action_block(target, index, action, secrets))
    if specs:
        payload = _matrix_payload(target, domain, secrets, "apply", requests=specs)
        parts.append(_section("matrix", _runner(target, payload) if payload else "false",
                              stdin=True))
    parts.append('rm -f "$out" "$err"')
    return "\n".join(parts) + "\n", owners


@dataclass
class Result:
    action: Action
    ok: bool
    log: str = ""


def parse_apply(text: str, actions: Sequence[Action], owners: Sequence[int]) -> list[Result]:
    status: dict[int, bool] = {}
    logs: dict[int, list[str]] = {}
    last = -1
    for line in text.split("\n"):
        if line.startswith(MARK + "action "):
            number, _, word = line[len(MARK) + 7:].partition(" ")
            last = int(number)
            status[last] = word == "ok"
        elif line.startswith(MARK + "log ") and last >= 0:
            logs.setdefault(last, []).append(line[len(MARK) + 4:])
    if owners:
        doc, error = _matrix_doc(parse_sections(text))
        results = (doc or {}).get("results", [])
        for i, owner in enumerate(owners):
            item = results[i] if i < len(results) else {"ok": False, "error": error}
            status[owner] = status.get(owner, True) and bool(item.get("ok"))
            if not item.get("ok"):
                logs.setdefault(owner, []).append(str(item.get("error") or error))
    return [Result(a, status.get(i, False), redact("\n".join(logs.get(i, []))))
            for i, a in enumerate(actions)]


# ---------------------------------------------------------------------------------------------
# The two round trips, and what install calls


@dataclass
class Survey:
    existing: Existing
    actions: list[Action]
    lock: str = ""
    warnings: list[str] = field(default_factory=list)


def survey(transport: Any, target: Target, profile: Profile, services: Sequence[str],
           secrets: dict[str, dict[str, str]]) -> Survey:
    """What exists and what to do: one round trip, nothing changed."""
    domain = profile.commune.domaine
    aliases = [alias for alias, _name, _members in accounts.rooms_wanted(profile)]
    script = read_script(target, services, domain, secrets, aliases)
    result = transport.run("sh -s", stdin=script.encode(), timeout=300)
    existing, lock = parse_read(result.stdout.decode("utf-8", "replace"), services)
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
    results: list[Result]
    skipped: list[Action]  # removals not confirmed, creations without a password
    warnings: list[str]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]


def _needs_password(action: Action) -> bool:
    return action.kind == "create-user" or (action.kind == "enable" and (
        action.service == "jitsi" or bool(action.get("deactivated"))))


def apply(transport: Any, target: Target, profile: Profile, actions: Sequence[Action],
          secrets: dict[str, dict[str, str]], *, confirm_disable: bool) -> Outcome:
    """Apply the actions in one round trip. Removals (disable, remove-from-group) only with
    ``confirm_disable``; an account whose initial password is unknown is not created."""
    warnings: list[str] = []
    skipped = [a for a in actions if a.removal and not confirm_disable]
    nopass = [a for a in actions if _needs_password(a) and not _password(secrets, a.target)]
    if skipped:
        warnings.append(tr(
            f"{len(skipped)} retrait(s) en attente de confirmation ("
            f"{', '.join(sorted({a.target for a in skipped}))}) : kit-collab users <profil> "
            "--apply --yes", f"{len(skipped)} removal(s) awaiting confirmation ("
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
    script, owners = apply_script(target, todo, profile.commune.domaine, secrets)
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
        reporter.step(tr(f"Comptes et espaces partagés : {len(found.actions)} action(s)",
                         f"Accounts and shared spaces: {len(found.actions)} action(s)"))
    if not found.actions:
        return found.warnings
    outcome = apply(transport, target, profile, found.actions, secrets,
                    confirm_disable=confirm_disable)
    return found.warnings + outcome.warnings
