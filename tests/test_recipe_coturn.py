"""The coturn recipe: the TURN relay shared by Matrix and Jitsi.

turnserver.conf is read line by line against the option names and value syntax of coturn
4.17 (src/apps/relay/mainrelay.c: each peer range is ``IP`` or ``IP-IP``; CIDR makes 4.17
abort), then, where a ``turnserver`` is installed (Debian ships 4.6), by a real coturn on
loopback. Compose and Caddy read their files for real. Field failures from the stack
reference have a test named after them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.bundle import ports, render
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile, require_tool
from .validators import caddy_adapt, clean_env, compose_config, render_to

HOSTILE = "L'Haÿ \"x\" $HOME #1 \\ : { }"

# The private and reserved ranges of the stack reference, and their IPv6 equivalents
# (unspecified and loopback, IPv4-mapped, local-use NAT64, discard-only, IETF protocol
# assignments, documentation, unique-local, link-local, former site-local).
STACK_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
            "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
            "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"]
STACK_V6 = ["::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
            "2001:db8::/32", "3fff::/20", "fc00::/7", "fe80::/10", "fec0::/10"]
# Public addresses a call may legitimately be relayed to.
PUBLIC = ["8.8.8.8", "1.1.1.1", "51.15.20.30", "193.51.24.1", "2001:4860:4860::8888",
          "2a01:4f8::1", "2a00:1450:4007:80e::200e"]
# Options of coturn 4.17 this recipe may use (long option names from mainrelay.c).
KNOWN_OPTIONS = {"listening-port", "min-port", "max-port", "no-tls", "no-tcp-relay",
                 "use-auth-secret", "static-auth-secret", "realm", "server-name", "fingerprint",
                 "stale-nonce", "external-ip", "user-quota", "total-quota", "no-cli",
                 "no-multicast-peers", "denied-peer-ip", "allowed-peer-ip", "log-file",
                 "simple-log"}


def _profile(*, matrix: bool = True, jitsi: bool = False, ip: str = "192.0.2.10",
             nom: str = "Saint-Essai") -> dict[str, Any]:
    data = base_profile()
    data["commune"]["nom"] = nom
    data["serveur"]["hote"] = ip
    data["services"] = {"nextcloud": {"actif": not (matrix or jitsi)},
                        "matrix": {"actif": matrix}, "jitsi": {"actif": jitsi}}
    return data


def _render(tmp: Path, data: dict[str, Any]) -> tuple[render.Bundle, Path]:
    bundle = render_to(data, tmp / "out")
    return bundle, tmp / "out" / bundle.release_dir


def _conf(release: Path) -> list[tuple[str, str | None]]:
    """turnserver.conf as coturn reads it: one option per line, ``name`` or ``name=value``."""
    lines = []
    for raw in (release / "coturn" / "turnserver.conf").read_text("utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        name, sep, value = raw.partition("=")
        lines.append((name, value if sep else None))
    return lines


def _one(conf: list[tuple[str, str | None]], name: str) -> str | None:
    (value,) = [v for k, v in conf if k == name]
    return value


def _ranges(conf: list[tuple[str, str | None]], name: str) -> list[tuple[Any, Any]]:
    out = []
    for key, value in conf:
        if key == name:
            assert value and "/" not in value, f"{name}={value}: coturn 4.17 refuses CIDR"
            first, _, last = value.partition("-")
            out.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return out


def _denied(ranges: list[tuple[Any, Any]], address: Any) -> bool:
    return any(a.version == address.version and a <= address <= b for a, b in ranges)


# ---------------------------------------------------------------------------------------------
# The interface the matrix and jitsi recipes rely on


def test_coturn_interface_relied_on_by_jitsi_and_matrix() -> None:
    spec = load_recipes()["coturn"].spec
    assert spec.hostnames == {"turn": "services.turn.sous_domaine"}
    assert [s.name for s in spec.secrets] == ["static_auth_secret"]
    by_name = {p.name: p for p in spec.ports}
    assert (by_name["listening"].protocol, by_name["listening"].base) == ("tcp+udp", 3478)
    relay = by_name["relay"]
    assert (relay.protocol, relay.base) == ("udp", 49160) and 50 <= relay.size <= 200
    assert set(spec.active_if) == {"services.matrix.actif", "services.jitsi.actif"}
    assert spec.images["coturn"] == "coturn/coturn:4.17.0-r0"


@pytest.mark.parametrize(("matrix", "jitsi", "active"), [
    (True, False, True), (False, True, True), (True, True, True), (False, False, False)])
def test_coturn_active_when_matrix_or_jitsi(tmp_path: Path, matrix: bool, jitsi: bool,
                                             active: bool) -> None:
    bundle, _ = _render(tmp_path, _profile(matrix=matrix, jitsi=jitsi))
    assert ("coturn" in dict(bundle.recipes)) is active


def test_turnserver_conf_is_complete(tmp_path: Path) -> None:
    bundle, release = _render(tmp_path, _profile(ip="198.51.100.7"))
    conf = _conf(release)
    assert {k for k, _ in conf} <= KNOWN_OPTIONS
    for key, value in conf:
        assert value is None or (value and " " not in value and "#" not in value), key
    for flag in ("use-auth-secret", "fingerprint", "no-cli", "no-multicast-peers", "no-tls",
                 "no-tcp-relay"):
        assert _one(conf, flag) is None, flag
    assert _one(conf, "realm") == "turn.saint-essai.fr" == bundle.hosts["coturn"]["turn"]
    assert _one(conf, "external-ip") == "198.51.100.7"
    assert int(_one(conf, "listening-port") or 0) == bundle.ports["coturn"]["listening"]
    low, high = int(_one(conf, "min-port") or 0), int(_one(conf, "max-port") or 0)
    assert (low, high) == (bundle.ports["coturn"]["relay"], bundle.ports["coturn"]["relay_end"])
    assert 0 < int(_one(conf, "user-quota") or 0) <= int(_one(conf, "total-quota") or 0)
    assert int(_one(conf, "total-quota") or 0) <= high - low + 1
    secret = _one(conf, "static-auth-secret") or ""
    assert len(secret) >= 32 and secret.isalnum()
    assert secret not in (release / "kit-collab.json").read_text("utf-8")
    f = bundle.file(f"{bundle.release_dir}/coturn/turnserver.conf")
    # The image runs as nobody:nogroup; the file holds the secret: root's, read by the group.
    assert (f.owner, f.mode) == ("0:65534", 0o640)


def test_synapse_uses_this_coturn(tmp_path: Path) -> None:
    """turn_shared_secret is coturn's static-auth-secret; the URIs name its host and port."""
    _, release = _render(tmp_path, _profile())
    conf = _conf(release)
    hs = yaml.safe_load((release / "matrix" / "homeserver.yaml").read_text("utf-8"))
    assert hs["turn_shared_secret"] == _one(conf, "static-auth-secret")
    port = _one(conf, "listening-port")
    assert hs["turn_uris"] == [f"turn:turn.saint-essai.fr:{port}?transport=udp",
                               f"turn:turn.saint-essai.fr:{port}?transport=tcp"]


