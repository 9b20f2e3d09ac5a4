"""The whole path, as a user runs it (issues 7 and 14): kit-collab's CLI, in a subprocess,
against a "fresh Debian 13 server" container (systemd as PID 1, sshd, sudo: no Docker, no
compose, no firewall) with a local registry as its registry mirror, on this machine's Docker
engine; and a real Debian 12 server, which kit-collab refuses.

Real here: kit-collab end to end (SSH with a pinned host key, bootstrap installing Docker and
compose v2 with apt from the Debian registry and enabling them through systemd, ufw and the
registry mirror, upload, pull, compose, tasks, account provisioning, HTTPS health checks
through the deployed Caddy and its internal CA, a reboot, rollback); Caddy, PostgreSQL,
Redis, coturn (Debian 12 packages), Prosody 13 (Debian 13's package), Matrix Synapse (PyPI,
the pinned version). Stand-ins
("substituts", see images/standin/): Nextcloud (with a `php occ` that keeps state), Element
Web, Collabora, Jitsi's web, jicofo and jvb. The images keep their upstream names and tags in
the rendered compose files; the versions inside differ for the Debian-packaged services
(e.g. PostgreSQL 15 under postgres:17.11, coturn 4.6 under coturn/coturn:4.17.0-r0).

The phases run in order on one server; each prints its timing (and each kit-collab step's),
and a phase whose predecessor failed is skipped. kit-collab's code and recipes are copied at
the start (conftest.kit_snapshot), so one version runs throughout.
Run with: python -m pytest -m e2e tests/e2e -q -s   (KCE2E_KEEP=1 keeps the bed for a look)
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e import dnsstub
from tests.e2e.bed import SERVER_USER, Bed, env_for_cli
from tests.e2e.timings import record

pytestmark = pytest.mark.e2e

DOMAIN = "saint-martin-kce2e.test"  # a reserved TLD (RFC 6761): no real domain is asked for
SLUG = DOMAIN.replace(".", "-")
ROOT_DIR = "/opt/kit-collab"
COMMUNE_DIR = f"{ROOT_DIR}/communes/{SLUG}"
MIRROR = "http://registry:5000"
NAMES = ("", "cloud.", "office.", "matrix.", "discussion.", "visio.", "turn.")

AGENTS = [
    {"identifiant": "mdupont", "nom": "Marie Dupont", "email": f"marie.dupont@{DOMAIN}",
     "role": "administrateur", "services_municipaux": ["accueil"]},
    {"identifiant": "jmartin", "nom": "Jean Martin", "email": f"jean.martin@{DOMAIN}",
     "role": "agent", "services_municipaux": ["urbanisme"]},
]
NEW_AGENT = {"identifiant": "lbernard", "nom": "Léa Bernard", "email": f"lea.bernard@{DOMAIN}",
             "role": "agent", "services_municipaux": ["etat-civil"]}
NEW_SERVICE = {"id": "etat-civil", "nom": "État civil"}


def profile_data(bed: Bed) -> dict[str, Any]:
    return {
        "commune": {"nom": "Saint-Martin-l'Écluse", "domaine": DOMAIN,
                    "email_contact": f"mairie@{DOMAIN}"},
        "serveur": {"hote": bed.server_ip, "utilisateur": SERVER_USER,
                    "cle_ssh": str(bed.key_file), "empreinte_hote": bed.fingerprint,
                    "hebergeur": "banc de test kce2e", "pays": "FR",
                    "miroir_registre": MIRROR, "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True, "collabora": True},
                     "matrix": {"actif": True, "identifiants": "domaine-vers-serveur"},
                     "jitsi": {"actif": True}},
        "services_municipaux": [{"id": "accueil", "nom": "Accueil"},
                                {"id": "urbanisme", "nom": "Urbanisme & travaux"}],
        "utilisateurs": copy.deepcopy(AGENTS),
    }


@dataclass
class Run:
    code: int
    out: str
    seconds: float


@dataclass
class Scenario:
    bed: Bed
    workdir: Path
    profile: Path
    dns: dnsstub.DnsStub
    code_dir: Path  # kit-collab's code and recipes, copied at the start
    passed: set[str] = field(default_factory=set)
    release: str = ""  # the release that should be in place
    ca_pem: str = ""

    # -- the CLI, as a user runs it ------------------------------------------------------------

    def kit(self, *args: str, env: dict[str, str] | None = None, show: bool = True,
            timeout: float = 1800) -> Run:
        """Run kit-collab; its output is read as it comes, so that each step ("→ ...") gets
        its duration (until the next step, or the end)."""
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "kit_collab", *args], cwd=self.workdir,
                                env={**env_for_cli(self.workdir, self.code_dir),
                                     **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        lines: list[tuple[float, str]] = []
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            for line in proc.stdout:
                lines.append((time.monotonic() - started, line.rstrip("\n")))
            code = proc.wait()
        finally:
            killer.cancel()
        run = Run(code, "\n".join(text for _t, text in lines) + "\n",
                  time.monotonic() - started)
        if show:
            print(f"\n$ kit-collab {' '.join(args)}   → code {run.code} en {run.seconds:.1f} s")
            steps = [(t, text) for t, text in lines if text.startswith("→ ")]
            for t, text in lines:
                # The tables are long: their lines with a problem and the rest of the text.
                if text[:1] in "┏┃┡│└━┗" and "✗" not in text:
                    continue
                if text.startswith("→ ") and not text.startswith("→   "):
                    following = [at for at, step in steps
                                 if at > t and not step.startswith("→   ")]
                    end = following[0] if following else run.seconds
                    print(f"    | {text}   [{end - t:.1f} s]")
                else:
                    print(f"    | {text}")
        return run

    def check(self, *extra: str, deadline: float = 60) -> tuple[Run, dict[str, Any]]:
        """`kit-collab check --json` with the stub DNS and every name at the server."""
        run = self.kit("check", str(self.profile), "--json", "--dns", self.dns.address,
                       "--resolve", f"*:{self.bed.server_ip}", "--deadline", str(deadline),
                       *extra, show=False)
        print(f"\n$ kit-collab check --json …   → code {run.code} en {run.seconds:.1f} s")
        try:
            report = json.loads(run.out[run.out.index("{"):])["communes"][0]["rapport"]
        except ValueError:
            pytest.fail(f"check --json did not print JSON:\n{run.out[-3000:]}")
        for finding in report["constats"]:
            if finding["niveau"] != "ok":
                print(f"    | {finding['niveau']}: {finding['service']} / "
                      f"{finding['controle']}: {finding['message']}")
        print(f"    | {report['resume']}")
        return run, report

    def require(self, *phases: str) -> None:
        missing = [p for p in phases if p not in self.passed]
        if missing:
            pytest.skip(f"an earlier phase failed: {', '.join(missing)}")

    def write_profile(self, data: dict[str, Any]) -> None:
        self.profile.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                encoding="utf-8")

    # -- what the server holds -----------------------------------------------------------------

    def current(self) -> str:
        return self.bed.sh(f"basename $(readlink {COMMUNE_DIR}/current)").stdout.strip()

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.bed.sh(f"cat {COMMUNE_DIR}/state.json").stdout)
        return found

    def secrets(self) -> dict[str, Any]:
        return self.bed.secrets_json(SLUG)

    def snapshot(self) -> dict[str, tuple[str, str]]:
        """Every container of the commune and of the proxy: (id, start time)."""
        out = {}
        for project in (SLUG, "kit-collab-proxy"):
            for service, c in self.bed.containers(project).items():
                out[f"{project}/{service}"] = (c["id"], c["started"])
        return out

    def occ(self, *args: str) -> Any:
        result = self.bed.compose(SLUG, "exec", "-T", "-u", "33", "nextcloud", "php", "occ",
                                  *args)
        return json.loads(result.stdout)

    def xmpp_login(self, user: str, password: str) -> str:
        """A login to the real Prosody on meet.jitsi, from the jicofo stand-in's container
        (the password travels on stdin): '' when it succeeds."""
        code = ("import sys; sys.path.insert(0, '/usr/local/lib/kce2e'); "
                "from standin import xmpp_login; "
                "print(xmpp_login('xmpp.meet.jitsi', 5222, 'meet.jitsi', sys.argv[1], "
                "sys.stdin.read()) or 'ok')")
        out = self.bed.compose(SLUG, "exec", "-T", "jitsi-jicofo", "python3", "-c", code, user,
                               stdin=password, check=False)
        text = (out.stdout + out.stderr).strip()
        return "" if text.endswith("ok") else text

    # -- HTTPS through the deployed Caddy, trusting its internal authority --------------------

    def internal_ca(self) -> str:
        """Caddy's root certificate, read as kit-collab reads it (over its SSH transport)."""
        if not self.ca_pem:
            from kit_collab.apply.transport import connect
            from kit_collab.operations.diagnose import internal_ca
            from kit_collab.profile.load import load_profile

            profile = load_profile(self.profile)
            with connect(profile.serveur,
                         known_hosts_file=self.workdir / "known_hosts") as transport:
                self.ca_pem = internal_ca(transport, ROOT_DIR) or ""
            assert "BEGIN CERTIFICATE" in self.ca_pem, "no internal CA in the proxy"
        return self.ca_pem

    def https(self, method: str, host: str, path: str, **kwargs: Any) -> httpx.Response:
        import ssl

        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cadata=self.internal_ca())
        headers = {"Host": host, **kwargs.pop("headers", {})}
        with httpx.Client(verify=ctx, timeout=20, trust_env=False) as client:
            return client.request(method, f"https://{self.bed.server_ip}{path}",
                                  headers=headers, extensions={"sni_hostname": host}, **kwargs)

    def matrix_login(self, user: str, password: str) -> tuple[int, dict[str, Any]]:
        resp = self.https("POST", f"matrix.{DOMAIN}", "/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
            "password": password, "initial_device_display_name": "kce2e"})
        return resp.status_code, resp.json()

    def matrix_rooms(self, token: str) -> set[str]:
        """Aliases (without '#' and domain) of the rooms the account is invited to or in."""
        auth = {"Authorization": f"Bearer {token}"}
        sync = self.https("GET", f"matrix.{DOMAIN}", "/_matrix/client/v3/sync?timeout=0",
                          headers=auth).json()
        rooms = set(sync.get("rooms", {}).get("invite", {})) | set(
            sync.get("rooms", {}).get("join", {}))
        found = set()
        for alias in ("accueil", "urbanisme", NEW_SERVICE["id"]):
            quoted = urllib.parse.quote(f"#{alias}:{DOMAIN}", safe="")
            resp = self.https("GET", f"matrix.{DOMAIN}",
                              f"/_matrix/client/v3/directory/room/{quoted}", headers=auth)
            if resp.status_code == 200 and resp.json().get("room_id") in rooms:
                found.add(alias)
        return found

    def matrix_session(self, agent: dict[str, Any]) -> str:
        uid = agent["identifiant"]
        status, body = self.matrix_login(uid, self.secrets()["comptes"][uid])
        assert status == 200, f"Matrix login of {uid}: {status} {body}"
        return str(body["access_token"])

    def matrix_alias_exists(self, token: str, alias: str) -> bool:
        quoted = urllib.parse.quote(f"#{alias}:{DOMAIN}", safe="")
        resp = self.https("GET", f"matrix.{DOMAIN}",
                          f"/_matrix/client/v3/directory/room/{quoted}",
                          headers={"Authorization": f"Bearer {token}"})
        return resp.status_code == 200

    def matrix_logout(self, token: str) -> None:
        self.https("POST", f"matrix.{DOMAIN}", "/_matrix/client/v3/logout", json={},
                   headers={"Authorization": f"Bearer {token}"})

    def agent_can_chat(self, agent: dict[str, Any]) -> set[str]:
        """The agent logs in to Matrix with the initial password of the profile's accounts;
        returns the service rooms they are in or invited to."""
        uid = agent["identifiant"]
        password = self.secrets()["comptes"][uid]
        status, body = self.matrix_login(uid, password)
        assert status == 200, f"Matrix login of {uid}: {status} {body}"
        assert body["user_id"] == f"@{uid}:{DOMAIN}"
        try:
            return self.matrix_rooms(body["access_token"])
        finally:
            self.matrix_logout(body["access_token"])


