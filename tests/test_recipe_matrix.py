"""The matrix recipe: Synapse, its own PostgreSQL and Element Web, read back by real software.

Synapse's own config loader reads the rendered homeserver.yaml; a real Synapse started from
it (test-only changes: SQLite, a loopback port, paths under tmp_path) answers on loopback,
behind a real Caddy running the rendered site; the declared health checks are evaluated
against that pair. Element Web itself is not available here: its config.json is checked as
JSON. Field failures from the stack reference have a test named after them.
"""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab import constants
from kit_collab.bundle import render
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.secrets import SYSTEM, ensure_secrets, user_ids

from .conftest import base_profile, require_tool
from .validators import caddy_adapt, clean_env, compose_config, render_to, validate_all

HOSTILE = "L'Haÿ \"x\" $HOME #1 \\ : { }"
SYNAPSE_ADMIN_PATHS = ("/_synapse/admin/v1/server_version", "/_synapse/admin/v2/users")


# ---------------------------------------------------------------------------------------------
# Helpers


def _profile(*, federation: bool = False, jitsi: bool = False, nextcloud: bool = False,
             nom: str = "Saint-Essai", identifiants: str = "domaine-vers-serveur"
             ) -> dict[str, Any]:
    """The domain points at this server (so its delegation is served here, and checked
    through the same Caddy); the other modes: test_matrix_modes.py."""
    data = base_profile()
    data["commune"]["nom"] = nom
    data["services"] = {"nextcloud": {"actif": nextcloud}, "jitsi": {"actif": jitsi},
                        "matrix": {"actif": True, "federation": federation,
                                   "identifiants": identifiants}}
    data["utilisateurs"].append({"identifiant": "jagent", "nom": "Jean Agent",
                                 "email": "jean@saint-essai.fr",
                                 "services_municipaux": ["accueil"]})
    return data


def _rendered(tmp: Path, data: dict[str, Any]) -> tuple[render.Bundle, Path, Path]:
    out = tmp / "out"
    bundle = render_to(data, out)
    return bundle, out, out / bundle.release_dir


def _bundle_file(bundle: render.Bundle, name: str) -> render.BundleFile:
    return bundle.file(f"{bundle.release_dir}/matrix/{name}")