# ---------------------------------------------------------------------------------------------
# Field failures


@pytest.mark.validators
def test_coturn_no_large_published_port_range__coturn_1257(tmp_path: Path) -> None:
    """Publishing thousands of UDP ports through Docker locks hosts up. coturn uses the host
    network (nothing published), with a narrow relay range; no service of the commune
    publishes a range."""
    data = _profile(jitsi=True)
    data["services"]["nextcloud"] = {"actif": True}
    bundle, release = _render(tmp_path, data)
    services = compose_config(release / "compose.yaml")["services"]
    coturn = services["coturn"]
    assert coturn["network_mode"] == "host"
    assert "ports" not in coturn and "networks" not in coturn
    assert coturn["command"] == ["-c", "/etc/coturn/turnserver.conf"]
    assert coturn["volumes"][0]["target"] == "/etc/coturn/turnserver.conf"
    assert coturn["volumes"][0]["read_only"] is True
    # The health check is a real STUN Binding request on the listening port.
    test = coturn["healthcheck"]["test"]
    assert test[:2] == ["CMD", "turnutils_stunclient"]
    assert str(bundle.ports["coturn"]["listening"]) in test
    relay = bundle.ports["coturn"]["relay_end"] - bundle.ports["coturn"]["relay"] + 1
    assert relay <= 200
    for name, service in services.items():
        for published in service.get("ports", []):
            start = int(published.get("published", 0) or 0)
            end = int(str(published.get("published", start)).split("-")[-1] or start)
            assert end - start < 10, (name, published)