@pytest.fixture(scope="module")
def scenario(bed: Bed, e2e_workdir: Path, kit_snapshot: Path) -> Iterator[Scenario]:
    records = {f"{prefix}{DOMAIN}": bed.server_ip for prefix in NAMES}
    with dnsstub.running(records) as dns:
        sc = Scenario(bed, e2e_workdir, e2e_workdir / "commune.yaml", dns, kit_snapshot)
        sc.write_profile(profile_data(bed))
        yield sc


def _phase(name: str) -> Any:
    """Time a phase and print it, whatever its outcome."""

    class Timer:
        def __enter__(self) -> Timer:
            print(f"\n[kce2e] ===== {name} =====", flush=True)
            self.started = time.monotonic()
            return self

        def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> None:
            result = "ok" if kind is None else (
                "sauté" if kind is pytest.skip.Exception else "ÉCHEC")
            record(name, time.monotonic() - self.started, result)

    return Timer()


def _warnings(run: Run) -> list[str]:
    """The warnings kit-collab printed at the end of an install ("! ...")."""
    return [line for line in run.out.splitlines() if line.startswith("! ")]


def _fail_with(sc: Scenario, message: str, run: Run | None = None) -> None:
    details = sc.bed.diagnostics(SLUG)
    pytest.fail(f"{message}\n--- kit-collab output\n{run.out[-6000:] if run else ''}\n"
                f"{details}")