def _relocated(release: Path, tmp: Path, *, port: int | None = None) -> Path:
    """homeserver.yaml with its container paths moved under ``tmp``; with ``port``, also the
    test-only run changes: SQLite and a listener bound on loopback."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((release / "matrix" / "homeserver.yaml").read_text("utf-8"))
    shutil.copy(release / "matrix" / "signing.key", tmp / "signing.key")
    shutil.copy(release / "matrix" / "log.config", tmp / "log.config")
    config.update(signing_key_path=str(tmp / "signing.key"), log_config=str(tmp / "log.config"),
                  media_store_path=str(tmp / "media"), pid_file=str(tmp / "homeserver.pid"))
    if port is not None:
        config["database"] = {"name": "sqlite3", "args": {"database": str(tmp / "synapse.db")}}
        config["listeners"][0].update(port=port, bind_addresses=["127.0.0.1"])
    path = tmp / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, host: str = "127.0.0.1", method: str = "GET",
         body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _wait_http(port: int, path: str, proc: subprocess.Popen[bytes], log: Path,
               deadline_s: float = 45) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"process exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if _get(port, path)[0] < 500:
                return
        time.sleep(0.1)
    pytest.fail(f"no answer on 127.0.0.1:{port}{path} in {deadline_s} s:\n"
                f"{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextlib.contextmanager
def _process(argv: list[str], cwd: Path, log: Path, env: dict[str, str]) -> Iterator[
        subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            _stop(proc)


def _caddy_config(out: Path, bundle: render.Bundle, synapse_port: int) -> tuple[dict, int]:
    """The adapted Caddyfile, changed only to run here: plain HTTP on a loopback port, no
    ACME, no admin endpoint, the server root at ``out`` and Synapse on its loopback port."""
    config = caddy_adapt(out)
    text = json.dumps(config)
    text = text.replace(f"{bundle.slug}-matrix-synapse:8008", f"127.0.0.1:{synapse_port}")
    text = text.replace(constants.SERVER_ROOT, str(out))
    config = json.loads(text)
    config["admin"] = {"disabled": True}
    config["apps"].pop("tls", None)
    port = _free_port()
    servers = config["apps"]["http"]["servers"]
    assert len(servers) == 1, servers.keys()
    for server in servers.values():
        server["listen"] = [f"127.0.0.1:{port}"]
        server["automatic_https"] = {"disable": True}
        server.pop("tls_connection_policies", None)
    return config, port


# ---------------------------------------------------------------------------------------------
# A real Synapse (and a real Caddy in front of it), started once per federation mode


class Stack:
    def __init__(self, bundle: render.Bundle, out: Path, release: Path, secrets: render.Secrets,
                 config: Path, synapse_port: int, caddy_port: int) -> None:
        self.bundle, self.out, self.release, self.secrets = bundle, out, release, secrets
        self.config, self.synapse_port, self.caddy_port = config, synapse_port, caddy_port

    def host(self, key: str) -> str:
        return self.bundle.hosts["base"]["domaine"] if key == "base" else (
            self.bundle.hosts["matrix"][key])


def _stack(tmp: Path, federation: bool) -> Iterator[Stack]:
    require_tool("caddy")
    data = _profile(federation=federation, nom=HOSTILE)
    data["services_municipaux"] = [{"id": "accueil", "nom": HOSTILE}]
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    profile = Profile.model_validate(data)
    active = active_recipes(profile, load_recipes())
    secrets, _ = ensure_secrets(active, None, user_ids(profile), SYSTEM)
    bundle = render_to(data, tmp / "out", secrets)
    out, release = tmp / "out", tmp / "out" / bundle.release_dir
    synapse_port = _free_port()
    config = _relocated(release, tmp / "synapse", port=synapse_port)
    env = {**clean_env(tmp), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    synapse = [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)]
    with _process(synapse, tmp, tmp / "synapse.log", env) as proc:
        _wait_http(synapse_port, "/health", proc, tmp / "synapse.log")
        caddy_json, caddy_port = _caddy_config(out, bundle, synapse_port)
        (tmp / "caddy.json").write_text(json.dumps(caddy_json), encoding="utf-8")
        caddy = [shutil.which("caddy") or "caddy", "run", "--config", str(tmp / "caddy.json")]
        with _process(caddy, tmp, tmp / "caddy.log", clean_env(tmp)) as cproc:
            _wait_http(caddy_port, "/", cproc, tmp / "caddy.log")
            yield Stack(bundle, out, release, secrets, config, synapse_port, caddy_port)


@pytest.fixture(scope="module")
def stack_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _stack(tmp_path_factory.mktemp("matrix-off"), federation=False)


@pytest.fixture(scope="module")
def stack_on(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _stack(tmp_path_factory.mktemp("matrix-on"), federation=True)


# ---------------------------------------------------------------------------------------------
# Lint and validators


def test_recipes_lint_passes_for_matrix_and_coturn(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("recipes", "lint", "--json")
    report = json.loads(result.out)
    assert {"matrix", "coturn"} <= set(report["recettes"])
    mine = [f for f in report["constats"] if f["service"] in ("matrix", "coturn")
            and f["code"] != "KC017"]  # a pin's age: test_pins.py
    assert mine == []


@pytest.mark.validators
@pytest.mark.parametrize("federation", [False, True], ids=["federation-off", "federation-on"])
def test_bundle_passes_validators(tmp_path: Path, federation: bool) -> None:
    bundle, out, _ = _rendered(tmp_path, _profile(federation=federation))
    parsed = validate_all(bundle, out)
    services = parsed["compose:commune"]["services"]
    assert {"matrix-synapse", "matrix-db", "matrix-element", "coturn"} <= set(services)
    assert services["matrix-synapse"]["depends_on"]["matrix-db"]["condition"] == "service_healthy"
    aliases = services["matrix-synapse"]["networks"]["proxy"]["aliases"]
    assert aliases == [f"{bundle.slug}-matrix-synapse"]
    config = parsed[f"{bundle.release_dir}/matrix/config.json"]
    assert config["default_server_config"]["m.homeserver"]["server_name"] == "saint-essai.fr"
    client = parsed[f"{bundle.release_dir}/proxy/matrix/well-known/client.json"]
    assert client == {"m.homeserver": {"base_url": "https://matrix.saint-essai.fr"}}
    log_config = parsed[f"{bundle.release_dir}/matrix/log.config"]
    assert log_config["root"]["handlers"] == ["console"]


@pytest.mark.validators
def test_bundle_with_every_service_passes_validators(tmp_path: Path) -> None:
    """Matrix beside Nextcloud and Jitsi: one compose project, one Caddyfile, no clash."""
    bundle, out, _ = _rendered(tmp_path, _profile(nextcloud=True, jitsi=True))
    parsed = validate_all(bundle, out)
    services = parsed["compose:commune"]["services"]
    assert {"matrix-db", "nextcloud-db"} <= set(services)


# ---------------------------------------------------------------------------------------------
# Synapse's own loader, then a real Synapse


@pytest.mark.validators
@pytest.mark.parametrize("federation", [False, True], ids=["federation-off", "federation-on"])
def test_synapse_loader_accepts_homeserver_yaml(tmp_path: Path, federation: bool) -> None:
    from synapse.config.homeserver import HomeServerConfig

    bundle, _, release = _rendered(tmp_path, _profile(federation=federation))
    config = HomeServerConfig.load_config("kit-collab", ["-c", str(_relocated(
        release, tmp_path / "synapse"))])
    assert config.server.server_name == "saint-essai.fr"
    assert config.server.public_baseurl == "https://matrix.saint-essai.fr/"
    assert config.registration.enable_registration is False
    assert config.registration.registration_shared_secret
    (listener,) = config.server.listeners
    # All interfaces of the container, never its loopback (the proxy must reach it).
    assert listener.bind_addresses == ["0.0.0.0"]  # noqa: S104
    assert (listener.port, listener.type) == (8008, "http")
    assert listener.tls is False
    assert listener.http_options.x_forwarded is True
    names = [n for res in listener.http_options.resources for n in res.names]
    assert names == (["client", "federation"] if federation else ["client"])
    assert config.database.databases[0].config["name"] == "psycopg2"
    # Off: an empty allow-list (no domain at all); on: None, every domain.
    assert config.federation.federation_domain_whitelist == (None if federation else {})
    assert config.key.key_servers == []
    assert config.voip.turn_shared_secret == bundle.file(
        f"{bundle.release_dir}/coturn/turnserver.conf").content.decode().split(
        "static-auth-secret=")[1].split("\n")[0]


@pytest.mark.validators
def test_real_synapse_answers_health_and_versions(stack_off: Stack) -> None:
    status, _, body = _get(stack_off.synapse_port, "/health")
    assert (status, body) == (200, b"OK")
    status, _, body = _get(stack_off.synapse_port, "/_matrix/client/versions")
    assert status == 200 and "v1.1" in json.loads(body)["versions"]
    # Federation is off: the server-server API is not even mounted.
    assert _get(stack_off.synapse_port, "/_matrix/federation/v1/version")[0] == 404


@pytest.mark.validators
def test_real_synapse_serves_federation_when_enabled(stack_on: Stack) -> None:
    status, _, body = _get(stack_on.synapse_port, "/_matrix/federation/v1/version")
    assert status == 200 and json.loads(body)["server"]["name"] == "Synapse"


@pytest.mark.validators
@pytest.mark.parametrize("mode", ["off", "on"])
def test_declared_health_checks_pass_against_real_synapse_and_caddy(
        request: pytest.FixtureRequest, mode: str) -> None:
    """Each declared check of the synapse and base hosts, run over plain HTTP against the real
    Caddy (rendered site) and the real Synapse. Element's checks need its image: not here."""
    stack: Stack = request.getfixturevalue(f"stack_{mode}")
    checks = [c for c in stack.bundle.checks if c.recipe == "matrix" and c.host != (
        stack.bundle.hosts["matrix"]["element"])]
    assert len(checks) >= 5
    for check in checks:
        status, headers, body = _get(stack.caddy_port, check.path, host=check.host)
        assert status == check.status, (check.name, status, body[:200])
        if check.contains:
            assert check.contains in body.decode(), check.name
        for name, value in check.headers.items():
            assert value in headers.get(name.lower(), ""), (check.name, name, headers)
        if check.json:
            document = json.loads(body)
            assert {k: document.get(k) for k in check.json} == check.json, check.name


