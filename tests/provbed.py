"""Real services for the provisioning tests: a Synapse and a Prosody on loopback.

- Synapse: matrix-synapse from this Python, started from the matrix recipe's own rendered
  homeserver.yaml with only the test-run changes (SQLite, a loopback port, paths under tmp);
  its secrets (service account password, registration shared secret) are the bundle's.
- Prosody: Debian 13's Prosody 13 (the major the Jitsi image runs, issue 14 item 11), in a
  container of the e2e bed's ``kce2e/prosody`` image (Debian 13 root filesystem plus
  ``apt-get install prosody``), built on demand by tests/e2e/build_images.py and cached by
  content (a second session finds it up to date in about a second). The test runs
  ``prosody`` itself with a config under tmp, bind-mounted at the same path (own data
  directory, client port on 127.0.0.1 only in the host's network, no TLS so that a SASL
  PLAIN login can be checked by hand); ``prosodyctl`` on the test's PATH runs the
  container's own (``docker exec -i``: passwords still travel on its standard input).
  Skipped, with the reason, only when Docker is absent.
Both are stopped by their PID (the container by its id). ``local_target`` points
provisioning at them: the very same scripts run through a LocalTransport, with each command
run here instead of in a container.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.apply import provision
from kit_collab.bundle import render
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM, ensure_secrets, user_ids
from kit_collab.operations.prepare import write_bundle
from kit_collab.profile.model import Profile

from .conftest import base_profile

DOMAIN = "saint-essai.fr"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def profile_data(*, matrix: bool = False, jitsi: bool = False) -> dict[str, Any]:
    """Saint-Essai with three agents in two services (one administrator)."""
    data = base_profile()
    data["services"] = {"nextcloud": {"actif": False}, "matrix": {"actif": matrix},
                        "jitsi": {"actif": jitsi}}
    data["services_municipaux"] = [{"id": "accueil", "nom": "Accueil"},
                                   {"id": "urbanisme", "nom": "Urbanisme & « Travaux »"}]
    data["utilisateurs"] += [
        {"identifiant": "jagent", "nom": "Jean Agent", "email": "jean@saint-essai.fr",
         "services_municipaux": ["accueil", "urbanisme"]},
        {"identifiant": "lpetit", "nom": "Léa Petit", "email": "lea@saint-essai.fr",
         "services_municipaux": ["urbanisme"]},
    ]
    return data


def profile_of(data: dict[str, Any]) -> Profile:
    return Profile.model_validate(data)


def secrets_for(profile: Profile, known: render.Secrets | None = None) -> render.Secrets:
    """The bundle's secrets, plus an initial password per agent (as install keeps them)."""
    from kit_collab.recipes.load import load_recipes

    active = active_recipes(profile, load_recipes())
    secrets, _ = ensure_secrets(active, known, user_ids(profile), SYSTEM)
    return secrets


def local_target(tmp: Path, **fields: Any) -> provision.Target:
    return provision.Target(root=str(tmp / "srv"), slug="saint-essai-fr",
                            python=sys.executable, local=True, **fields)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _wait(check: Any, proc: subprocess.Popen[bytes], log: Path, what: str,
          deadline_s: float = 45) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if check():
                return
        time.sleep(0.1)
    pytest.fail(f"{what} not ready in {deadline_s} s:\n{log.read_text()[-3000:]}")


# ---------------------------------------------------------------------------------------------
# Synapse


@dataclass
class Synapse:
    port: int
    secrets: render.Secrets
    tmp: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             token: str | None = None) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw or b"{}")
            except ValueError:
                return resp.status, {"text": raw.decode("utf-8", "replace")}
        finally:
            conn.close()

    def login(self, user: str, password: str) -> tuple[int, dict[str, Any]]:
        return self.call("POST", "/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password})

    def bot_token(self) -> str:
        """The token the service account keeps (provisioning saved it): no new login. A
        non-root runner provisions through sudo, so the 0600 file is root's: read it so."""
        path = self.tmp / "bot.token"
        if os.geteuid() == 0 or os.access(path, os.R_OK):
            return path.read_text().strip()
        return subprocess.run(["sudo", "-n", "cat", str(path)], capture_output=True,
                              text=True, check=True).stdout.strip()


def _synapse_config(tmp: Path, secrets: render.Secrets, port: int) -> Path:
    from kit_collab.recipes.load import load_recipes

    profile = profile_of(profile_data(matrix=True))
    bundle = make_bundle(profile, load_recipes(), draw=SYSTEM, secrets=secrets).bundle
    out = tmp / "out"
    write_bundle(bundle, str(out))
    release = out / bundle.release_dir / "matrix"
    config = yaml.safe_load((release / "homeserver.yaml").read_text("utf-8"))
    for name in ("signing.key", "log.config"):
        shutil.copy(release / name, tmp / name)
    config.update(signing_key_path=str(tmp / "signing.key"), log_config=str(tmp / "log.config"),
                  media_store_path=str(tmp / "media"), pid_file=str(tmp / "homeserver.pid"),
                  database={"name": "sqlite3", "args": {"database": str(tmp / "synapse.db")}})
    config["listeners"][0].update(port=port, bind_addresses=["127.0.0.1"])
    # The tests log agents in many times from 127.0.0.1 (the service account itself logs in
    # once and keeps its token): Synapse's 5 logins per address would make them wait.
    relaxed = {"per_second": 100, "burst_count": 100}
    config["rc_login"] = {"address": relaxed, "account": relaxed, "failed_attempts": relaxed}
    path = tmp / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_synapse(tmp: Path) -> Iterator[Synapse]:
    pytest.importorskip("synapse", reason="matrix-synapse is not installed")
    secrets = secrets_for(profile_of(profile_data(matrix=True)))
    port = free_port()
    config = _synapse_config(tmp, secrets, port)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
    log = tmp / "synapse.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver",
                                 "--config-path", str(config)], cwd=tmp, stdout=sink,
                                stderr=subprocess.STDOUT, env=env)
    server = Synapse(port, secrets, tmp)
    try:
        _wait(lambda: server.call("GET", "/health")[0] == 200, proc, log, "synapse")
        yield server
    finally:
        _stop(proc)