# ---------------------------------------------------------------------------------------------
# 0. A Debian 12 server is refused


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_0_debian_12_server_is_refused(scenario: Scenario) -> None:
    """A real Debian 12 (its own /etc/os-release): the preflight refuses it with the French
    sentence naming the supported systems; with --force, the bootstrap refuses it too, before
    installing anything."""
    sc, bed = scenario, scenario.bed
    with _phase("0. Debian 12 server → refused by the preflight (and the bootstrap)"):
        from kit_collab.plan.facts import os_refusal

        bed.start_debian12()
        message, fix = os_refusal("debian 12")[0], os_refusal("debian 12")[2]
        data = profile_data(bed)
        data["serveur"].update({"hote": bed.old_ip, "empreinte_hote": bed.old_fingerprint})
        old_profile = sc.workdir / "debian12.yaml"
        old_profile.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                               encoding="utf-8")
        release = bed.sh_in(bed.old_server, "cat /etc/os-release").stdout
        print(f"[kce2e] Debian 12 server's own /etc/os-release:\n{release}")
        assert 'VERSION_ID="12"' in release

        run = sc.kit("check", str(old_profile), "--json", "--dns", sc.dns.address,
                     "--resolve", f"*:{bed.old_ip}", "--deadline", "10", show=False)
        report = json.loads(run.out[run.out.index("{"):])["communes"][0]["rapport"]
        system = [f for f in report["constats"] if f["controle"] == "système"]
        print(f"[kce2e] check → code {run.code}: {system}")
        assert run.code == 1
        assert [(f["niveau"], f["message"]) for f in system] == [("erreur", message)]
        assert "panneau de l'hébergeur" in system[0]["correction"], system
        assert "Debian 13 ou Ubuntu 24.04" in message

        refused = sc.kit("install", str(old_profile), "--yes")
        assert refused.code == 1, refused.out
        assert "non pris en charge" in refused.out and "rien n'a été changé" in refused.out

        forced = sc.kit("install", str(old_profile), "--yes", "--force")
        assert forced.code == 1, forced.out
        assert _flat(message) in _flat(forced.out), forced.out
        assert _flat(fix) in _flat(forced.out), forced.out
        left = bed.sh_in(bed.old_server, "command -v docker; dpkg -l docker.io 2>&1 | tail -1",
                         check=False).stdout
        assert "/docker" not in left and not left.startswith("ii"), left
        bed.stop_debian12()
    sc.passed.add("debian12")