@pytest.mark.validators
def test_synapse_admin_api_is_never_routed(stack_off: Stack) -> None:
    """The admin API exists (Synapse answers it on loopback) but the proxy never forwards it."""
    for path in SYNAPSE_ADMIN_PATHS:
        assert _get(stack_off.synapse_port, path)[0] in (200, 401), path
        status, _, body = _get(stack_off.caddy_port, path, host=stack_off.host("synapse"))
        assert (status, body) == (404, b""), path
    # What is routed: the client API, Synapse's client pages and /health, nothing else.
    assert _get(stack_off.caddy_port, "/_matrix/client/versions",
                host=stack_off.host("synapse"))[0] == 200
    assert _get(stack_off.caddy_port, "/_synapse/metrics", host=stack_off.host("synapse"))[0] \
        == 404


@pytest.mark.validators
def test_synapse_admin_not_in_adapted_caddy_routes(tmp_path: Path) -> None:
    """Caddy's own adapter: every route to Synapse matches only /_matrix/*, /_synapse/client/*
    or the exact /health; with federation off, the federation and key APIs are excluded."""
    for federation in (False, True):
        bundle, out, _ = _rendered(tmp_path / str(federation), _profile(federation=federation))
        config = caddy_adapt(out)
        upstream = f"{bundle.slug}-matrix-synapse:8008"
        routed = list(_routes_to(config, upstream))
        assert routed, "no route to Synapse"
        for match in routed:
            paths = [p for m in match for p in m.get("path", [])]
            assert sorted(paths) == ["/_matrix/*", "/_synapse/client/*", "/health"]
            excluded = [p for m in match for n in m.get("not", []) for p in n.get("path", [])]
            assert excluded == ([] if federation else ["/_matrix/federation/*", "/_matrix/key/*"])
        assert "/_synapse/admin" not in json.dumps(config)
        # Uploads: the proxy lets through exactly what Synapse accepts (max_upload_size 50M).
        assert '"max_size": 52428800' in json.dumps(config)


