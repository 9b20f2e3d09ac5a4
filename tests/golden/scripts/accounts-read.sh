set -u
err="$(mktemp)"
printf '\n@@kc:begin %s\n' lock
cat /opt/kit-collab/communes/saint-essai-fr/.lock/info 2>/dev/null || true </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' lock "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' lock.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' lock.err
fi

printf '\n@@kc:begin %s\n' nextcloud-users
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ user:list --info --output=json --limit=100000 </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' nextcloud-users "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' nextcloud-users.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' nextcloud-users.err
fi

printf '\n@@kc:begin %s\n' nextcloud-groups
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ group:list --output=json --limit=100000 </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' nextcloud-groups "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' nextcloud-groups.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' nextcloud-groups.err
fi

printf '\n@@kc:begin %s\n' nextcloud-folders
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ groupfolders:list --output=json </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' nextcloud-folders "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' nextcloud-folders.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' nextcloud-folders.err
fi

printf '\n@@kc:begin %s\n' matrix
printf '%s' '{"mode": "read", "base": "http://127.0.0.1:8008", "domain": "saint-essai.fr", "token_file": "/data/kit-collab.token", "bot": "kit-collab", "bot_password": "bot-secret-123", "shared_secret": "s3", "aliases": ["accueil", "tous_les_agents"]}' | docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 991 matrix-synapse python3 -c '"""The Synapse runner: a standard-library program run in the Synapse container.

kit-collab sends this file'"'"'s own source as ``python3 -c <source>`` (read with
importlib.resources), with a JSON payload on its standard input; it prints one JSON
document. It logs in as the kit-collab service account (registering it, as a server admin,
with the registration shared secret the first time), then either reads the accounts and
the rooms (``mode: read``) or sends the request specs of accounts.synapse_requests as they
are (``mode: apply``). Nothing here imports kit-collab: the container has only Python.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
Doc = dict[str, Any]


class Fail(Exception):
    """A step that failed: its name (args[0]) and what Synapse said."""


def call(base: str, method: str, path: str, body: Any = None,
         token: str | None = None) -> tuple[int, Doc]:
    """One request; rate-limited answers (429) are retried after the delay Synapse asks."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    for _ in range(20):
        req = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with OPENER.open(req, timeout=60) as resp:
                status: int = resp.status
                return status, json.loads(resp.read() or b"{}")
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
            raise Fail("unreachable", str(exc)) from None
    return 429, {"errcode": "M_LIMIT_EXCEEDED", "error": "rate limited"}


def q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def register_bot(p: Doc) -> str:
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
    token: str = reg["access_token"]
    return token


def saved_token(p: Doc, me: str) -> str | None:
    """The service account'"'"'s access token kept from an earlier run (Synapse lets an address
    log in 5 times, then once every 5 minutes: logging in on every run would soon wait)."""
    try:
        with open(p["token_file"]) as handle:
            token = handle.read().strip()
    except (OSError, KeyError):
        return None
    status, doc = call(p["base"], "GET", "/_matrix/client/v3/account/whoami", None, token)
    return token if status == 200 and doc.get("user_id") == me else None


def save_token(p: Doc, token: str) -> None:
    try:
        fd = os.open(p["token_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
    except (OSError, KeyError):
        pass


def _new_token(p: Doc) -> str:
    status, doc = call(p["base"], "POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": p["bot"]},
        "password": p["bot_password"], "initial_device_display_name": "kit-collab"})
    if status == 200:
        token: str = doc["access_token"]
        return token
    if status == 403 and p.get("shared_secret"):
        return register_bot(p)
    raise Fail("login", doc.get("error"))


def login(p: Doc) -> str:
    """The service account'"'"'s token; it must be a server admin, without a rate limit."""
    me = "@{}:{}".format(p["bot"], p["domain"])
    token = saved_token(p, me)
    if token is None:
        token = _new_token(p)
        save_token(p, token)
    status, doc = call(p["base"], "GET", f"/_synapse/admin/v1/users/{q(me)}/admin", None,
                       token)
    if status != 200 or not doc.get("admin"):
        raise Fail("not-admin", doc.get("error"))
    # The service account creates rooms and adds members in bursts: no rate limit for it.
    call(p["base"], "POST", f"/_synapse/admin/v1/users/{q(me)}/override_ratelimit",
         {"messages_per_second": 0, "burst_count": 0}, token)
    return token