# ---------------------------------------------------------------------------------------------
# 1. First install on a fresh server


def test_1_first_install(scenario: Scenario) -> None:
    sc, bed = scenario, scenario.bed
    with _phase("1. install (bootstrap, pull, up, tasks, HTTPS health)"):
        before = bed.sh("grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release; "
                        "ps -p 1 -o comm=; dpkg-query -W -f '${Package} ${Status}\\n' "
                        "docker.io docker-compose ufw python3 2>&1; command -v docker",
                        check=False).stdout
        print(f"[kce2e] fresh server before install:\n{before}")
        assert 'VERSION_ID="13"' in before and "systemd" in before
        for package in ("docker.io", "docker-compose", "ufw", "python3"):
            assert f"{package} install ok installed" not in before  # the bootstrap adds them
        assert "/docker" not in before

        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        if run.code != 0:
            _fail_with(sc, "first install failed", run)
        assert not _warnings(run), _warnings(run)
        assert "Préparation du serveur" in run.out  # the bootstrap ran
        assert "Contrôles de santé" in run.out

        # The bootstrap installed Docker and compose v2 from Debian's own packages, enabled
        # through systemd, the firewall and the updates, and set the registry mirror.
        after = bed.sh("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' docker.io "
                       "docker-compose ufw unattended-upgrades; "
                       "systemctl is-enabled docker; systemctl is-active docker; "
                       "docker compose version --short; "
                       "ufw status | head -1; cat /etc/docker/daemon.json; "
                       "docker info --format '{{json .RegistryConfig.Mirrors}} {{.Driver}}'"
                       ).stdout
        print(f"[kce2e] after bootstrap:\n{after}")
        for package in ("docker.io", "docker-compose", "ufw", "unattended-upgrades"):
            assert re.search(rf"^{package} \S+ install ok installed$", after, re.M), package
        assert "\nenabled\nactive\n" in after
        assert "Status: active" in after
        assert MIRROR in after and f'"{MIRROR}/"' in after  # written and in use
        assert "overlay2" in after  # /var/lib/docker on its own volume
        # The images came from the mirror under their upstream names.
        images = bed.sh("docker image ls --format '{{.Repository}}:{{.Tag}}'").stdout.split()
        for ref in ("caddy:2.11.4", "postgres:17.11", "matrixdotorg/synapse:v1.157.1",
                    "nextcloud:34.0.2-apache", "ghcr.io/jitsi/web:stable-11146-2"):
            assert ref in images, f"{ref} not pulled: {images}"

        sc.release = sc.current()
        assert sc.state()["release"] == sc.release
        containers = bed.containers(SLUG)
        unhealthy = {s: c for s, c in containers.items()
                     if not (c["state"] == "running" and c["health"] in ("", "healthy", "starting"))
                     and not (s == "jitsi-init" and c["state"] == "exited")}
        assert not unhealthy, unhealthy

        # Accounts of the profile: Matrix login through Caddy with the initial password,
        # in the rooms of their services (the recipe's tasks made them); Jitsi and Nextcloud.
        for agent in AGENTS:
            rooms = sc.agent_can_chat(agent)
            assert set(agent["services_municipaux"]) <= rooms, (agent["identifiant"], rooms)
            uid = str(agent["identifiant"])
            assert not sc.xmpp_login(uid, sc.secrets()["comptes"][uid])
        print("[kce2e] Matrix: mdupont and jmartin logged in through Caddy (HTTPS, internal "
              "CA), each in their service's room; Jitsi: both logged in to Prosody")
        groups = sc.occ("group:list", "--output=json")
        assert {"accueil", "urbanisme"} <= set(groups), groups
        config = sc.occ("config:list")
        assert config["theming.name"] == "Saint-Martin-l'Écluse"  # UTF-8 and quote intact
        assert config["richdocuments.wopi_url"] == f"https://office.{DOMAIN}/"

        run, report = sc.check()
        assert run.code == 0, report
        assert report["resume"]["erreur"] == 0, report
        # The bed's server sits on a private Docker network: check rightly says that address
        # cannot be reached from the internet; and this profile has no `sauvegardes:` (the
        # restore scenario has one), which check rightly says too. Nothing else may warn.
        warned = [c for c in report["constats"] if c["niveau"] == "avertissement"]
        assert sorted(c["controle"] for c in warned) == ["adresse publique", "sauvegardes"], \
            warned
    sc.passed.add("install")