def _routes_to(node: Any, upstream: str, match: list | None = None) -> Iterator[list]:
    """The accumulated matchers of every route whose handlers reach ``upstream``."""
    if isinstance(node, dict):
        here = (match or []) + node.get("match", []) if "handle" in node else match
        for handler in node.get("handle", []):
            if handler.get("handler") == "reverse_proxy" and any(
                    u.get("dial") == upstream for u in handler.get("upstreams", [])):
                yield here or []
        for key, value in node.items():
            if key != "match":
                yield from _routes_to(value, upstream, here)
    elif isinstance(node, list):
        for item in node:
            yield from _routes_to(item, upstream, match)


# ---------------------------------------------------------------------------------------------
# Federation on and off, as designed


@pytest.mark.validators
def test_federation_off_and_on_differ_as_designed(tmp_path: Path) -> None:
    off, _, off_rel = _rendered(tmp_path / "off", _profile(federation=False))
    on, _, on_rel = _rendered(tmp_path / "on", _profile(federation=True))
    hs_off = yaml.safe_load((off_rel / "matrix" / "homeserver.yaml").read_text("utf-8"))
    hs_on = yaml.safe_load((on_rel / "matrix" / "homeserver.yaml").read_text("utf-8"))
    assert hs_off["federation_domain_whitelist"] == []
    assert "federation_domain_whitelist" not in hs_on
    assert hs_off["listeners"][0]["resources"][0]["names"] == ["client"]
    assert hs_on["listeners"][0]["resources"][0]["names"] == ["client", "federation"]
    # Delegation for servers only when federation is on; for clients always.
    assert not (off_rel / "proxy" / "matrix" / "well-known" / "server.json").exists()
    server = json.loads((on_rel / "proxy" / "matrix" / "well-known" / "server.json")
                        .read_text("utf-8"))
    assert server == {"m.server": "matrix.saint-essai.fr:443"}
    for rel in (off_rel, on_rel):
        assert (rel / "proxy" / "matrix" / "well-known" / "client.json").exists()
    names_off = {c.name for c in off.checks if c.recipe == "matrix"}
    names_on = {c.name for c in on.checks if c.recipe == "matrix"}
    # /.well-known/matrix/server is judged by check's delegation rule (check/rules/delegation).
    assert "federation-fermee" in names_off and "federation" not in names_off
    assert "federation" in names_on and "federation-fermee" not in names_on