def test_two_communes_get_disjoint_turn_ports(tmp_path: Path) -> None:
    """Several communes on one server: the relay blocks and listening ports never overlap."""
    from kit_collab.profile.model import Profile

    recipes = load_recipes()
    first = Profile.model_validate(_profile())
    second_data = _profile()
    second_data["commune"].update(domaine="autre-essai.fr", email_contact="mairie@autre-essai.fr")
    second = Profile.model_validate(second_data)
    requests = [*ports.port_requests(first.commune.code, active_recipes(first, recipes)),
                *ports.port_requests(second.commune.code, active_recipes(second, recipes))]
    allocated = ports.allocate(requests)
    one = {name: allocated[(first.commune.code, "coturn", name)] for name in ("listening",
                                                                              "relay")}
    two = {name: allocated[(second.commune.code, "coturn", name)] for name in ("listening",
                                                                               "relay")}
    assert one["listening"] != two["listening"]
    size = {p.name: p.size for p in recipes["coturn"].spec.ports}["relay"]
    assert set(range(one["relay"], one["relay"] + size)).isdisjoint(
        range(two["relay"], two["relay"] + size))
    bundle = make_bundle(second, recipes, draw=SYSTEM, recorded_ports=allocated).bundle
    conf = bundle.file(f"{bundle.release_dir}/coturn/turnserver.conf").content.decode()
    assert f"min-port={two['relay']}\n" in conf
    assert f"listening-port={two['listening']}\n" in conf


@pytest.mark.parametrize("ip", ["203.0.113.10", "51.15.20.30", "2a01:4f8::10"])
def test_coturn_denied_ranges_not_over_strict__coturn_954(tmp_path: Path, ip: str) -> None:
    """Calls fail when the denied ranges catch the server's own address (relay to relay, or
    to Jitsi's bridge on the same host). Every private/reserved range of the reference is
    denied, in a syntax coturn accepts, and nothing more (public addresses stay reachable);
    the server's own address is explicitly allowed, even inside a denied (documentation)
    range."""
    _, release = _render(tmp_path, _profile(ip=ip))
    conf = _conf(release)
    denied = _ranges(conf, "denied-peer-ip")
    # Exactly the reference's ranges: all of them, nothing more.
    for version in (4, 6):
        got = ipaddress.collapse_addresses(
            n for a, b in denied if a.version == version
            for n in ipaddress.summarize_address_range(a, b))
        want = ipaddress.collapse_addresses(
            ipaddress.ip_network(c) for c in STACK_V4 + STACK_V6
            if ipaddress.ip_network(c).version == version)
        assert list(got) == list(want)
    for address in PUBLIC:
        assert not _denied(denied, ipaddress.ip_address(address)), address
    assert _ranges(conf, "allowed-peer-ip") == [(ipaddress.ip_address(ip),) * 2]


# ---------------------------------------------------------------------------------------------
# The TURN name on the proxy, and hostile values


