"""The Synapse runner (apply/scripts/synapse_admin.py) against a small fake Synapse: an
http.server on loopback that answers the few admin and client API calls the runner makes.

The runner is run as on the server: its source, read with importlib.resources, given to
``python3 -c``, the payload on standard input, one JSON document printed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kit_collab.apply.scripts import synapse, synapse_admin

DOMAIN = "saint-essai.fr"
SHARED = "secret-partage"
BOT_PASSWORD = "mot-de-passe-robot"  # noqa: S105 (a test value)
TOKEN = "jeton-robot"  # noqa: S105


class FakeSynapse:
    """The state the handler reads and the calls it saw."""

    def __init__(self) -> None:
        self.bot_exists = False
        self.bot_admin = True
        self.rate_limit_once: set[str] = set()
        self.calls: list[tuple[str, str, Any]] = []
        self.users = [  # two pages of two
            {"name": "@mdupont:" + DOMAIN, "displayname": "Marie", "admin": True},
            {"name": "@kit-collab:" + DOMAIN, "displayname": "robot", "admin": True},
            {"name": "@ailleurs:autre.fr", "displayname": "Autre"},
            {"name": "@jagent:" + DOMAIN, "displayname": "Jean", "locked": True},
        ]
        self.rooms = {"#accueil:" + DOMAIN: "!a:" + DOMAIN}

    def answer(self, method: str, path: str, body: Any, token: str | None
               ) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, path, body))
        url = urllib.parse.urlsplit(path)
        route = urllib.parse.unquote(url.path)
        if route in self.rate_limit_once:
            self.rate_limit_once.discard(route)
            return 429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 10}
        if route == "/_synapse/admin/v1/register":
            return self._register(method, body)
        if route == "/_matrix/client/v3/login":
            ok = self.bot_exists and body["password"] == BOT_PASSWORD
            return (200, {"access_token": TOKEN}) if ok else (403, {"error": "refusé"})
        if token != TOKEN:
            return 401, {"errcode": "M_UNKNOWN_TOKEN", "error": "jeton inconnu"}
        return self._authenticated(method, route, urllib.parse.parse_qs(url.query), body)

    def _register(self, method: str, body: Any) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            return 200, {"nonce": "n0nce"}
        mac = hmac.new(SHARED.encode(), digestmod=hashlib.sha1)
        mac.update(b"n0nce\x00" + body["username"].encode() + b"\x00"
                   + body["password"].encode() + b"\x00admin")
        if body["mac"] != mac.hexdigest():
            return 403, {"error": "mauvais mac"}
        if self.bot_exists:
            return 400, {"errcode": "M_USER_IN_USE", "error": "pris"}
        self.bot_exists = True
        return 200, {"access_token": TOKEN}

    def _authenticated(self, method: str, route: str, query: dict[str, list[str]],
                       body: Any) -> tuple[int, dict[str, Any]]:
        me = "@kit-collab:" + DOMAIN
        if route == "/_matrix/client/v3/account/whoami":
            return 200, {"user_id": me}
        if route == f"/_synapse/admin/v1/users/{me}/admin":
            return 200, {"admin": self.bot_admin}
        if route.endswith("/override_ratelimit"):
            return 200, {}
        if route == "/_synapse/admin/v2/users":
            start = int(query["from"][0])
            page: dict[str, Any] = {"users": self.users[start:start + 2]}
            if start + 2 < len(self.users):
                page["next_token"] = str(start + 2)
            return 200, page
        if route.startswith("/_synapse/admin/v2/users/") and method == "GET":
            return 200, {"threepids": [{"medium": "email", "address": "m@" + DOMAIN},
                                       {"medium": "msisdn", "address": "33600"}]}
        if route.startswith("/_matrix/client/v3/directory/room/"):
            room = self.rooms.get(route.rsplit("/", 1)[1])
            return (200, {"room_id": room}) if room else (404, {"errcode": "M_NOT_FOUND"})
        if route.startswith("/_synapse/admin/v1/rooms/") and route.endswith("/state"):
            return 200, {"state": _room_state()}
        if route == "/refuse":
            return 400, {"errcode": "M_BAD_JSON", "error": "non"}
        return 200, {}


def _room_state() -> list[dict[str, Any]]:
    return [
        {"type": "m.room.name", "state_key": "", "content": {"name": "Accueil"}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"users": {
            "@kit-collab:" + DOMAIN: 100, "@mdupont:" + DOMAIN: 100,
            "@jagent:" + DOMAIN: 0, "@x:autre.fr": 100}}},
        {"type": "m.room.member", "state_key": "@mdupont:" + DOMAIN,
         "content": {"membership": "join"}},
        {"type": "m.room.member", "state_key": "@jagent:" + DOMAIN,
         "content": {"membership": "invite"}},
        {"type": "m.room.member", "state_key": "@x:autre.fr", "content": {"membership": "join"}},
    ]


@pytest.fixture
def fake() -> Iterator[tuple[FakeSynapse, str]]:
    state = FakeSynapse()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            auth = self.headers.get("Authorization") or ""
            token = auth.removeprefix("Bearer ") if auth else None
            status, doc = state.answer(self.command, self.path,
                                       json.loads(raw) if raw else None, token)
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(base: str, tmp: Path, **payload: Any) -> tuple[int, dict[str, Any]]:
    data = {"mode": "read", "base": base, "domain": DOMAIN, "bot": "kit-collab",
            "bot_password": BOT_PASSWORD, "shared_secret": SHARED,
            "token_file": str(tmp / "bot.token"), **payload}
    result = subprocess.run([sys.executable, "-c", synapse.runner_source()],
                            input=json.dumps(data), capture_output=True, text=True,
                            timeout=60)
    return result.returncode, json.loads(result.stdout)


def test_the_runner_sent_is_the_module_itself() -> None:
    source = synapse.runner_source()
    assert source == Path(synapse_admin.__file__).read_text(encoding="utf-8")
    assert "kit_collab" not in source.split('"""', 2)[2]  # the container has only Python