@pytest.mark.validators
def test_real_stack_delegation_follows_federation(stack_off: Stack, stack_on: Stack) -> None:
    for stack, served in ((stack_off, False), (stack_on, True)):
        status, headers, body = _get(stack.caddy_port, "/.well-known/matrix/server",
                                     host=stack.host("base"))
        assert status == (200 if served else 404)
        if served:
            assert json.loads(body) == {"m.server": f"{stack.host('synapse')}:443"}
            assert headers["access-control-allow-origin"] == "*"
        status, headers, body = _get(stack.caddy_port, "/.well-known/matrix/client",
                                     host=stack.host("base"))
        assert status == 200 and headers["access-control-allow-origin"] == "*"
        assert headers["content-type"].startswith("application/json")
        assert json.loads(body) == {"m.homeserver": {"base_url": f"https://{stack.host('synapse')}"}}
        # Nothing else of the commune's domain is served.
        assert _get(stack.caddy_port, "/", host=stack.host("base"))[0] == 404
        fed = _get(stack.caddy_port, "/_matrix/federation/v1/version", host=stack.host("synapse"))
        assert fed[0] == (200 if served else 404)


# ---------------------------------------------------------------------------------------------
# Field failures


@pytest.mark.validators
def test_synapse_database_collation_is_c__matrix_org_synapse_14566(tmp_path: Path) -> None:
    """Synapse refuses a database whose collation is not C. Its PostgreSQL is a container of
    its own, initialised in UTF8/C; Nextcloud's database never shares that cluster."""
    bundle, out, release = _rendered(tmp_path, _profile(nextcloud=True))
    services = compose_config(out / bundle.release_dir / "compose.yaml")["services"]
    env = services["matrix-db"]["environment"]
    args = env["POSTGRES_INITDB_ARGS"].split()
    assert {"--encoding=UTF8", "--lc-collate=C", "--lc-ctype=C"} <= set(args)
    hs = yaml.safe_load((release / "matrix" / "homeserver.yaml").read_text("utf-8"))
    db = hs["database"]
    assert db["name"] == "psycopg2" and db["args"]["host"] == "matrix-db"
    assert (db["args"]["user"], db["args"]["dbname"], db["args"]["password"]) == (
        env["POSTGRES_USER"], env["POSTGRES_DB"], env["POSTGRES_PASSWORD"])
    assert {"cp_min", "cp_max"} <= set(db["args"])
    volumes = {v["source"] for v in services["matrix-db"]["volumes"]}
    assert volumes.isdisjoint({v["source"] for v in services["nextcloud-db"]["volumes"]})
    assert "POSTGRES_INITDB_ARGS" not in services["nextcloud-db"].get("environment", {})
    assert bundle.file(f"{bundle.release_dir}/matrix/postgres.env").mode == 0o600


