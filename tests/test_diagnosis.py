"""The pure rules of ``kit-collab check``: observations (plain data) in, findings out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.check import rules as dg
from kit_collab.errors import InputError
from kit_collab.i18n import set_lang
from kit_collab.plan.facts import Facts
from kit_collab.plan.state import State
from kit_collab.profile.model import Profile, Serveur
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SERVER = dg.ServerAddresses(("203.0.113.10",))


def _bundle(**services: Any) -> render.Bundle:
    data = base_profile()
    data["serveur"]["hote"] = "203.0.113.10"
    data["services"]["nextcloud"]["collabora"] = True
    # The domain pointed at the server: its Matrix delegation is served and checked here.
    data["services"]["matrix"]["identifiants"] = "domaine-vers-serveur"
    for name, value in services.items():
        data["services"][name] = value
    profile = Profile.model_validate(data)
    recipes = load_recipes()
    return make_bundle(profile, recipes, draw=SYSTEM).bundle


@pytest.fixture(scope="module")
def bundle() -> render.Bundle:
    return _bundle()


def _check(bundle: render.Bundle, recipe: str, name: str) -> render.Check:
    return next(c for c in bundle.checks if (c.recipe, c.name) == (recipe, name))


def _one(findings: list[dg.Finding], check: str) -> dg.Finding:
    (found,) = [f for f in findings if f.check == check]
    return found


# ---------------------------------------------------------------------------------------------
# Findings, summary, exit code


def test_finding_json_uses_french_keys_and_exit_code_follows_errors() -> None:
    ok = dg.Finding(dg.OK, "nextcloud", "status", "bien")
    warn = dg.Finding(dg.WARNING, "serveur", "mémoire", "juste", "plus de RAM")
    err = dg.Finding(dg.ERROR, "matrix", "dns matrix.x.fr", "absent", "créez-le")
    assert ok.as_dict() == {"niveau": "ok", "service": "nextcloud", "controle": "status",
                            "message": "bien", "correction": ""}
    assert dg.exit_code([ok, warn]) == 0
    assert dg.exit_code([ok, warn, err]) == 1
    assert dg.summary([ok, warn, err, err]) == {"ok": 1, "avertissement": 1, "erreur": 2}
    assert dg.blocking([ok, warn, err]) == [err]
    assert dg.audit_note([ok, warn, err]) == "preflight-force=matrix/dns_matrix.x.fr"
    assert dg.audit_note([ok]) == ""


# ---------------------------------------------------------------------------------------------
# --resolve


@pytest.mark.parametrize(("entry", "host", "target"), [
    ("cloud.x.fr:203.0.113.10", "cloud.x.fr", dg.Endpoint("203.0.113.10", 443)),
    ("cloud.x.fr:443:203.0.113.10", "cloud.x.fr", dg.Endpoint("203.0.113.10", 443)),
    ("Cloud.X.fr.:8443:127.0.0.1", "cloud.x.fr", dg.Endpoint("127.0.0.1", 8443)),
    ("cloud.x.fr:2001:db8::1", "cloud.x.fr", dg.Endpoint("2001:db8::1", 443)),
    ("cloud.x.fr:443:[2001:db8::1]", "cloud.x.fr", dg.Endpoint("2001:db8::1", 443)),
    ("*:127.0.0.2", "*", dg.Endpoint("127.0.0.2", 443)),
])
def test_resolve_takes_curl_syntax(entry: str, host: str, target: dg.Endpoint) -> None:
    assert dg.parse_resolve([entry]) == {host: target}


def test_resolve_rejects_bad_entries_each_named() -> None:
    with pytest.raises(InputError) as caught:
        dg.parse_resolve(["cloud.x.fr", "cloud.x.fr:pas-une-ip", "cloud.x.fr:99999:1.2.3.4",
                          "ok.x.fr:1.2.3.4"])
    assert caught.value.exit_code == 2
    assert len(caught.value.problems) == 3
    assert "HOTE:IP" in caught.value.problems[0].message


def test_endpoint_for_prefers_the_exact_name() -> None:
    resolve = dg.parse_resolve(["*:127.0.0.2", "cloud.x.fr:127.0.0.3"])
    assert dg.endpoint_for(resolve, "cloud.x.fr") == dg.Endpoint("127.0.0.3")
    assert dg.endpoint_for(resolve, "autre.x.fr") == dg.Endpoint("127.0.0.2")
    assert dg.endpoint_for({}, "cloud.x.fr") is None
    assert dg.Endpoint("2001:db8::1", 8443).netloc == "[2001:db8::1]:8443"


# ---------------------------------------------------------------------------------------------
# Names and backends, read from the bundle


def test_hostnames_are_every_served_name(bundle: render.Bundle) -> None:
    names = dict((h, s) for s, h in dg.hostnames(bundle))
    assert names == {"cloud.saint-essai.fr": "nextcloud", "office.saint-essai.fr": "collabora",
                     "matrix.saint-essai.fr": "matrix", "discussion.saint-essai.fr": "matrix",
                     "visio.saint-essai.fr": "jitsi", "turn.saint-essai.fr": "coturn",
                     "saint-essai.fr": "matrix"}
    # Without Matrix, the commune's own domain is not served: no record needed.
    alone = _bundle(matrix={"actif": False}, jitsi={"actif": False})
    assert "saint-essai.fr" not in {h for _s, h in dg.hostnames(alone)}


def test_backends_map_each_name_to_its_compose_services(bundle: render.Bundle) -> None:
    found = dg.backends(bundle)
    assert found["cloud.saint-essai.fr"] == ["nextcloud"]
    assert found["visio.saint-essai.fr"] == ["jitsi-web"]  # alias <slug>-jitsi
    assert found["matrix.saint-essai.fr"] == ["matrix-synapse"]
    assert found["discussion.saint-essai.fr"] == ["matrix-element"]
    assert found["office.saint-essai.fr"] == ["collabora"]
    assert "turn.saint-essai.fr" in found and found["turn.saint-essai.fr"] == []


# ---------------------------------------------------------------------------------------------
# DNS


NAMES = [("nextcloud", "cloud.x.fr")]


def _dns(answer: dg.DnsAnswer, server: dg.ServerAddresses = SERVER, **kw: Any) -> dg.Finding:
    findings = dg.dns_findings([("nextcloud", answer.host)], {answer.host: answer}, server, **kw)
    return findings[-1]


def test_dns_right_record_is_ok() -> None:
    f = _dns(dg.DnsAnswer("cloud.x.fr", a=("203.0.113.10",)))
    assert (f.level, f.service, f.check) == ("ok", "nextcloud", "dns cloud.x.fr")
    assert f.message == "cloud.x.fr → 203.0.113.10"
    via = _dns(dg.DnsAnswer("cloud.x.fr", a=("203.0.113.10",), cname="srv.x.fr"))
    assert "alias de srv.x.fr" in via.message


def test_dns_missing_name_gives_the_record_to_create() -> None:
    f = _dns(dg.DnsAnswer("cloud.x.fr", error="nxdomain"))
    assert f.level == "erreur"
    assert f.message == "le nom cloud.x.fr n'existe pas dans le DNS"
    assert "créez chez votre registraire : cloud.x.fr. 3600 IN A 203.0.113.10" in f.fix
    assert "Let's Encrypt" in f.fix  # acme by default: repeated failures are blocked
    internal = _dns(dg.DnsAnswer("cloud.x.fr"), acme=False)
    assert internal.message == "aucune adresse (A/AAAA) pour cloud.x.fr"
    assert "Let's Encrypt" not in internal.fix
    answers = {"cloud.x.fr": dg.DnsAnswer("cloud.x.fr", error="nxdomain")}
    both = dg.ServerAddresses(("203.0.113.10",), ("2001:db8::10",))
    assert dg.records_to_create(NAMES, answers, both) == [
        "cloud.x.fr. 3600 IN A 203.0.113.10", "cloud.x.fr. 3600 IN AAAA 2001:db8::10"]


def test_dns_wrong_address_says_what_to_replace() -> None:
    f = _dns(dg.DnsAnswer("cloud.x.fr", a=("198.51.100.7",)))
    assert f.level == "erreur"
    assert f.message == "cloud.x.fr pointe vers 198.51.100.7, pas vers le serveur (203.0.113.10)"
    assert "remplacez" in f.fix and "cloud.x.fr. 3600 IN A 203.0.113.10" in f.fix
    extra = _dns(dg.DnsAnswer("cloud.x.fr", a=("198.51.100.7", "203.0.113.10")))
    assert extra.level == "erreur" and "mais aussi vers 198.51.100.7" in extra.message
    assert "supprimez" in extra.fix


def test_dns_ipv6_cases() -> None:
    unverifiable = _dns(dg.DnsAnswer("cloud.x.fr", a=("203.0.113.10",), aaaa=("2001:db8::7",)))
    assert unverifiable.level == "avertissement"
    assert "ne peut pas vérifier" in unverifiable.message
    both = dg.ServerAddresses(("203.0.113.10",), ("2001:db8::10",))
    wrong6 = _dns(dg.DnsAnswer("cloud.x.fr", a=("203.0.113.10",), aaaa=("2001:db8::7",)), both)
    assert wrong6.level == "erreur" and "2001:db8::7" in wrong6.message
    only6 = _dns(dg.DnsAnswer("cloud.x.fr", aaaa=("2001:db8::10",)), both)
    assert only6.level == "erreur" and "pas d'enregistrement A" in only6.message
    assert "cloud.x.fr. 3600 IN A 203.0.113.10" in only6.fix


def test_dns_forced_by_resolve_is_only_a_warning_and_unknown_server_is_said() -> None:
    f = _dns(dg.DnsAnswer("cloud.x.fr", error="nxdomain"), forced={"cloud.x.fr": None})
    assert f.level == "avertissement" and "--resolve" in f.message
    star = _dns(dg.DnsAnswer("cloud.x.fr", error="nxdomain"), forced=["*"])
    assert star.level == "avertissement"
    findings = dg.dns_findings(NAMES, {"cloud.x.fr": dg.DnsAnswer("cloud.x.fr",
                                                                   a=("198.51.100.7",))},
                               dg.ServerAddresses())
    assert findings[0].check == "adresse" and "serveur.ip_publique" in findings[0].fix
    assert findings[1].level == "ok"  # nothing to compare with


def test_dns_server_failure() -> None:
    f = _dns(dg.DnsAnswer("cloud.x.fr", error="SERVFAIL"))
    assert f.level == "erreur" and f.message == "le DNS ne répond pas pour cloud.x.fr (SERVFAIL)"


# ---------------------------------------------------------------------------------------------
# Hosting, system, ports, clock


def _serveur(**kw: Any) -> Serveur:
    return Serveur.model_validate({"hote": "203.0.113.10", "hebergeur": "ovhcloud",
                                   "pays": "FR", **kw})


def test_hosting_in_the_eu() -> None:
    (ok,) = dg.hosting_findings(_serveur())
    assert ok.level == "ok" and ok.message == "hébergé chez ovhcloud, en FR (UE/EEE)"
    (us,) = dg.hosting_findings(_serveur(hebergeur="AWS Paris", pays="FR"))
    assert us.level == "avertissement" and "Cloud Act" in us.message
    (out,) = dg.hosting_findings(_serveur(pays="US"))
    assert out.level == "erreur" and "hors de l'UE/EEE" in out.message
    (exempt,) = dg.hosting_findings(_serveur(pays="CH", hebergeur="infomaniak",
                                             derogation_hors_ue="Décision du conseil n° 12"))
    assert exempt.level == "avertissement" and "Décision du conseil" in exempt.message


def _facts(**kw: Any) -> Facts:
    base = {"os_id": "debian", "os_version": "13", "arch": "x86_64", "mem_mb": 16000,
            "disk_free_gb": 200.0}
    return Facts(**{**base, **kw})


def test_system_supported(bundle: render.Bundle) -> None:
    found = {f.check: f for f in dg.system_findings(_facts(), bundle)}
    assert [found[k].level for k in ("système", "architecture", "mémoire", "disque")] == [
        "ok"] * 4
    assert found["mémoire"].message == "15.6 Go de RAM pour 9.8 Go nécessaires"


def test_system_unsupported_os_and_arch(bundle: render.Bundle) -> None:
    found = {f.check: f for f in dg.system_findings(
        _facts(os_id="centos", os_version="7", arch="armv7l"), bundle)}
    assert found["système"].level == "erreur" and "centos 7" in found["système"].message
    assert "Debian 13" in found["système"].fix
    assert found["architecture"].level == "erreur"


def test_memory_against_the_sum_of_enabled_recipes(bundle: render.Bundle) -> None:
    need = bundle.resources["ram_mb"]
    assert need == sum(r.spec.resources.ram_mb for r in load_recipes()
                       if r.name in dict(bundle.recipes))
    short = _one(dg.system_findings(_facts(mem_mb=int(need * 0.8)), bundle), "mémoire")
    assert short.level == "avertissement" and "manquer de mémoire" in short.message
    tiny = _one(dg.system_findings(_facts(mem_mb=2000), bundle), "mémoire")
    assert tiny.level == "erreur" and "désactivez un service" in tiny.fix
    smaller = _bundle(jitsi={"actif": False}, nextcloud={"actif": True, "collabora": False})
    assert _one(dg.system_findings(_facts(mem_mb=4000), smaller), "mémoire").level == "ok"


def test_disk_before_and_after_install(bundle: render.Bundle) -> None:
    need = bundle.resources["disk_gb"]
    assert _one(dg.system_findings(_facts(disk_free_gb=need - 1), bundle),
                "disque").level == "erreur"
    assert _one(dg.system_findings(_facts(disk_free_gb=need + 5), bundle),
                "disque").level == "avertissement"
    # Installed: the images are already there, only the room left matters.
    assert _one(dg.system_findings(_facts(disk_free_gb=30, current="r-1"), bundle),
                "disque").level == "ok"
    assert _one(dg.system_findings(_facts(disk_free_gb=1, current="r-1"), bundle),
                "disque").level == "erreur"


def test_lock_is_reported(bundle: render.Bundle) -> None:
    f = _one(dg.system_findings(_facts(lock="marie@pc install depuis=…"), bundle), "verrou")
    assert f.level == "avertissement" and "unlock" in f.fix


PROTOCOLS = {(r.name, p.name): p.protocol for r in load_recipes() for p in r.spec.ports}


def test_ports_in_use_by_another_program(bundle: render.Bundle) -> None:
    facts = _facts(ports_in_use=frozenset({("tcp", 80), ("udp", 10000), ("udp", 49170),
                                           ("tcp", 22)}))
    needs = dg.needed_ports(bundle, PROTOCOLS, facts)
    assert ("udp", 49160, 49259, "coturn") in needs and ("tcp", 3478, 3478, "coturn") in needs
    found = {f.check: f for f in dg.ports_findings(facts, needs)}
    assert set(found) == {"port 80/tcp", "port 10000/udp", "port 49160-49259/udp"}
    assert found["port 10000/udp"].service == "jitsi"
    assert found["port 80/tcp"].message == ("port 80/tcp déjà utilisé sur le serveur par un "
                                            "autre programme")
    assert "ss -lntup | grep :80" in found["port 80/tcp"].fix


def test_ports_of_this_commune_and_of_the_shared_proxy_are_not_conflicts(
        bundle: render.Bundle) -> None:
    state = State(ports=bundle.port_blocks)
    facts = _facts(ports_in_use=frozenset({("tcp", 80), ("tcp", 443), ("udp", 10000),
                                           ("udp", 49200)}),
                   proxy_files={"Caddyfile": "x"}, state=state)
    (ok,) = dg.ports_findings(facts, dg.needed_ports(bundle, PROTOCOLS, facts))
    assert ok.level == "ok"


def test_reachability_from_here() -> None:
    probes = [dg.PortProbe("203.0.113.10", 80, "refused"),
              dg.PortProbe("203.0.113.10", 443, "timeout")]
    before = dg.reachability_findings(probes, installed=False)
    assert [f.level for f in before] == ["ok", "erreur"]
    assert "pare-feu de l'hébergeur" in before[1].fix
    after = dg.reachability_findings(probes[:1], installed=True)
    assert after[0].level == "erreur" and "kit-collab status" in after[0].fix
    unknown = dg.reachability_findings(probes[:1], installed=None)
    assert unknown[0].level == "avertissement"
    assert dg.reachability_findings([dg.PortProbe("1.2.3.4", 443, "open")],
                                    installed=True)[0].level == "ok"


@pytest.mark.parametrize(("skew", "level"), [(0.3, "ok"), (-12.0, "avertissement"),
                                             (3600.0, "erreur"), (5.5, "ok")])
def test_clock_skew(skew: float, level: str) -> None:
    (f,) = dg.clock_findings(skew, uncertainty=0.6)
    assert f.level == level
    assert dg.clock_findings(None) == []


# ---------------------------------------------------------------------------------------------
# TLS


def _cert(days_left: float, lifetime: float = 90, **kw: Any) -> dg.CertInfo:
    after = NOW + timedelta(days=days_left)
    return dg.CertInfo(**{"subject": "cloud.x.fr", "issuer": "R11", "names": ("cloud.x.fr",),
                          "not_before": after - timedelta(days=lifetime), "not_after": after,
                          "self_issued": False, **kw})


def _tls(**kw: Any) -> dg.TlsObservation:
    return dg.TlsObservation("cloud.x.fr", "203.0.113.10:443", **kw)


def test_tls_valid_certificate_and_expiry_warning() -> None:
    ok = dg.tls_finding("nextcloud", _tls(cert=_cert(60)), NOW)
    assert (ok.level, ok.check) == ("ok", "https cloud.x.fr")
    assert ok.message == ("certificat valide pour cloud.x.fr, émis par R11, expire le "
                          "31/07/2026 12:00 UTC (dans 60 jours)")
    soon = dg.tls_finding("nextcloud", _tls(cert=_cert(10)), NOW)
    assert soon.level == "avertissement" and "dans 10 jours" in soon.message
    assert "renouvellement" in soon.fix
    # Caddy's internal authority issues 12-hour certificates: 5 hours left is normal.
    internal = dg.tls_finding("nextcloud", _tls(cert=_cert(5 / 24, lifetime=0.5)), NOW)
    assert internal.level == "ok" and "dans 5 h" in internal.message
    late = dg.tls_finding("nextcloud", _tls(cert=_cert(1 / 24, lifetime=0.5)), NOW)
    assert late.level == "avertissement"


def test_tls_verification_failures_in_french() -> None:
    expired = dg.tls_finding("nextcloud", _tls(cert=_cert(-3), verify_code=10), NOW)
    assert expired.level == "erreur"
    assert expired.message == ("le certificat HTTPS de cloud.x.fr a expiré le 29/05/2026 "
                               "12:00 UTC (il y a 3 jours)")
    selfsigned = dg.tls_finding("nextcloud", _tls(
        cert=_cert(60, self_issued=True, issuer="cloud.x.fr"), verify_code=18), NOW)
    assert "auto-signé" in selfsigned.message and "--ca-cert" in selfsigned.fix
    other = dg.tls_finding("nextcloud", _tls(cert=_cert(60, names=("autre.fr",)),
                                             verify_code=62), NOW)
    assert "celui d'un autre nom (autre.fr)" in other.message
    unknown = dg.tls_finding("nextcloud", _tls(cert=_cert(60, issuer="Mon AC"),
                                               verify_code=20), NOW)
    assert "« Mon AC », une autorité inconnue" in unknown.message
    future = dg.tls_finding("nextcloud", _tls(cert=_cert(100), verify_code=9), NOW)
    assert "n'est valable qu'à partir du" in future.message and "set-ntp" in future.fix


def test_tls_connection_failure_says_how_many_checks_were_skipped() -> None:
    f = dg.tls_finding("nextcloud", _tls(error="connexion refusée"), NOW, skipped=3)
    assert f.level == "erreur"
    assert f.message == ("connexion HTTPS impossible à cloud.x.fr (203.0.113.10:443) : "
                         "connexion refusée (3 contrôles de ce nom non faits)")


# ---------------------------------------------------------------------------------------------
# Declared HTTP checks


def _obs(check: render.Check, status: int = 200, body: Any = b"", **headers: str
         ) -> dg.HttpObservation:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return dg.HttpObservation(check.url, status, {k.lower().replace("_", "-"): v
                                                  for k, v in headers.items()}, body)


STATUS = {"installed": True, "maintenance": False, "needsDbUpgrade": False}
HSTS = {"Strict_Transport_Security": "max-age=31536000; includeSubDomains"}


def test_status_php_ok_maintenance_and_upgrade(bundle: render.Bundle) -> None:
    check = _check(bundle, "nextcloud", "status")
    ok = dg.check_finding(check, _obs(check, body=STATUS, **HSTS), bundle)
    assert (ok.level, ok.service, ok.check) == ("ok", "nextcloud", "status")
    busy = dg.check_finding(check, _obs(check, body={**STATUS, "maintenance": True}, **HSTS),
                            bundle)
    assert busy.level == "erreur" and busy.message.startswith("Nextcloud est en mode maintenance")
    assert busy.fix == ("sur le serveur : docker compose -p saint-essai-fr -f "
                        "/opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -u 33 "
                        "nextcloud php occ maintenance:mode --off")
    upgrade = dg.check_finding(check, _obs(check, body={**STATUS, "needsDbUpgrade": True},
                                           **HSTS), bundle)
    assert "mise à jour de la base de données" in upgrade.message
    assert upgrade.fix.endswith("php occ upgrade")
    not_json = dg.check_finding(check, _obs(check, body=b"<html>", **HSTS), bundle)
    assert not_json.level == "erreur" and "pas du JSON" in not_json.message


def test_missing_hsts_is_a_warning_missing_cors_an_error(bundle: render.Bundle) -> None:
    status = _check(bundle, "nextcloud", "status")
    f = dg.check_finding(status, _obs(status, body=STATUS), bundle)
    assert f.level == "avertissement" and "Strict-Transport-Security est absent" in f.message
    wk = _check(bundle, "matrix", "well-known-client")
    body = {"m.homeserver": {"base_url": "https://matrix.saint-essai.fr"}}
    f = dg.check_finding(wk, _obs(wk, body=body), bundle)
    assert f.level == "erreur" and "Access-Control-Allow-Origin" in f.message
    f = dg.check_finding(wk, _obs(wk, body=body, Access_Control_Allow_Origin="*"), bundle)
    assert f.level == "ok" and "CORS" in f.message


def test_caldav_redirect(bundle: render.Bundle) -> None:
    check = _check(bundle, "nextcloud", "caldav")
    ok = dg.check_finding(check, _obs(check, 301, Location="/remote.php/dav"), bundle)
    assert ok.level == "ok"
    wrong = dg.check_finding(check, _obs(check, 302, Location="/remote.php/dav"), bundle)
    assert wrong.level == "erreur" and "répond 302 au lieu de 301" in wrong.message


def test_bad_gateway_names_the_stopped_service(bundle: render.Bundle) -> None:
    for recipe, name, service in (("nextcloud", "status", "nextcloud"),
                                  ("jitsi", "web", "jitsi-web"),
                                  ("matrix", "synapse", "matrix-synapse")):
        check = _check(bundle, recipe, name)
        f = dg.check_finding(check, _obs(check, 502), bundle)
        assert f.level == "erreur"
        assert f"le proxy n'obtient pas de réponse du service {service}" in f.message
        assert f"logs --tail 50 {service}" in f.fix


def test_element_must_point_at_the_commune(bundle: render.Bundle) -> None:
    check = _check(bundle, "matrix", "element")
    config = json.loads(bundle.file(f"{bundle.release_dir}/matrix/config.json").content)
    ok = dg.check_finding(check, _obs(check, body=config), bundle)
    assert ok.level == "ok"
    assert ok.message == ("Element pointe vers https://matrix.saint-essai.fr, appels vidéo via "
                          "visio.saint-essai.fr")
    elsewhere = {**config, "default_server_config": {"m.homeserver": {
        "base_url": "https://matrix-client.matrix.org", "server_name": "matrix.org"}}}
    f = dg.check_finding(check, _obs(check, body=elsewhere), bundle)
    assert f.level == "erreur" and "matrix-client.matrix.org" in f.message
    public_calls = {k: v for k, v in config.items() if k != "jitsi"}
    f = dg.check_finding(check, _obs(check, body=public_calls), bundle)
    assert f.level == "erreur" and "un Jitsi public" in f.message
    guests = {**config, "disable_guests": False}
    f = dg.check_finding(check, _obs(check, body=guests), bundle)
    assert f.level == "erreur" and '"disable_guests": false' in f.message


def test_contains_and_connection_error(bundle: render.Bundle) -> None:
    check = _check(bundle, "collabora", "discovery")
    f = dg.check_finding(check, _obs(check, body=b"<html>default page</html>"), bundle)
    assert f.level == "erreur" and "ne contient pas « wopi-discovery »" in f.message
    f = dg.check_finding(check, dg.HttpObservation(check.url, error="délai dépassé"), bundle)
    assert f.level == "erreur" and "pas de réponse" in f.message


def test_turn_findings() -> None:
    ok, bad = dg.turn_findings([
        dg.StunProbe("turn.x.fr", "203.0.113.10:3478", "udp", True, recipe="coturn"),
        dg.StunProbe("turn.x.fr", "203.0.113.10:3478", "tcp", False, "(connexion refusée)",
                     recipe="coturn")])
    assert ok.level == "ok" and bad.level == "erreur"
    assert bad.service == "coturn" and "port 3478 (UDP et TCP)" in bad.fix


def test_stun_probes_come_from_the_recipes(bundle: render.Bundle) -> None:
    """The TURN probe is declared by the coturn recipe (``stun:``), not named by the engine."""
    assert [(t.recipe, t.host) for t in bundle.stun] == [("coturn", bundle.hosts["coturn"]["turn"])]
    assert bundle.stun[0].port == bundle.ports["coturn"]["listening"]


def test_english_on_request(bundle: render.Bundle) -> None:
    set_lang("en")
    try:
        f = _dns(dg.DnsAnswer("cloud.x.fr", error="nxdomain"))
        assert f.message == "name cloud.x.fr does not exist in DNS"
        assert f.fix.startswith("create at your registrar: cloud.x.fr. 3600 IN A")
    finally:
        set_lang("fr")


def test_well_known_server_when_federation_is_on() -> None:
    from kit_collab.check.rules import delegation

    data = base_profile()
    data["services"]["matrix"].update(federation=True, identifiants="domaine-vers-serveur")
    profile = Profile.model_validate(data)
    fed = make_bundle(profile, load_recipes(), draw=SYSTEM).bundle
    d = delegation.delegation(profile, fed)
    assert d is not None and d.documents() == [("server", {"m.server":
                                                          "matrix.saint-essai.fr:443"})]
    url = "https://saint-essai.fr/.well-known/matrix/server"
    ok = delegation.delegation_findings(d, {"server": dg.HttpObservation(
        url, 200, {}, b'{"m.server": "matrix.saint-essai.fr:443"}')})[0]
    assert ok.level == "ok" and "mène au serveur de la commune" in ok.message
    bad = delegation.delegation_findings(d, {"server": dg.HttpObservation(
        url, 200, {}, b'{"m.server": "saint-essai.fr:8448"}')})[0]
    assert bad.level == "erreur" and "la fédération échouera" in bad.message


# ---------------------------------------------------------------------------------------------
# What install calls (commands/check.py), with a stand-in transport


class _Result:
    def __init__(self, code: int, stdout: bytes) -> None:
        self.code, self.stdout, self.stderr = code, stdout, b""


class _Transport:
    def __init__(self, stdout: bytes, code: int = 0) -> None:
        self.stdout, self.code, self.commands = stdout, code, []

    def run(self, script: str, **kw: Any) -> _Result:
        self.commands.append((script, kw))
        return _Result(self.code, self.stdout)


def test_gate_stops_install_unless_forced() -> None:
    from kit_collab.errors import DeployError
    from kit_collab.operations import diagnose as check

    err = dg.Finding(dg.ERROR, "serveur", "mémoire", "trop peu")
    with pytest.raises(DeployError) as caught:
        check.gate([err], force=False)
    assert caught.value.exit_code == 1 and "--force" in (caught.value.hint or "")
    assert check.gate([err], force=True) == "preflight-force=serveur/mémoire"
    assert check.gate([dg.Finding(dg.WARNING, "serveur", "disque", "juste")], force=False) == ""


def test_server_clock_and_internal_ca_over_a_transport() -> None:
    import time

    from kit_collab.operations import diagnose as check

    fake = _Transport(f"{time.time() + 30:.3f}\n".encode())
    skew, uncertainty = check.server_clock(fake)
    assert 29 < skew < 31 and uncertainty < 1
    assert fake.commands == [("date -u +%s.%N", {"sudo": False, "timeout": 30})]
    busybox = _Transport(f"{int(time.time())}.N\n".encode())  # a date without %N
    assert abs(check.server_clock(busybox)[0]) < 2
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    fake = _Transport(pem)
    assert check.internal_ca(fake, "/srv/kc") == pem.decode()
    assert fake.commands[0][0] == ("docker compose -p kit-collab-proxy -f /srv/kc/proxy/"
                                   "compose.yaml exec -T caddy cat "
                                   "/data/caddy/pki/authorities/local/root.crt")
    assert check.internal_ca(_Transport(b"", code=1)) is None
    assert check.server_clock(_Transport(b"date: invalid\n"))[0] is None