def _user(p: Doc, token: str, user: Doc, suffix: str) -> Doc:
    name = user["name"]
    _status, info = call(p["base"], "GET", "/_synapse/admin/v2/users/" + q(name), None, token)
    emails = [t["address"] for t in info.get("threepids", []) if t.get("medium") == "email"]
    return {"id": name[1:-len(suffix)], "name": user.get("displayname"),
            "admin": bool(user.get("admin")), "deactivated": bool(user.get("deactivated")),
            "locked": bool(user.get("locked")), "emails": emails}


def read_users(p: Doc, token: str) -> list[Doc]:
    """The accounts of the commune'"'"'s domain (the service account aside), page by page."""
    suffix = ":" + p["domain"]
    users: list[Doc] = []
    start = 0
    while True:
        status, doc = call(p["base"], "GET", f"/_synapse/admin/v2/users?from={start}&limit=500"
                           "&guests=false&deactivated=true&locked=true", None, token)
        if status != 200:
            raise Fail("users", doc.get("error"))
        for user in doc.get("users", []):
            name = user["name"]
            if name.endswith(suffix) and name[1:-len(suffix)] != p["bot"]:
                users.append(_user(p, token, user, suffix))
        if "next_token" not in doc:
            return users
        start = int(doc["next_token"])


def _room(alias: str, room_id: str, state: Doc, suffix: str) -> Doc:
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
    return {"alias": alias, "room_id": room_id, "name": name, "members": members,
            "admins": admins}


def read_rooms(p: Doc, token: str) -> list[Doc]:
    """The rooms kit-collab manages (by alias) that exist, with members and admins."""
    base, domain = p["base"], p["domain"]
    rooms = []
    for alias in p.get("aliases", []):
        status, found = call(base, "GET", "/_matrix/client/v3/directory/room/"
                             + q(f"#{alias}:{domain}"), None, token)
        if status == 404:
            continue
        if status != 200:
            raise Fail("rooms", found.get("error"))
        room_id = found["room_id"]
        status, state = call(base, "GET", f"/_synapse/admin/v1/rooms/{q(room_id)}/state",
                             None, token)
        if status != 200:
            raise Fail("rooms", state.get("error"))
        rooms.append(_room(alias, room_id, state, ":" + domain))
    return rooms


def read(p: Doc, token: str) -> Doc:
    return {"users": read_users(p, token), "rooms": read_rooms(p, token)}


def apply(p: Doc, token: str) -> Doc:
    results = []
    for spec in p.get("requests", []):
        status, doc = call(p["base"], spec["method"], spec["path"], spec.get("body"), token)
        ok = 200 <= status < 300
        results.append({"status": status, "ok": ok, "error": None if ok else
                        "{} {}".format(doc.get("errcode"), doc.get("error"))})
    return {"results": results}


def main() -> int:
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


if __name__ == "__main__":
    sys.exit(main())
' 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' matrix "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' matrix.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' matrix.err
fi

printf '\n@@kc:begin %s\n' jitsi-users
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 1000 jitsi-prosody sh -c 'd=$(prosodyctl --config "$1" about 2>/dev/null | sed -n '"'"'s/^Data directory: *//p'"'"'); [ -n "$d" ] || { echo '"'"'prosodyctl about: no data directory'"'"' >&2; exit 3; }; if [ -d "$d"/meet%2ejitsi/accounts ]; then ls -1 "$d"/meet%2ejitsi/accounts; fi' sh /run/prosody/config/prosody.cfg.lua </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' jitsi-users "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' jitsi-users.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' jitsi-users.err
fi

printf '\n@@kc:begin %s\n' jitsi-disabled
cat /opt/kit-collab/communes/saint-essai-fr/jitsi-desactives 2>/dev/null || true </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' jitsi-disabled "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' jitsi-disabled.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' jitsi-disabled.err
fi

rm -f "$err"