@pytest.mark.validators
def test_signing_key_readable_by_synapse_uid__element_hq_synapse_16824(tmp_path: Path) -> None:
    """Synapse runs as 991:991 and, since v1.99, a root-owned 0640 key is unreadable to it.
    The key and homeserver.yaml are root's with group 991 (start.py drops to 991:991 with
    gosu, docker/start.py at v1.157.1), mounted where the config says, and
    the key file is one Synapse's own reader accepts."""
    from signedjson.key import read_signing_keys

    bundle, out, release = _rendered(tmp_path, _profile())
    for name in ("signing.key", "homeserver.yaml"):
        f = _bundle_file(bundle, name)
        assert f.owner == "0:991", name
        assert f.mode & 0o040 and not f.mode & 0o022, (name, oct(f.mode))
        assert f.mode & 0o400 and not f.mode & 0o007, (name, oct(f.mode))
    hs = yaml.safe_load((release / "matrix" / "homeserver.yaml").read_text("utf-8"))
    synapse = compose_config(out / bundle.release_dir / "compose.yaml")["services"][
        "matrix-synapse"]
    mounts = {v["target"]: v for v in synapse["volumes"]}
    key_mount = mounts[hs["signing_key_path"]]
    assert key_mount["read_only"] is True
    assert Path(key_mount["source"]).name == "signing.key"
    assert hs["log_config"] in mounts and "/config/homeserver.yaml" in mounts
    assert synapse["environment"]["SYNAPSE_CONFIG_PATH"] == "/config/homeserver.yaml"
    # The data volume is created by Docker as root: Synapse's media store must be its own.
    assert "chown 991:991 /data" in " ".join(synapse["entrypoint"])
    (key,) = read_signing_keys((release / "matrix" / "signing.key").read_text().splitlines())
    assert (key.alg, key.version) == ("ed25519", "a_kc")
    assert len(bytes(key)) == 32


@pytest.mark.validators
def test_real_synapse_signs_with_the_rendered_key(stack_on: Stack) -> None:
    from signedjson.key import encode_verify_key_base64, get_verify_key, read_signing_keys

    (key,) = read_signing_keys((stack_on.release / "matrix" / "signing.key").read_text()
                               .splitlines())
    status, _, body = _get(stack_on.synapse_port, "/_matrix/key/v2/server")
    assert status == 200
    published = json.loads(body)["verify_keys"]["ed25519:a_kc"]["key"]
    assert published == encode_verify_key_base64(get_verify_key(key))


def _element_config(bundle: render.Bundle, out: Path) -> dict[str, Any]:
    return json.loads((out / bundle.release_dir / "matrix" / "config.json").read_text("utf-8"))


def test_element_calls_use_commune_jitsi__element_web_20021(tmp_path: Path) -> None:
    """Without jitsi.preferred_domain, Element sends conference calls to a public Jitsi."""
    from kit_collab.recipes.load import load_recipes

    if "jitsi" not in load_recipes().by_name:
        pytest.skip("the jitsi recipe is not in this tree")
    bundle, out, _ = _rendered(tmp_path / "with", _profile(jitsi=True))
    config = _element_config(bundle, out)
    assert config["jitsi"]["preferred_domain"] == bundle.hosts["jitsi"]["visio"]
    assert config["jitsi"]["preferred_domain"] == "visio.saint-essai.fr"
    assert config["setting_defaults"].get("UIFeature.widgets", True) is True
    # Without the commune's Jitsi: no public one either (conference widgets are off).
    bundle, out, _ = _rendered(tmp_path / "without", _profile(jitsi=False))
    config = _element_config(bundle, out)
    assert "jitsi" not in config
    assert config["setting_defaults"]["UIFeature.widgets"] is False
    # Element Call (group calls through a public call service by default) stays off.
    assert not any(config["features"].values())