# ---------------------------------------------------------------------------------------------
# 2. The same install again


def test_2_install_again_changes_nothing(scenario: Scenario) -> None:
    sc = scenario
    sc.require("install")
    with _phase("2. install again (no change)"):
        before = sc.snapshot()
        files = sc.bed.sh(f"find {COMMUNE_DIR} {ROOT_DIR}/proxy -type f -newer "
                          f"{COMMUNE_DIR}/state.json | wc -l").stdout.strip()
        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        assert run.code == 0, run.out
        assert "Rien à faire" in run.out, run.out
        assert sc.snapshot() == before  # no container recreated or restarted
        assert sc.current() == sc.release
        assert sc.bed.sh(f"find {COMMUNE_DIR} {ROOT_DIR}/proxy -type f -newer "
                         f"{COMMUNE_DIR}/state.json | wc -l").stdout.strip() == files
    sc.passed.add("noop")


# ---------------------------------------------------------------------------------------------
# 3. The profile changes: a new service municipal, then a new agent


def test_3a_new_service_municipal_is_applied(scenario: Scenario) -> None:
    sc = scenario
    sc.require("install")
    with _phase("3a. profile change: a new service municipal"):
        data = profile_data(sc.bed)
        data["services_municipaux"].append(NEW_SERVICE)
        sc.write_profile(data)
        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        assert run.code == 0, run.out
        sc.release = sc.current()
        groups = sc.occ("group:list", "--output=json")
        token = sc.matrix_session(AGENTS[0])
        try:
            room = sc.matrix_alias_exists(token, NEW_SERVICE["id"])
        finally:
            sc.matrix_logout(token)
        assert "Rien à faire" not in run.out
        assert NEW_SERVICE["id"] in groups, groups
        assert room, f"no Matrix room #{NEW_SERVICE['id']}"
        assert not _warnings(run), _warnings(run)
    sc.passed.add("new-service")


