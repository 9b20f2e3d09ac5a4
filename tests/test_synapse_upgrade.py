"""Real Synapse migrations across a year of releases and a PostgreSQL major (issue 17).

Synapse 1.128.0 (released 2025-04-08, element-hq/synapse tag v1.128.0, more than a year before
the pin v1.157.1 of recipes/matrix/recipe.yaml, 2026-07-22) from PyPI in its own venv,
cached under ~/.cache/kit-collab-tests by version, runs on Debian 12's PostgreSQL 15: an
account, a room, messages and an uploaded media. Then kit-collab migrates the cluster to
Debian 13's PostgreSQL 17 (a new volume, row counts compared), and the pinned Synapse starts
on the new cluster and the same media store: it migrates its schema at start
(synapse/storage/prepare_database.py) and serves the account, the room, the messages and the
media. Every port, directory, compose project and volume is this test's own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kit_collab.apply import pg_migrate
from kit_collab.apply.scripts import pg_migrate as script
from kit_collab.apply.transport import LocalTransport
from kit_collab.plan.pg_major import PgMigration

from . import pgbed
from .checkbed import free_port
from .conftest import RUN_ID
from .test_pg_major import ENV, PASSWORD

OLD, PINNED = "1.128.0", "1.157.1"
SERVER = "saint-essai.test"
AGENT_PASSWORD = "Mot-de-passe-agent-1"  # noqa: S105 - a test account's
MEDIA = bytes(range(256)) * 64
MESSAGES = ["Bonjour à L'Haÿ-sur-Mer", "Réunion du conseil à 18 h", "Fin 🎉"]

def test_recipe_pin_is_the_release_this_test_upgrades_to() -> None:
    recipe = yaml.safe_load((Path(__file__).resolve().parent.parent / "recipes" / "matrix" /
                             "recipe.yaml").read_text("utf-8"))
    assert recipe["images"]["synapse"].endswith(f":v{PINNED}")


@contextlib.contextmanager
def synapse(version: str, config: Path) -> Iterator[str]:
    """A real Synapse of ``version`` on ``config``; its base URL once /health answers."""
    python = pgbed.synapse_venv(version)
    port = yaml.safe_load(config.read_text())["listeners"][0]["port"]
    log = (config.parent / f"synapse-{version}.log").open("wb")
    env = {"PATH": os.environ["PATH"], "HOME": str(config.parent), "LANG": "C.UTF-8"}
    proc = subprocess.Popen([python, "-m", "synapse.app.homeserver", "-c", str(config)],
                            cwd=config.parent, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (config.parent / f"synapse-{version}.log").read_text("utf-8", "replace")
                raise AssertionError(f"Synapse {version} did not start:\n{tail[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _config(tmp: Path, db_host: str) -> Path:
    folder = tmp / "synapse"
    folder.mkdir(exist_ok=True)
    path = folder / "homeserver.yaml"
    if not path.exists():
        subprocess.run([pgbed.synapse_venv(OLD), "-m", "synapse.app.homeserver", "--server-name",
                        SERVER, "--config-path", str(path), "--generate-config",
                        "--report-stats=no", "--data-directory", str(folder)],
                       cwd=folder, check=True, capture_output=True, timeout=300)
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        config.update(
            listeners=[{"port": free_port(), "bind_addresses": ["127.0.0.1"], "type": "http",
                        "x_forwarded": False, "resources": [{"names": ["client"]}]}],
            enable_registration=True, enable_registration_without_verification=True,
            trusted_key_servers=[], suppress_key_server_warning=True, report_stats=False,
            media_store_path=str(folder / "media"))
    else:
        config = yaml.safe_load(path.read_text())
    config.pop("log_config", None)  # to stderr, into the test's log file
    config["database"] = {"name": "psycopg2", "args": {
        "user": "app", "password": PASSWORD, "database": "app", "host": db_host, "port": 5432,
        "cp_min": 1, "cp_max": 5}}
    path.write_text(yaml.safe_dump(config))
    return path


def _seed(base: str) -> tuple[str, str]:
    """An account, a room, messages and a media on the old Synapse: (room, mxc URI)."""
    with httpx.Client(base_url=base, timeout=60) as http:
        reg = http.post("/_matrix/client/v3/register", json={
            "username": "mdupont", "password": AGENT_PASSWORD,
            "auth": {"type": "m.login.dummy"}})
        assert reg.status_code == 200, reg.text
        auth = {"Authorization": f"Bearer {reg.json()['access_token']}"}
        room = http.post("/_matrix/client/v3/createRoom", headers=auth,
                         json={"name": "Accueil"}).json()["room_id"]
        for i, body in enumerate(MESSAGES):
            sent = http.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{i}",
                            headers=auth, json={"msgtype": "m.text", "body": body})
            assert sent.status_code == 200, sent.text
        up = http.post("/_matrix/media/v3/upload", params={"filename": "plan.bin"},
                       headers={**auth, "Content-Type": "application/octet-stream"},
                       content=MEDIA)
        assert up.status_code == 200, up.text
        return room, up.json()["content_uri"]


def _served(base: str, room: str, mxc: str) -> None:
    """The pinned Synapse serves what the old one stored: login, room, messages, media."""
    with httpx.Client(base_url=base, timeout=60) as http:
        login = http.post("/_matrix/client/v3/login", json={
            "type": "m.login.password", "password": AGENT_PASSWORD,
            "identifier": {"type": "m.id.user", "user": "mdupont"}})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert room in http.get("/_matrix/client/v3/joined_rooms", headers=auth).json()[
            "joined_rooms"]
        page = http.get(f"/_matrix/client/v3/rooms/{room}/messages", headers=auth,
                        params={"dir": "b", "limit": 50}).json()
        bodies = [e["content"].get("body") for e in page["chunk"]
                  if e["type"] == "m.room.message"]
        assert bodies == list(reversed(MESSAGES))
        server, media_id = mxc.removeprefix("mxc://").split("/", 1)
        got = http.get(f"/_matrix/client/v1/media/download/{server}/{media_id}", headers=auth)
        assert got.status_code == 200, got.text
        assert got.content == MEDIA


@pytest.mark.slow
def test_old_synapse_data_is_served_by_the_pinned_release_after_postgres_15_to_17(
        tmp_path: Path) -> None:
    from . import dockerbed
    dockerbed.require_docker()
    pgbed.build(15)
    pgbed.build(17)
    commune = pgbed.Commune(tmp_path, f"kcsyn-{RUN_ID}-{uuid.uuid4().hex[:6]}", 15, 17, ENV)
    try:
        commune.up()
        with synapse(OLD, _config(tmp_path, commune.db_ip())) as base:
            room, mxc = _seed(base)
        deltas = "SELECT count(*) FROM applied_schema_deltas;"
        old_deltas = int(commune.sql(deltas))
        m = PgMigration("matrix", "db", ("client",), "app", "app", "db_data", "db_data",
                        "db_data-pg17", pgbed.image(15), pgbed.image(17), 15, 17)
        with LocalTransport() as transport:
            outcome = pg_migrate.migrate(transport, script.Target(commune.root, commune.slug,
                                                                   "B"), m)
        assert outcome.rows["public.events"] >= len(MESSAGES)
        assert outcome.rows["public.local_media_repository"] == 1
        commune.switch("B")
        commune.up()
        assert commune.sql("SHOW server_version;").startswith("17.")
        with synapse(PINNED, _config(tmp_path, commune.db_ip())) as base:
            _served(base, room, mxc)
        assert int(commune.sql(deltas)) > old_deltas  # the pinned release migrated the schema
    finally:
        commune.switch("A")
        commune.down()
        commune.switch("B")
        commune.down()