# ---------------------------------------------------------------------------------------------
# Prosody

PROSODY_CONFIG = """\
-- kit-collab tests: a throwaway Prosody under {root}, reachable on 127.0.0.1 only.
daemonize = false
run_as_root = true
pidfile = "{root}/prosody.pid"
data_path = "{root}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{root}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
modules_enabled = {{ "saslauth", "disco", "ping" }}
modules_disabled = {{ "s2s", "offline", "c2s_tls" }}
-- Plain text on loopback, for the test's own SASL PLAIN login.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
VirtualHost "meet.jitsi"
"""


@dataclass
class Prosody:
    port: int
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "prosody.cfg.lua"

    def account_file(self, user: str) -> Path:
        return self.root / "data" / provision.prosody_host_dir() / "accounts" / f"{user}.dat"

    def can_login(self, user: str, password: str) -> bool:
        """A real XMPP client login: stream, SASL PLAIN, success or failure."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(b"<?xml version='1.0'?><stream:stream to='meet.jitsi' "
                         b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                         b" version='1.0'>")
            buffer = b""
            while b"</stream:features>" not in buffer:
                chunk = sock.recv(4096)
                assert chunk, buffer
                buffer += chunk
            assert b"<mechanism>PLAIN</mechanism>" in buffer, buffer
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            sock.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                         f"{token}</auth>".encode())
            answer = b""
            while b"<success" not in answer and b"<failure" not in answer:
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
            return b"<success" in answer


PROSODY_IMAGE = "kce2e/prosody"
_IMAGE_READY: list[str] = []  # the image's id once built or found up to date this session


def _docker(*args: str, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600,
                            input=stdin)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {args[0]}: {(result.stderr or result.stdout)[-1500:]}")
    return result


def require_prosody() -> None:
    """Docker, and the Prosody 13 image (built here when missing or out of date)."""
    if shutil.which("docker") is None or _docker("info", check=False).returncode != 0:
        pytest.skip("Docker is not available: the Jitsi accounts are tested against "
                    "Prosody 13 in a container (kce2e/prosody)")
    if _IMAGE_READY:
        return
    from tests.e2e import build_images

    started = time.monotonic()
    if build_images.main(["--only", "prosody"]) != 0:
        pytest.fail("tests/e2e/build_images.py --only prosody failed (mmdebstrap missing?)")
    _IMAGE_READY.append(_docker("image", "inspect", "--format", "{{.Id}}",
                                PROSODY_IMAGE).stdout.strip())
    print(f"[provbed] {PROSODY_IMAGE} ready in {time.monotonic() - started:.1f} s")


def prosody_version() -> str:
    """The version of the Prosody the tests run ("13.0.x")."""
    require_prosody()
    about = _docker("run", "--rm", "--entrypoint", "prosodyctl", PROSODY_IMAGE, "about")
    first = next((line.split() for line in (about.stdout + about.stderr).splitlines()
                  if line.startswith("Prosody ")), ["", ""])
    return first[1]  # "Prosody 13.0.1"


def _prosodyctl_wrapper(root: Path, container: str) -> Path:
    """A ``prosodyctl`` for this machine that runs the container's own (its standard input
    passed on, as ``docker compose exec`` does on a server)."""
    folder = root / "bin"
    folder.mkdir(exist_ok=True)
    wrapper = folder / "prosodyctl"
    wrapper.write_text(f'#!/bin/sh\nexec docker exec -i {container} prosodyctl "$@"\n')
    wrapper.chmod(0o755)
    return folder


@contextlib.contextmanager
def running_prosody(root: Path) -> Iterator[Prosody]:
    require_prosody()
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    server = Prosody(free_port(), root)
    server.config.write_text(PROSODY_CONFIG.format(root=root, port=server.port))
    name = f"kctest-{os.getpid()}-{server.port}-prosody"
    cid = _docker("create", "--name", name, "--network", "host", "--entrypoint", "prosody",
                  "-v", f"{root}:{root}", "-w", str(root), "--label", "org.kctest.prosody=1",
                  PROSODY_IMAGE, "--config", str(server.config)).stdout.strip()
    previous = os.environ.get("PATH", "/usr/bin:/bin")
    os.environ["PATH"] = f"{_prosodyctl_wrapper(root, cid)}{os.pathsep}{previous}"

    def accepting() -> bool:
        with socket.create_connection(("127.0.0.1", server.port), timeout=1):
            return True

    try:
        _docker("start", cid)
        _wait_container(accepting, cid, "prosody", deadline_s=30)
        yield server
    finally:
        os.environ["PATH"] = previous
        _docker("rm", "-f", cid, check=False)


def _wait_container(check: Any, name: str, what: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        state = _docker("inspect", "--format", "{{.State.Running}}", name, check=False)
        if state.stdout.strip() != "true":
            logs = _docker("logs", name, check=False)
            pytest.fail(f"{what} exited:\n{(logs.stdout + logs.stderr)[-3000:]}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    logs = _docker("logs", name, check=False)
    pytest.fail(f"{what} not ready in {deadline_s} s:\n{(logs.stdout + logs.stderr)[-3000:]}")