def test_3b_new_agent_is_applied(scenario: Scenario) -> None:
    sc = scenario
    sc.require("install")
    with _phase("3b. profile change: a new agent (in the new service)"):
        data = profile_data(sc.bed)
        data["services_municipaux"].append(NEW_SERVICE)
        data["utilisateurs"].append(NEW_AGENT)
        sc.write_profile(data)
        before = sc.snapshot()
        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        assert run.code == 0, run.out
        assert not _warnings(run), _warnings(run)
        sc.release = sc.current()
        restarted = sorted(k for k, v in sc.snapshot().items() if before.get(k) != v)
        print(f"[kce2e] containers recreated or restarted by the change: {restarted or 'none'}")
        uid = str(NEW_AGENT["identifiant"])
        password = sc.secrets()["comptes"][uid]
        assert NEW_SERVICE["id"] in sc.agent_can_chat(NEW_AGENT)
        assert not sc.xmpp_login(uid, password)
        assert NEW_SERVICE["id"] in sc.occ("group:list", "--output=json")
        users = sc.occ("user:list", "--info", "--output=json")
        assert uid in users and NEW_SERVICE["id"] in users[uid]["groups"], users.get(uid)
        # The others keep their access.
        assert "accueil" in sc.agent_can_chat(AGENTS[0])
    sc.passed.add("change")


# ---------------------------------------------------------------------------------------------
# 4. The server reboots


def test_4_server_restart_comes_back_healthy(scenario: Scenario) -> None:
    sc, bed = scenario, scenario.bed
    sc.require("install")
    with _phase("4. server container restarted → stack healthy again"):
        started = time.monotonic()
        bed.docker_restart()
        bed.wait_ready()
        print(f"[kce2e] server back (sshd and Docker) after {time.monotonic() - started:.1f} s")
        run, report = sc.check(deadline=240)
        assert run.code == 0, report
        print(f"[kce2e] HTTPS health OK {time.monotonic() - started:.1f} s after the restart")
        # kit-collab's own view: every container running and healthy (healthchecks included).
        deadline = time.monotonic() + 180
        while True:
            status = sc.kit("status", str(sc.profile), "--json", show=False)
            if status.code == 0 or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert status.code == 0, status.out
        print(f"[kce2e] kit-collab status: all containers healthy "
              f"{time.monotonic() - started:.1f} s after the restart")
        assert sc.current() == sc.release
        mdupont = AGENTS[0]
        assert "accueil" in sc.agent_can_chat(mdupont)  # data kept across the reboot
    sc.passed.add("restart")