# ---------------------------------------------------------------------------------------------
# Element Web


@pytest.mark.validators
def test_element_config_points_at_homeserver_and_keeps_hostile_brand(tmp_path: Path) -> None:
    bundle, out, _ = _rendered(tmp_path, _profile(nom=HOSTILE))
    parsed = validate_all(bundle, out)
    config = parsed[f"{bundle.release_dir}/matrix/config.json"]
    assert config["brand"] == HOSTILE
    assert config["default_server_config"] == {"m.homeserver": {
        "base_url": "https://matrix.saint-essai.fr", "server_name": "saint-essai.fr"}}
    # Mixed with default_server_config, these make Element refuse to load.
    assert not {"default_server_name", "default_hs_url", "default_is_url"} & set(config)
    assert config["default_country_code"] == "FR"
    assert config["disable_guests"] is True
    assert config["setting_defaults"]["UIFeature.registration"] is False
    # The hostile name reaches the compose labels intact too ($ is not interpolated; compose
    # prints a literal "$" as "$$" so that its output can be read again).
    labels = parsed["compose:commune"]["services"]["matrix-element"]["labels"]
    assert labels["org.kit-collab.commune"].replace("$$", "$") == HOSTILE
    element = parsed["compose:commune"]["services"]["matrix-element"]
    assert [v["target"] for v in element["volumes"]] == ["/app/config.json"]
    assert element["environment"]["ELEMENT_WEB_PORT"] == "8080"
    assert element["networks"]["proxy"]["aliases"] == [f"{bundle.slug}-matrix-element"]


@pytest.mark.validators
def test_element_site_served_on_its_own_subdomain(tmp_path: Path) -> None:
    data = _profile()
    data["services"]["matrix"]["element_sous_domaine"] = "chat"
    bundle, out, _ = _rendered(tmp_path, data)
    assert bundle.hosts["matrix"]["element"] == "chat.saint-essai.fr"
    text = json.dumps(caddy_adapt(out))
    assert "chat.saint-essai.fr" in text
    assert f"{bundle.slug}-matrix-element:8080" in text
    element_checks = [c for c in bundle.checks if c.host == "chat.saint-essai.fr"]
    assert [c.path for c in element_checks] == ["/config.json"]
    # The expected configuration is rendered for this commune: its own homeserver.
    assert element_checks[0].json["default_server_config"] == {"m.homeserver": {
        "base_url": "https://matrix.saint-essai.fr", "server_name": "saint-essai.fr"}}


# ---------------------------------------------------------------------------------------------
# Declarations: health checks, resources, tasks


def test_declared_checks_and_resources(tmp_path: Path) -> None:
    bundle, _, _ = _rendered(tmp_path, _profile(federation=True))
    paths = {(c.host, c.path) for c in bundle.checks if c.recipe == "matrix"}
    synapse, base = "matrix.saint-essai.fr", "saint-essai.fr"
    assert {(synapse, "/health"), (synapse, "/_matrix/client/versions"),
            (synapse, "/_matrix/federation/v1/version"),
            (base, "/.well-known/matrix/client"),
            ("discussion.saint-essai.fr", "/config.json")} <= paths
    for check in bundle.checks:
        if check.path.startswith("/.well-known/matrix/") and check.status == 200:
            assert check.headers == {"Access-Control-Allow-Origin": "*"}
    from kit_collab.recipes.load import load_recipes

    spec = load_recipes()["matrix"].spec
    assert spec.resources.ram_mb >= 1024 and spec.resources.disk_gb >= 5
    assert spec.images["synapse"] == "matrixdotorg/synapse:v1.157.1"





