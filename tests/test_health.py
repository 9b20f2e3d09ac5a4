"""Health checks against real servers on loopback, and the ``check`` command end to end.

Real here: Caddy (Debian 2.6.2) serving the rendered proxy configuration with its internal
authority, Synapse (matrix-synapse from PyPI, SQLite), coturn (Debian 4.6), dnsmasq, and
Python TLS servers presenting certificates made by the tests (expired, self-signed, for the
wrong name). Stand-ins, because their images cannot be had here (tests/checkbed_standin.py):
Nextcloud's status.php, Element Web serving the rendered config.json, Jitsi Meet's web
container, Collabora's discovery. What is adapted to run on loopback is listed in
tests/checkbed.py. httpx's MockTransport only covers parsing edge cases at the end.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from kit_collab.check import rules as dg
from kit_collab.check.probes import health
from kit_collab.cli.commands import check
from kit_collab.errors import InputError
from kit_collab.operations import diagnose

from . import checkbed
from .checkbed import Authority

HOST = "cloud.saint-essai.fr"


# ---------------------------------------------------------------------------------------------
# Certificates made here, served by a Python TLS server


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Path]:
    ca = Authority()
    return ca, ca.write(tmp_path_factory.mktemp("ca") / "ca.pem")


def _seen(tmp: Path, pem: tuple[bytes, bytes], ca_path: Path | None) -> dg.Finding:
    """Serve the certificate, run the TLS probe as the health check does, judge it."""
    with checkbed.tls_server(tmp, *pem) as port:
        obs = health.probe_tls(HOST, dg.Endpoint("127.0.0.1", port), health.ssl_context(ca_path))
    return dg.tls_finding("nextcloud", obs, datetime.now(UTC))


def test_valid_certificate_from_a_given_ca(tmp_path: Path, authority) -> None:
    ca, ca_path = authority
    f = _seen(tmp_path, ca.issue([HOST], days_after=60), ca_path)
    assert f.level == "ok", f
    assert f.message.startswith(f"certificat valide pour {HOST}, émis par Autorite de test "
                                "kit-collab, expire le ")
    assert "(dans 59 jours)" in f.message or "(dans 60 jours)" in f.message


def test_unknown_authority_without_ca_cert(tmp_path: Path, authority) -> None:
    ca, _ = authority
    f = _seen(tmp_path, ca.issue([HOST]), None)
    assert f.level == "erreur"
    assert f.message == (f"le certificat HTTPS de {HOST} est émis par « Autorite de test "
                         "kit-collab », une autorité inconnue de cette machine")
    assert "--ca-cert" in f.fix


def test_expired_certificate(tmp_path: Path, authority) -> None:
    ca, ca_path = authority
    f = _seen(tmp_path, ca.issue([HOST], days_before=100, days_after=-10), ca_path)
    assert f.level == "erreur"
    assert f.message.startswith(f"le certificat HTTPS de {HOST} a expiré le ")
    assert "(il y a 10 jours)" in f.message or "(il y a 9 jours)" in f.message
    assert "port 80" in f.fix


def test_self_signed_certificate(tmp_path: Path, authority) -> None:
    _, ca_path = authority
    f = _seen(tmp_path, checkbed.self_signed([HOST]), ca_path)
    assert f.level == "erreur"
    assert f.message == (f"le certificat HTTPS de {HOST} est auto-signé ({HOST}) : navigateurs "
                         "et applications le refusent")


def test_certificate_for_the_wrong_name(tmp_path: Path, authority) -> None:
    ca, ca_path = authority
    f = _seen(tmp_path, ca.issue(["autre-commune.fr", "www.autre-commune.fr"]), ca_path)
    assert f.level == "erreur"
    assert f.message.startswith("le certificat présenté à 127.0.0.1:")
    assert f.message.endswith(f" pour {HOST} est celui d'un autre nom (autre-commune.fr, "
                              "www.autre-commune.fr)")
    assert "DNS" in f.fix


def test_certificate_about_to_expire(tmp_path: Path, authority) -> None:
    ca, ca_path = authority
    f = _seen(tmp_path, ca.issue([HOST], days_before=80, days_after=7.5), ca_path)
    assert f.level == "avertissement" and "(dans 7 jours)" in f.message


def test_ca_cert_adds_trust_and_never_removes_verification(tmp_path: Path, authority) -> None:
    _, ca_path = authority
    ctx = health.ssl_context(ca_path)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname is True
    bad = tmp_path / "pas-un-certificat.pem"
    bad.write_text("bonjour")
    with pytest.raises(InputError, match="certificat d'autorité illisible"):
        health.ssl_context(bad)


def test_nothing_listening(tmp_path: Path) -> None:
    port = checkbed.free_port()
    obs = health.probe_tls(HOST, dg.Endpoint("127.0.0.1", port), health.ssl_context())
    f = dg.tls_finding("nextcloud", obs, datetime.now(UTC))
    assert f.level == "erreur" and "connexion refusée" in f.message


# ---------------------------------------------------------------------------------------------
# The commune's stack: real Caddy + real Synapse + real coturn + stand-ins


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[checkbed.Bed]:
    with checkbed.commune_stack(tmp_path_factory.mktemp("bed")) as running:
        yield running


def _health(bed: checkbed.Bed, deadline: float = 10, **kw) -> list[dg.Finding]:
    kw.setdefault("ca_cert", bed.ca_path)
    return diagnose.health(bed.bundle, resolve=bed.resolve, deadline=deadline,
                        root=str(bed.out), **kw)


def test_every_declared_check_passes_through_real_caddy(bed: checkbed.Bed) -> None:
    findings = _health(bed)
    bad = [f for f in findings if f.level != "ok"]
    assert bad == []
    names = {(f.service, f.check) for f in findings}
    assert {(c.recipe, c.name) for c in bed.bundle.checks} <= names
    tls = [f for f in findings if f.check.startswith("https ")]
    assert len(tls) == 7
    assert all("émis par Caddy Local Authority" in f.message for f in tls)
    assert {("coturn", "turn udp"), ("coturn", "turn tcp")} <= names
    by_check = {f.check: f for f in findings}
    # The real Synapse answered through the real Caddy; the real rendered delegation too.
    assert by_check["synapse"].message.endswith("répond comme attendu (200)")
    assert by_check["well-known-client"].message == (
        "https://saint-essai.fr/.well-known/matrix/client mène à "
        "https://matrix.saint-essai.fr (CORS ouvert)")
    assert by_check["element"].message == ("Element pointe vers https://matrix.saint-essai.fr, "
                                           "appels vidéo via visio.saint-essai.fr")


def test_caddy_internal_authority_not_trusted_without_ca_cert(bed: checkbed.Bed) -> None:
    findings = _health(bed, deadline=3, ca_cert=None)
    tls = [f for f in findings if f.check.startswith("https ")]
    assert len(tls) == 7 and all(f.level == "erreur" for f in tls)
    cloud = next(f for f in tls if f.check == f"https {HOST}")
    assert "« Caddy Local Authority - ECC Intermediate », une autorité inconnue" in cloud.message
    assert "non faits" in cloud.message and "--ca-cert" in cloud.fix
    # No HTTP check was run over an unverified connection.
    assert not [f for f in findings if f.check in {c.name for c in bed.bundle.checks}]


def test_stopped_backends_are_named(bed: checkbed.Bed) -> None:
    bed.stop("nextcloud")
    bed.stop("jitsi")
    try:
        started = time.monotonic()
        findings = _health(bed, deadline=2)
        elapsed = time.monotonic() - started
    finally:
        bed.start("nextcloud")
        bed.start("jitsi")
    assert elapsed < 8
    errors = {f.check: f for f in findings if f.level == "erreur"}
    assert set(errors) == {"status", "web", "config", "xmpp-websocket"}
    status = errors["status"]
    assert status.service == "nextcloud"
    assert status.message == ("le proxy n'obtient pas de réponse du service nextcloud (recette "
                              "nextcloud) : https://cloud.saint-essai.fr/status.php (contrôle "
                              "« status ») répond 502")
    assert "logs --tail 50 nextcloud" in status.fix
    assert "service jitsi-web (recette jitsi)" in errors["web"].message
    # Redirects are Caddy's own: still fine with Nextcloud down.
    assert {f.check for f in findings if f.level == "ok"} >= {"caldav", "carddav"}


def test_retries_until_a_late_backend_answers(bed: checkbed.Bed) -> None:
    """Backoff until the deadline, not a fixed sleep: Collabora comes back 1.5 s after the
    checks started and is found healthy well before the deadline."""
    bed.stop("collabora")
    timer = threading.Timer(1.5, bed.start, args=("collabora",))
    timer.start()
    started = time.monotonic()
    try:
        findings = _health(bed, deadline=20)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    discovery = next(f for f in findings if f.check == "discovery")
    assert discovery.level == "ok"
    assert 1.5 <= elapsed < 10


def test_stopped_turn_relay(bed: checkbed.Bed) -> None:
    bed.stop("coturn")
    try:
        findings = _health(bed, deadline=1)
    finally:
        bed.start("coturn")
    turn = [f for f in findings if f.service == "coturn" and f.check.startswith("turn ")]
    assert [f.level for f in turn] == ["erreur", "erreur"]
    assert "le relais TURN (coturn) ne répond pas sur turn.saint-essai.fr" in turn[0].message


# ---------------------------------------------------------------------------------------------
# The command, end to end (without the server: SSH is covered by test_check_dns.py)


@pytest.fixture
def commune_file(bed: checkbed.Bed, tmp_path: Path) -> Path:
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(checkbed.bed_profile(bed.out), allow_unicode=True), "utf-8")
    return path


@pytest.fixture(scope="module")
def bed_dns(bed: checkbed.Bed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    records = {h: ["127.0.0.1"] for _s, h in dg.hostnames(bed.bundle)}
    with checkbed.dnsmasq(tmp_path_factory.mktemp("dns"), records,
                          zone="saint-essai.fr") as server:
        yield server


def test_check_command_json(bed: checkbed.Bed, bed_dns: str, commune_file: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    code = check.run(commune_file, as_json=True, resolve=bed.resolve, ca_cert=bed.ca_path,
                     accept_host_key=None, server=False, deadline=10, dns_server=bed_dns)
    report = json.loads(capsys.readouterr().out)["communes"][0]["rapport"]
    errors = [c for c in report["constats"] if c["niveau"] == "erreur"]
    if bed.ports["coturn"] != checkbed.TURN_DEFAULT:
        # 3478 was taken on this machine: without the server, check knows only the default
        # TURN port (the allocated one is in the server's state.json), so TURN is in error.
        assert {c["controle"] for c in errors} == {"turn udp", "turn tcp"}
        return
    assert code == 0, errors
    assert report["commune"] == "saint-essai-fr"
    assert report["resume"]["erreur"] == 0
    assert report["enregistrements_dns"] == []
    assert set(report["constats"][0]) == {"niveau", "service", "controle", "message",
                                          "correction"}
    checks = {c["controle"] for c in report["constats"]}
    assert {"hébergement", "dns cloud.saint-essai.fr", "https cloud.saint-essai.fr", "status",
            "element", "turn udp"} <= checks


def test_check_command_table_and_exit_code_on_error(bed: checkbed.Bed, bed_dns: str,
                                                    commune_file: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    bed.stop("nextcloud")
    try:
        code = check.run(commune_file, as_json=False, resolve=bed.resolve,
                         ca_cert=bed.ca_path, accept_host_key=None, server=False, deadline=2,
                         dns_server=bed_dns)
    finally:
        bed.start("nextcloud")
    text = capsys.readouterr().out
    assert code == 1
    assert "Diagnostic de Saint-Essai" in text
    assert "Correction" in text and "✗" in text and "✓" in text
    assert "le proxy n'obtient pas de réponse du service nextcloud" in text
    assert "1 erreur," in text or text.rstrip().endswith("1 erreur")
    assert "(s)" not in text


def test_check_command_rejects_a_bad_resolve(commune_file: Path) -> None:
    with pytest.raises(InputError) as caught:
        check.run(commune_file, as_json=True, resolve=["cloud:pas-une-ip"], ca_cert=None,
                  accept_host_key=None, server=False)
    assert caught.value.exit_code == 2


# ---------------------------------------------------------------------------------------------
# Parsing edge cases: httpx's MockTransport (no network)


def _mock(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return health.http_client(health.ssl_context(), transport=httpx.MockTransport(handler))


def test_observe_sends_sni_and_host_to_the_resolved_address() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(url=str(request.url), host=request.headers["host"],
                    sni=request.extensions.get("sni_hostname"))
        return httpx.Response(200, headers={"X-Test": "1"}, content=b"OK")

    chk = next(c for c in _bundle_checks() if c.name == "synapse")
    obs = health.observe(_mock(handler), chk, dg.Endpoint("2001:db8::1", 8443))
    assert seen == {"url": "https://[2001:db8::1]:8443/health", "host": chk.host,
                    "sni": chk.host}
    assert (obs.status, obs.body, obs.headers["x-test"], obs.url) == (200, b"OK", "1", chk.url)


def test_observe_caps_the_body_and_reports_connection_errors() -> None:
    chk = next(c for c in _bundle_checks() if c.name == "status")
    big = _mock(lambda r: httpx.Response(200, content=b"x" * (health.MAX_BODY * 3)))
    assert len(health.observe(big, chk, None).body) == health.MAX_BODY

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request) from ConnectionRefusedError()

    obs = health.observe(_mock(refuse), chk, None)
    assert obs.status is None and obs.error == "connexion refusée"


def test_stun_answer_parsing() -> None:
    request, tid = health.stun_request()
    assert len(request) == 20 and request[:2] == b"\x00\x01"
    answer = b"\x01\x01\x00\x00" + request[4:8] + tid
    assert health.stun_answered(answer, tid)
    assert not health.stun_answered(answer[:12], tid)
    assert not health.stun_answered(b"\x01\x01\x00\x00" + request[4:8] + b"\0" * 12, tid)


def _bundle_checks() -> tuple:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    profile = Profile.model_validate(checkbed.bed_profile(Path("/opt/kit-collab")))
    recipes = load_recipes()
    return make_bundle(profile, recipes, draw=SYSTEM).bundle.checks
