"""A commune survives the loss of its server (issue 16): installed on the fresh Debian 13 bed
server, data created through the real services, backed up with restic to a restic REST server
(Debian's ``rclone serve restic``, real), the server container destroyed with its Docker
volume, a new fresh server started at another address, ``kit-collab restore`` onto it: the
same Matrix room, messages and media are served by the real Synapse, the files are in the
Nextcloud stand-in's volume, the agents log in to Synapse and to the real Prosody with their
unchanged passwords, health is green. Each phase prints its time.

The backup is taken by the backup side's own ``sauvegarder.sh`` (apply/scripts/backup.py),
installed and run on the server by this test as its configuration step would. The repository
password is read from the recovery sheet that ``kit-collab fiches`` writes, as a secretary
would read it from the printed sheet.

Run with: python -m pytest -m e2e tests/e2e/test_restore.py -q -s
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import dnsstub
from tests.e2e.bed import Bed
from tests.e2e.test_scenario import (
    AGENTS,
    COMMUNE_DIR,
    DOMAIN,
    NAMES,
    ROOT_DIR,
    SLUG,
    Scenario,
    _phase,
    profile_data,
)

pytestmark = pytest.mark.e2e

REST_USER = "mairie-kce2e"
FILE_TEXT = "Compte rendu du conseil municipal — L'Haÿ \"x\" $HOME #1\n"
ICS = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Conseil municipal\nEND:VEVENT\nEND:VCALENDAR\n"
MEDIA = secrets.token_bytes(20000)
MESSAGES = [f"Message {i} avant la panne — é à ç" for i in range(5)]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class RestServer:
    """``rclone serve restic`` on this machine's address on the bed's network; its account in
    an htpasswd file (nothing secret on its command line)."""

    url: str
    password: str
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def rest_server(bed: Bed, e2e_workdir: Path) -> Iterator[RestServer]:
    if shutil.which("rclone") is None:
        pytest.skip("rclone is not installed (Debian package rclone)")
    host = bed.gateway_ip
    port = _free_port(host)
    password = secrets.token_urlsafe(18)
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    htpasswd = e2e_workdir / "htpasswd"
    htpasswd.write_text(f"{REST_USER}:{{SHA}}{digest}\n")
    htpasswd.chmod(0o600)
    store = e2e_workdir / "depot-rest"
    store.mkdir()
    proc = subprocess.Popen(["rclone", "serve", "restic", "--addr", f"{host}:{port}",
                             "--htpasswd", str(htpasswd), str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex((host, port)) == 0:
                    break
            time.sleep(0.2)
        yield RestServer(f"http://{host}:{port}/{SLUG}/", password, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@dataclass
class World:
    sc: Scenario
    rest: RestServer
    profile: dict[str, Any]  # the commune's profile, as written
    data: dict[str, Any]  # what the test created and read, to compare after the restore
    passed: set[str]

    def env(self, password: str = "") -> dict[str, str]:
        env = {"KIT_COLLAB_REST_USER": REST_USER, "KIT_COLLAB_REST_PASSWORD": self.rest.password}
        if password:
            env["KIT_COLLAB_RESTIC_PASSWORD"] = password
        return env

    def require(self, *phases: str) -> None:
        missing = [p for p in phases if p not in self.passed]
        if missing:
            pytest.skip(f"an earlier phase failed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def world(bed: Bed, e2e_workdir: Path, kit_snapshot: Path,
          rest_server: RestServer) -> Iterator[World]:
    data = profile_data(bed)
    data["sauvegardes"] = {"type": "rest", "adresse": rest_server.url, "pays": "FR"}
    records = {f"{prefix}{DOMAIN}": bed.server_ip for prefix in NAMES}
    with dnsstub.running(records) as dns:
        sc = Scenario(bed, e2e_workdir, e2e_workdir / "commune.yaml", dns, kit_snapshot)
        sc.write_profile(data)
        yield World(sc, rest_server, data, {}, set())


def _matrix(sc: Scenario, method: str, path: str, token: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return sc.https(method, f"matrix.{DOMAIN}", path, headers=headers, **kwargs)


def _volume_path(sc: Scenario, volume: str) -> str:
    return sc.bed.sh(f"docker volume inspect --format '{{{{.Mountpoint}}}}' "
                     f"{SLUG}_{volume}").stdout.strip()


def test_1_install_and_create_data(world: World) -> None:
    sc = world.sc
    with _phase("R1. install, then data through the real services"):
        run = sc.kit("install", str(sc.profile), "--yes", "--force", env=world.env())
        assert run.code == 0, run.out[-4000:]
        token = sc.matrix_session(AGENTS[0])
        room = _matrix(sc, "POST", "/_matrix/client/v3/createRoom", token,
                       json={"name": "Conseil", "preset": "private_chat"}).json()["room_id"]
        for i, text in enumerate(MESSAGES):
            quoted = urllib.parse.quote(room, safe="")
            resp = _matrix(sc, "PUT", f"/_matrix/client/v3/rooms/{quoted}/send/m.room.message/"
                           f"kce2e{i}", token, json={"msgtype": "m.text", "body": text})
            assert resp.status_code == 200, resp.text
        upload = _matrix(sc, "POST", "/_matrix/media/v3/upload?filename=plan.bin", token,
                         content=MEDIA, headers={"Content-Type": "application/octet-stream"})
        assert upload.status_code == 200, upload.text
        world.data["room"], world.data["mxc"] = room, upload.json()["content_uri"]
        html = _volume_path(sc, "nextcloud_html")
        sc.bed.sh(f"mkdir -p {html}/kce2e && cat > {html}/kce2e/compte-rendu.txt",
                  stdin=FILE_TEXT)
        sc.bed.sh(f"cat > {html}/kce2e/agenda.ics", stdin=ICS)
        for agent in AGENTS:
            uid = agent["identifiant"]
            assert sc.xmpp_login(uid, sc.secrets()["comptes"][uid]) == ""
    world.passed.add("install")


def test_2_backup_to_a_rest_server_and_recovery_sheet(world: World) -> None:
    world.require("install")
    sc = world.sc
    with _phase("R2. backup (restic to rclone serve restic), recovery sheet"):
        from kit_collab.apply.scripts import backup as bk
        from kit_collab.plan.backup import plan as backup_plan
        from kit_collab.plan.changes import data_of
        from kit_collab.recipes.load import load_recipes

        recipes = load_recipes()
        data = data_of(recipes)
        versions = {name: recipes[name].spec.version for name in data}
        text = bk.backup_script(ROOT_DIR, backup_plan(SLUG, COMMUNE_DIR, data, versions))
        env = bk.env_file(f"{COMMUNE_DIR}/secrets", "rest", f"rest:{world.rest.url}",
                          {"KIT_COLLAB_REST_USER": REST_USER,
                           "KIT_COLLAB_REST_PASSWORD": world.rest.password})
        sc.bed.sh(bk.configure(ROOT_DIR, SLUG, "rest", f"rest:{world.rest.url}"), stdin=env)
        sc.bed.sh(bk.install_script(ROOT_DIR, SLUG, text), stdin=text)
        started = time.monotonic()
        done = sc.bed.sh(bk.run(ROOT_DIR, SLUG), check=False, timeout=900)
        print(f"[kce2e] backup: code {done.returncode} in {time.monotonic() - started:.1f} s")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        sheets = sc.kit("fiches", str(sc.profile))
        assert sheets.code == 0, sheets.out
        sheet = (sc.workdir / f"fiches-{SLUG}" / "fiche-de-secours.html").read_text()
        found = re.search(r"Mot de passe du dépôt</th><td class=\"code\">([^<]+)</td>", sheet)
        assert found, sheet[:2000]
        world.data["password"] = found.group(1)
        assert world.data["password"] == sc.bed.sh(
            f"cat {COMMUNE_DIR}/secrets/restic.pass").stdout.strip()
        assert world.data["password"] not in sheets.out
        world.data["accounts"] = sc.secrets()["comptes"]
    world.passed.add("backup")


def test_3_server_lost_and_restored_onto_a_new_one(world: World) -> None:
    world.require("backup")
    sc, bed = world.sc, world.sc.bed
    with _phase("R3. server destroyed with its volumes; a new fresh server"):
        old_ip = bed.server_ip
        bed.replace_server()
        assert bed.server_ip != old_ip
        assert "kit-collab" not in bed.sh("ls /opt", check=False).stdout
        world.profile["serveur"] = dict(world.profile["serveur"], hote=bed.server_ip)
        sc.write_profile(world.profile)
        sc.ca_pem = ""  # the new server's proxy makes its own authority
    with _phase("R4. kit-collab restore onto the new server"):
        wrong = sc.kit("restore", str(sc.profile), "--yes",
                       env=world.env("pas-le-bon-mot-de-passe-du-depot"))
        assert wrong.code == 2 and "mot de passe du dépôt de sauvegarde incorrect" in wrong.out
        run = sc.kit("restore", str(sc.profile), "--yes",
                     env=world.env(world.data["password"]), timeout=3600)
        assert run.code == 0, run.out[-6000:]
        assert world.data["password"] not in run.out
        assert world.rest.password not in run.out
        assert "Enregistrements DNS à changer" in run.out and bed.server_ip in run.out
        assert "Contrôles de santé" in run.out
    world.passed.add("restore")


def test_4_the_same_data_is_served_again(world: World) -> None:
    world.require("restore")
    sc = world.sc
    records = {f"{prefix}{DOMAIN}": sc.bed.server_ip for prefix in NAMES}
    with _phase("R5. room, messages, media, files, logins after the restore"):
        assert sc.secrets()["comptes"] == world.data["accounts"]
        token = sc.matrix_session(AGENTS[0])  # the unchanged password
        quoted = urllib.parse.quote(world.data["room"], safe="")
        msgs = _matrix(sc, "GET", f"/_matrix/client/v3/rooms/{quoted}/messages?dir=b&limit=50",
                       token).json()
        bodies = [e["content"].get("body") for e in msgs.get("chunk", [])
                  if e.get("type") == "m.room.message"]
        assert sorted(b for b in bodies if b) == sorted(MESSAGES), msgs
        server, media_id = world.data["mxc"].removeprefix("mxc://").split("/", 1)
        media = _matrix(sc, "GET", f"/_matrix/client/v1/media/download/{server}/{media_id}",
                        token)
        assert media.status_code == 200 and media.content == MEDIA
        html = _volume_path(sc, "nextcloud_html")
        assert sc.bed.sh(f"cat {html}/kce2e/compte-rendu.txt").stdout == FILE_TEXT
        assert sc.bed.sh(f"cat {html}/kce2e/agenda.ics").stdout == ICS
        for agent in AGENTS:
            uid = agent["identifiant"]
            assert sc.xmpp_login(uid, world.data["accounts"][uid]) == ""
        with dnsstub.running(records) as dns:
            sc.dns = dns
            _run, report = sc.check()
        # restore ended with the new server's own first backup: check is green at once.
        errors = [f for f in report["constats"] if f["niveau"] == "erreur"]
        assert errors == [], errors