@pytest.mark.validators
def test_turn_name_check_is_served_by_proxy(tmp_path: Path) -> None:
    """TURN is not HTTP: the declared check only proves that turn.<domain> reaches this
    server's proxy. Caddy's adapter shows the answer it checks for."""
    bundle, _ = _render(tmp_path, _profile())
    (check,) = [c for c in bundle.checks if c.recipe == "coturn"]
    assert (check.host, check.path, check.contains) == (
        "turn.saint-essai.fr", "/", "kit-collab-turn")
    config = caddy_adapt(tmp_path / "out")
    routes = [r for r in config["apps"]["http"]["servers"]["srv0"]["routes"]
              if r["match"] == [{"host": ["turn.saint-essai.fr"]}]]
    assert len(routes) == 1
    assert '"body": "kit-collab-turn"' in json.dumps(routes[0])


@pytest.mark.validators
def test_hostile_commune_name_in_coturn_compose(tmp_path: Path) -> None:
    _, release = _render(tmp_path, _profile(nom=HOSTILE))
    services = compose_config(release / "compose.yaml")["services"]
    # compose prints a literal "$" as "$$" so that its output can be read again.
    assert services["coturn"]["labels"]["org.kit-collab.commune"].replace("$$", "$") == HOSTILE
    assert HOSTILE not in (release / "coturn" / "turnserver.conf").read_text("utf-8")


# ---------------------------------------------------------------------------------------------
# A real coturn, on loopback


def _free_udp_tcp_port() -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
        with socket.socket() as tcp, contextlib.suppress(OSError):
            tcp.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free port")


@pytest.mark.validators
def test_real_coturn_accepts_config_and_answers_stun(tmp_path: Path) -> None:
    """A real turnserver reads the rendered file (test-only changes: a free port, loopback
    listening and relay addresses, a pid file in tmp_path), takes every denied range and the
    allowed own address, and answers the STUN Binding request of the container's health
    check. Debian's coturn is 4.6, whose stunclient has no -t: it is dropped there."""
    turnserver = require_tool("turnserver")
    require_tool("turnutils_stunclient")
    _, release = _render(tmp_path, _profile(ip="203.0.113.10"))
    port = _free_udp_tcp_port()
    text = (release / "coturn" / "turnserver.conf").read_text("utf-8")
    lines = [f"listening-port={port}" if line.startswith("listening-port=") else line
             for line in text.splitlines()]
    lines += ["listening-ip=127.0.0.1", "relay-ip=127.0.0.1", f"pidfile={tmp_path / 'pid'}"]
    conf = tmp_path / "turnserver.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    compose = yaml.safe_load((release / "coturn" / "compose.yaml").read_text("utf-8"))
    probe = [str(port) if a == str(_one(_conf(release), "listening-port")) else a
             for a in compose["services"]["coturn"]["healthcheck"]["test"][1:]]
    usage = subprocess.run([probe[0]], capture_output=True, text=True, check=False, timeout=10)
    if "-t" not in usage.stdout + usage.stderr:
        at = probe.index("-t")
        del probe[at:at + 2]
    log = tmp_path / "turnserver.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([turnserver, "-c", str(conf)], stdout=sink,
                                stderr=subprocess.STDOUT, env=clean_env(tmp_path))
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=1):
                    break  # listening (TCP and UDP listeners open together)
                time.sleep(0.05)
            assert proc.poll() is None, log.read_text()
            answered = subprocess.run(probe, capture_output=True, text=True, timeout=10,
                                      check=False)
            assert answered.returncode == 0, (answered.stderr, log.read_text())
            assert "reflexive addr: 127.0.0.1" in answered.stdout
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    output = log.read_text()
    denied = [v for k, v in _conf(release) if k == "denied-peer-ip"]
    for value in denied:
        assert f"Black listing: {value}" in output, value
    assert "White listing: 203.0.113.10" in output
    for problem in ("Wrong address", "Bad configuration", "ERROR"):
        assert problem not in output, problem
