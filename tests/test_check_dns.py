"""Preflight against real things: a DNS server started here (dnsmasq, no internet), ports
probed on loopback, and the facts of this very machine read by the real facts script through
the local transport (``serveur.hote: local``), as install would read a server's."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.apply import deploy
from kit_collab.apply.transport import connect
from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.check import rules as dg
from kit_collab.check.probes import dns as dnscheck
from kit_collab.cli.commands import check
from kit_collab.errors import InputError
from kit_collab.operations import diagnose
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import checkbed
from .conftest import base_profile

SERVER_IP = "203.0.113.10"
ZONE = "saint-essai.fr"
RECORDS = {
    "cloud.saint-essai.fr": [SERVER_IP],
    "matrix.saint-essai.fr": ["198.51.100.7"],  # points elsewhere
    "visio.saint-essai.fr": [SERVER_IP, "2001:db8::7"],  # an IPv6 nobody declared
    "turn.saint-essai.fr": [SERVER_IP],
    "saint-essai.fr": [SERVER_IP],
    "serveur.saint-essai.fr": [SERVER_IP],
    # discussion.saint-essai.fr: missing (NXDOMAIN)
}
CNAMES = {"office.saint-essai.fr": "cloud.saint-essai.fr"}


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with checkbed.dnsmasq(tmp_path_factory.mktemp("dnsmasq"), RECORDS, zone=ZONE,
                          cnames=CNAMES) as server:
        yield server


def _profile(**serveur: Any) -> Profile:
    data = base_profile()
    data["serveur"].update({"hote": SERVER_IP, **serveur})
    data["services"]["nextcloud"]["collabora"] = True
    data["services"]["matrix"]["identifiants"] = "domaine-vers-serveur"  # domain served here
    return Profile.model_validate(data)


def _bundle(profile: Profile) -> render.Bundle:
    recipes = load_recipes()
    return make_bundle(profile, recipes, draw=SYSTEM).bundle


def test_lookups_through_a_real_dns_server(dns_server: str) -> None:
    resolver = dnscheck.make_resolver(dns_server)
    answers = dnscheck.lookup_all(["cloud.saint-essai.fr", "office.saint-essai.fr",
                                   "visio.saint-essai.fr", "discussion.saint-essai.fr"],
                                  resolver)
    assert answers["cloud.saint-essai.fr"] == dg.DnsAnswer("cloud.saint-essai.fr", (SERVER_IP,))
    assert answers["office.saint-essai.fr"].a == (SERVER_IP,)
    assert answers["office.saint-essai.fr"].cname == "cloud.saint-essai.fr"
    assert answers["visio.saint-essai.fr"].aaaa == ("2001:db8::7",)
    assert answers["discussion.saint-essai.fr"].error == "nxdomain"


def test_preflight_dns_findings_and_records_to_create(dns_server: str) -> None:
    profile = _profile()
    bundle = _bundle(profile)
    resolver = dnscheck.make_resolver(dns_server)
    findings, records = diagnose.preflight_and_records(profile, bundle, None, resolver=resolver,
                                                    web_ports=())
    dns = {f.check.removeprefix("dns "): f for f in findings if f.check.startswith("dns ")}
    assert {h: f.level for h, f in dns.items()} == {
        "cloud.saint-essai.fr": "ok", "office.saint-essai.fr": "ok", "turn.saint-essai.fr": "ok",
        "saint-essai.fr": "ok", "visio.saint-essai.fr": "avertissement",
        "matrix.saint-essai.fr": "erreur", "discussion.saint-essai.fr": "erreur"}
    assert dns["office.saint-essai.fr"].message == (
        "office.saint-essai.fr → 203.0.113.10 (alias de cloud.saint-essai.fr)")
    assert dns["matrix.saint-essai.fr"].message == (
        "matrix.saint-essai.fr pointe vers 198.51.100.7, pas vers le serveur (203.0.113.10)")
    assert dns["discussion.saint-essai.fr"].message == (
        "le nom discussion.saint-essai.fr n'existe pas dans le DNS")
    assert dns["discussion.saint-essai.fr"].fix.startswith(
        "créez chez votre registraire : discussion.saint-essai.fr. 3600 IN A 203.0.113.10")
    assert dns["discussion.saint-essai.fr"].service == "matrix"
    assert [r.zone_line() for r in records] == [
        "matrix.saint-essai.fr. 3600 IN A 203.0.113.10",
        "discussion.saint-essai.fr. 3600 IN A 203.0.113.10"]
    # The same in a registrar's form: type, sous-domaine, cible, TTL (issue 15, item 9).
    assert [(r.kind, r.subdomain, r.target, r.ttl) for r in records] == [
        ("A", "matrix", "203.0.113.10", 3600), ("A", "discussion", "203.0.113.10", 3600)]
    assert dg.exit_code(findings) == 1
    # Checking before DNS exists, with --resolve: the same problems, as warnings.
    forced, _ = diagnose.preflight_and_records(profile, bundle, None, resolver=resolver,
                                            web_ports=(), resolve=[f"*:{SERVER_IP}"])
    assert dg.exit_code(forced) == 0
    assert next(f for f in forced if f.check == "dns matrix.saint-essai.fr").level == (
        "avertissement")


def test_server_named_by_its_dns_name(dns_server: str) -> None:
    data = base_profile()
    data["serveur"]["hote"] = "serveur.saint-essai.fr"
    data["services"] = {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                        "jitsi": {"actif": False}}
    profile = Profile.model_validate(data)
    resolver = dnscheck.make_resolver(dns_server)
    assert dnscheck.server_addresses(profile.serveur, resolver) == dg.ServerAddresses(
        (SERVER_IP,))
    findings = diagnose.preflight(profile, _bundle(profile), None, resolver=resolver,
                               web_ports=())
    assert [f.level for f in findings if f.check.startswith("dns ")] == ["ok"]


def test_dns_server_that_does_not_answer() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        resolver = dnscheck.make_resolver(f"127.0.0.1:{silent.getsockname()[1]}", timeout=1)
        answer = dnscheck.lookup("cloud.saint-essai.fr", resolver)
    finally:
        silent.close()
    assert answer.error == "délai dépassé"
    (f,) = dg.dns_findings([("nextcloud", "cloud.saint-essai.fr")],
                           {"cloud.saint-essai.fr": answer}, dg.ServerAddresses((SERVER_IP,)))
    assert f.level == "erreur" and f.message == (
        "le DNS ne répond pas pour cloud.saint-essai.fr (délai dépassé)")


def test_dns_server_option_syntax() -> None:
    assert dnscheck.parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert dnscheck.parse_server("[::1]:5353") == ("::1", 5353)
    assert dnscheck.parse_server("2001:db8::53") == ("2001:db8::53", 53)
    with pytest.raises(InputError):
        dnscheck.parse_server("dns.example")


def test_ports_80_and_443_probed_from_here(dns_server: str) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    closed = checkbed.free_port()
    profile = _profile(hote="127.0.0.1")
    try:
        findings = diagnose.preflight(profile, _bundle(profile), None,
                                   resolver=dnscheck.make_resolver(dns_server),
                                   web_ports=(listening.getsockname()[1], closed))
    finally:
        listening.close()
    ports = [f for f in findings if f.check.startswith("port ")]
    assert [f.level for f in ports] == ["ok", "avertissement"]
    assert ports[0].message.startswith("port ") and "joignable depuis cette machine" in (
        ports[0].message)
    assert "connexion refusée" in ports[1].message


# ---------------------------------------------------------------------------------------------
# With the server's facts: this machine, through the local transport


def _local_profile(tmp: Path) -> dict[str, Any]:
    data = base_profile()
    data["serveur"].update(hote="local", ip_publique="127.0.0.1", racine=str(tmp / "srv"))
    return data


def test_preflight_with_facts_of_this_machine(tmp_path: Path, dns_server: str) -> None:
    profile = Profile.model_validate(_local_profile(tmp_path))
    recipes = load_recipes()
    with connect(profile.serveur) as transport:
        facts = deploy.read_facts(transport, profile)
        bundle = deploy.desired(profile, recipes, facts)[0]
        before = transport.round_trips
        findings = diagnose.preflight(profile, bundle, facts, transport=transport,
                                   resolver=dnscheck.make_resolver(dns_server), web_ports=())
        # The clock came with the facts: the preflight costs no command round trip.
        assert transport.round_trips == before
        assert facts.clock_skew is not None and abs(facts.clock_skew) < 5
    found = {f.check: f for f in findings}
    assert {"hébergement", "système", "architecture", "mémoire", "disque", "horloge"} <= set(
        found)
    assert found["système"].level == ("ok" if (facts.os_id, facts.os_version) in
                                      dg.SUPPORTED_OS else "erreur")
    assert found["système"].message.startswith(f"système {facts.os_id} {facts.os_version}")
    assert found["horloge"].level == "ok"  # same machine: no skew
    assert f"{facts.mem_mb / 1024:.1f} Go de RAM" in found["mémoire"].message
    assert any(f.check == "ports" or f.check.startswith("port ") for f in findings)


def test_check_command_with_the_server(tmp_path: Path, dns_server: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` reads the facts (local transport); nothing is deployed there, so the health
    checks are not run and it says so."""
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(_local_profile(tmp_path), allow_unicode=True), "utf-8")
    code = check.run(path, as_json=True, resolve=[], ca_cert=None, accept_host_key=None,
                     server=True, deadline=2, dns_server=dns_server)
    report = json.loads(capsys.readouterr().out)["communes"][0]["rapport"]
    found = {c["controle"]: c for c in report["constats"]}
    assert found["version"]["niveau"] == "avertissement"
    assert found["version"]["message"] == ("aucune version installée : contrôles de santé non "
                                          "faits")
    assert not any(c.startswith("https ") for c in found)
    assert found["horloge"]["niveau"] == "ok"
    assert code == dg.exit_code([dg.Finding(c["niveau"], "", "", "")
                                 for c in report["constats"]])
    # The names of the commune point to 203.0.113.10 here, not to this server (127.0.0.1).
    assert "cloud.saint-essai.fr. 3600 IN A 127.0.0.1" in report["enregistrements_dns"]