# ---------------------------------------------------------------------------------------------
# 5. Synapse stops


def test_5_check_names_a_stopped_synapse(scenario: Scenario) -> None:
    sc, bed = scenario, scenario.bed
    sc.require("install")
    with _phase("5. Synapse stopped → check names it, exit 1"):
        synapse = bed.containers(SLUG)["matrix-synapse"]["id"]
        bed.sh(f"docker stop {synapse}")
        try:
            run, report = sc.check(deadline=10)
            assert run.code == 1, report
            errors = [f for f in report["constats"] if f["niveau"] == "erreur"]
            assert errors and all(f["service"] == "matrix" for f in errors), errors
            assert any(f["controle"] == "synapse" for f in errors), errors
            human = sc.kit("check", str(sc.profile), "--dns", sc.dns.address, "--resolve",
                           f"*:{bed.server_ip}", "--deadline", "5")
            assert human.code == 1
            assert any("✗" in line and "synapse" in line for line in human.out.splitlines())
            status = sc.kit("status", str(sc.profile), "--json", show=False)
            containers = json.loads(status.out[status.out.index("{"):])["communes"][0][
                "rapport"]["conteneurs"]
            synapse_row = next(c for c in containers if c["service"] == "matrix-synapse")
            print(f"[kce2e] kit-collab status → code {status.code}, matrix-synapse: "
                  f"{synapse_row}")
            assert synapse_row["etat"] == "exited"
            if status.code == 0:
                # deploy.is_healthy takes any container that exited with 0 for a finished
                # one-shot job: a service stopped cleanly looks healthy (see the report).
                print("[kce2e] BUG (known): kit-collab status says all is well while "
                      "matrix-synapse is stopped (exit code 0)")
        finally:
            bed.sh(f"docker start {synapse}")
        run, report = sc.check(deadline=120)
        assert run.code == 0, report
    sc.passed.add("synapse")


# ---------------------------------------------------------------------------------------------
# 6. A release that fails its health checks


def test_6_failed_release_is_rolled_back(scenario: Scenario) -> None:
    sc, bed = scenario, scenario.bed
    sc.require("install")
    with _phase("6. failing release → rolled back, previous one serves"):
        # A release whose Synapse cannot reach its database: it never becomes healthy.
        broken = sc.workdir / "recettes-cassees"
        shutil.rmtree(broken, ignore_errors=True)
        shutil.copytree(sc.code_dir / "recipes", broken / "recipes")
        homeserver = broken / "recipes" / "matrix" / "templates" / "homeserver.yaml.j2"
        text = homeserver.read_text(encoding="utf-8")
        assert "    host: matrix-db\n" in text
        homeserver.write_text(
            text.replace("    host: matrix-db\n", "    host: matrix-db-absente\n"),
            encoding="utf-8")
        previous = sc.current()
        run = sc.kit("install", str(sc.profile), "--yes", "--force",
                     env={"KIT_COLLAB_RECIPES": str(broken), "KIT_COLLAB_WAIT": "180"})
        assert run.code == 1, run.out
        assert f"retour à la version précédente ({previous})" in run.out, run.out
        assert "matrix-synapse" in run.out
        assert sc.current() == previous
        assert sc.state()["release"] == previous
        audit = bed.sh("tail -n 3 /var/log/kit-collab/audit.log").stdout
        assert "echec-retour-arriere" in audit, audit
        assert bed.sh(f"test -e {COMMUNE_DIR}/.lock && echo locked || echo free"
                      ).stdout.strip() == "free"

        run, report = sc.check(deadline=180)
        assert run.code == 0, report
        assert "accueil" in sc.agent_can_chat(AGENTS[0])  # the previous release serves
        again = sc.kit("install", str(sc.profile), "--yes", "--force")
        assert again.code == 0 and "Rien à faire" in again.out, again.out
    sc.passed.add("rollback")