def test_runner_registers_the_service_account_and_reads_accounts_and_rooms(
        fake: tuple[FakeSynapse, str], tmp_path: Path) -> None:
    state, base = fake
    code, doc = _run(base, tmp_path, aliases=["accueil", "tous_les_agents"])
    assert code == 0 and doc["ok"], doc
    assert state.bot_exists  # registered with the shared secret, as a server admin
    assert [u["id"] for u in doc["users"]] == ["mdupont", "jagent"]  # bot and others aside
    assert doc["users"][0]["emails"] == ["m@" + DOMAIN]
    assert doc["users"][1]["locked"] and not doc["users"][1]["deactivated"]
    assert doc["rooms"] == [{"alias": "accueil", "room_id": "!a:" + DOMAIN, "name": "Accueil",
                             "members": {"mdupont": "join", "jagent": "invite"},
                             "admins": ["kit-collab", "mdupont"]}]
    token_file = tmp_path / "bot.token"
    assert token_file.read_text() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_runner_keeps_its_token_and_does_not_log_in_again(
        fake: tuple[FakeSynapse, str], tmp_path: Path) -> None:
    state, base = fake
    state.bot_exists = True
    assert _run(base, tmp_path)[0] == 0
    state.calls.clear()
    assert _run(base, tmp_path)[0] == 0
    assert not [c for c in state.calls if c[1].endswith("/login")]


def test_runner_applies_each_request_and_reports_each_failure(
        fake: tuple[FakeSynapse, str], tmp_path: Path) -> None:
    state, base = fake
    state.bot_exists = True
    requests = [{"method": "PUT", "path": "/_synapse/admin/v2/users/%40a%3Ax",
                 "body": {"displayname": "A"}},
                {"method": "POST", "path": "/refuse", "body": {}}]
    code, doc = _run(base, tmp_path, mode="apply", requests=requests)
    assert code == 0 and doc["ok"]
    assert doc["results"] == [{"status": 200, "ok": True, "error": None},
                              {"status": 400, "ok": False, "error": "M_BAD_JSON non"}]
    assert ("PUT", "/_synapse/admin/v2/users/%40a%3Ax", {"displayname": "A"}) in state.calls


def test_runner_waits_when_synapse_rate_limits(fake: tuple[FakeSynapse, str],
                                               tmp_path: Path) -> None:
    state, base = fake
    state.bot_exists = True
    state.rate_limit_once.add("/_synapse/admin/v2/users")
    code, doc = _run(base, tmp_path)
    assert code == 0 and len(doc["users"]) == 2
    assert sum(c[1].startswith("/_synapse/admin/v2/users?") for c in state.calls) == 3


def test_runner_refuses_a_service_account_that_is_not_admin(
        fake: tuple[FakeSynapse, str], tmp_path: Path) -> None:
    state, base = fake
    state.bot_exists, state.bot_admin = True, False
    code, doc = _run(base, tmp_path)
    assert code == 1 and doc["ok"] is False and doc["error"] == "not-admin"


def test_runner_says_when_the_service_account_has_another_password(
        fake: tuple[FakeSynapse, str], tmp_path: Path) -> None:
    state, base = fake
    state.bot_exists = True
    code, doc = _run(base, tmp_path, bot_password="autre")  # noqa: S106 (a test value)
    assert code == 1 and doc["error"] == "bot-password"


def test_runner_says_when_synapse_does_not_answer(tmp_path: Path) -> None:
    code, doc = _run("http://127.0.0.1:9", tmp_path)
    assert code == 1 and doc == {"ok": False, "error": "unreachable", "detail": doc["detail"]}
