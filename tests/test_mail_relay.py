"""The mail relay probe and the test message against a real SMTP server on loopback.

The relay is aiosmtpd (a real SMTP implementation) started by each test on its own free port,
with a throwaway self-signed certificate, STARTTLS required before anything and AUTH required
(and refused without TLS), as a provider's submission port behaves. The probe and the message
are apply/scripts/mail.py's scripts run by ``sh`` through the local transport, and once over a
real OpenSSH server (tests/sshd.py), as check runs them: the real curl speaks SMTP. Cases:
success, wrong password, no STARTTLS, implicit TLS, unreachable, untrusted certificate, the
message received, the server-side sender, and a real Synapse sending "mot de passe oublié"
through it; the password appears on no command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.apply.transport import LocalTransport
from kit_collab.check.findings import ERROR, OK
from kit_collab.check.probes.mail import mail_findings
from kit_collab.profile.mail_model import Messagerie

from .conftest import require_tool
from .sshd import Sshd, free_port
from .sshd import sshd_server as sshd_server  # noqa: PLC0414 - a fixture, re-exported here
from .test_privilege import CommandLines

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

LOGIN = "mairie@saint-essai.fr"
PASSWORD = 'Relais "secret" \\ $HOME 42'  # noqa: S105 (a test value with what curl escapes)
SENDER = "ne-pas-repondre@saint-essai.fr"


@dataclass
class Relay:
    port: int
    cafile: str
    received: list[Any] = field(default_factory=list)


class _Handler:
    def __init__(self, received: list[Any]) -> None:
        self.received = received

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        return "250 2.0.0 Ok: queued"


def _authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                   data: Any) -> Any:
    ok = (isinstance(data, aiosmtpd_smtp.LoginPassword) and data.login == LOGIN.encode()
          and data.password == PASSWORD.encode())
    return aiosmtpd_smtp.AuthResult(success=ok, handled=False)  # else: 535 sent


def _certificate(tmp: Path) -> tuple[ssl.SSLContext, str]:
    openssl = require_tool("openssl")
    key, cert = tmp / "relais.key", tmp / "relais.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx, str(cert)


@contextlib.contextmanager
def relay(tmp: Path, mode: str) -> Iterator[Relay]:
    """A real SMTP relay on 127.0.0.1: ``starttls`` (STARTTLS required, then AUTH),
    ``plain`` (no STARTTLS offered), ``tls`` (TLS from the first byte)."""
    ctx, cafile = _certificate(tmp)
    found = Relay(free_port(), cafile)
    options: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True,
                               "auth_require_tls": True}
    if mode == "starttls":
        options.update(tls_context=ctx, require_starttls=True)
    elif mode == "tls":
        options.update(ssl_context=ctx, server_hostname="127.0.0.1")
    controller = aiosmtpd_controller.Controller(_Handler(found.received), hostname="127.0.0.1",
                                                port=found.port, **options)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()


def _profile_section(port: int, *, tls: bool = False) -> Messagerie:
    return Messagerie(relais="relais.saint-essai.fr", port=port,
                      securite="tls" if tls else "starttls", identifiant=LOGIN,
                      expediteur=SENDER)


def _probe(m: Messagerie, cafile: str | None, password: str = PASSWORD,
           send_to: str | None = None) -> list[Any]:
    """The probe as check runs it, the relay named by its loopback address (the name in
    the throwaway certificate)."""
    local = Messagerie(**{**m.model_dump(include={"port", "securite", "identifiant",
                                                   "expediteur"}), "relais": "127.0.0.1"})
    with LocalTransport() as transport:
        return mail_findings(transport, local, {"messagerie": {"mot_de_passe": password}},
                             send_to=send_to, commune="Saint-Essai", cafile=cafile)


@pytest.fixture(autouse=True)
def _curl() -> None:
    require_tool("curl")


def test_relay_with_starttls_and_right_password_is_ok(tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        (finding,) = _probe(_profile_section(r.port), r.cafile)
    assert finding.level == OK, finding
    assert "STARTTLS et authentification acceptés" in finding.message
    assert r.received == []  # a probe sends nothing


def test_wrong_relay_password_is_named_with_its_fix(tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        (finding,) = _probe(_profile_section(r.port), r.cafile, password="mauvais")  # noqa: S106
    assert finding.level == ERROR
    assert f"refuse l'identifiant {LOGIN} ou son mot de passe" in finding.message
    assert "KIT_COLLAB_SMTP_PASSWORD" in finding.fix
    assert "mauvais" not in finding.message + finding.fix


def test_relay_without_starttls_is_refused_before_any_password(tmp_path: Path) -> None:
    with relay(tmp_path, "plain") as r:
        (finding,) = _probe(_profile_section(r.port), r.cafile)
    assert finding.level == ERROR
    assert "ne propose pas STARTTLS" in finding.message
    assert "port: 465" in finding.fix


def test_relay_with_implicit_tls(tmp_path: Path) -> None:
    with relay(tmp_path, "tls") as r:
        ok = _probe(_profile_section(r.port, tls=True), r.cafile)
        starttls_on_tls_port = _probe(_profile_section(r.port), r.cafile)
    assert ok[0].level == OK, ok
    assert "TLS et authentification acceptés" in ok[0].message
    # STARTTLS on a TLS port: the client waits for a greeting the relay never sends.
    assert starttls_on_tls_port[0].level == ERROR
    assert "securite: tls" in starttls_on_tls_port[0].fix


def test_unreachable_relay_says_so_with_the_hosting_firewall_fix(tmp_path: Path) -> None:
    (finding,) = _probe(_profile_section(free_port()), None)
    assert finding.level == ERROR
    assert "refuse la connexion ou ne répond pas" in finding.message
    assert "hébergeurs bloquent les envois sortants" in finding.fix


def test_relay_certificate_not_trusted_is_an_error(tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        (finding,) = _probe(_profile_section(r.port), None)  # the throwaway CA not trusted
    assert finding.level == ERROR
    assert "certificat du relais" in finding.message


def test_test_message_is_received_by_the_relay(tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        findings = _probe(_profile_section(r.port), r.cafile,
                          send_to="secretariat@saint-essai.fr")
        deadline = time.monotonic() + 5
        while not r.received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [f.level for f in findings] == [OK, OK], findings
    (envelope,) = r.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["secretariat@saint-essai.fr"]
    text = envelope.content.decode("utf-8", "replace")
    assert "Subject: =?utf-8?" in text or "Message d'essai de kit-collab" in text
    assert "From: ne-pas-repondre@saint-essai.fr" in text


def test_relay_password_never_on_a_command_line(tmp_path: Path) -> None:
    watcher = CommandLines()
    watcher.start()
    try:
        with relay(tmp_path, "starttls") as r:
            findings = _probe(_profile_section(r.port), r.cafile,
                              send_to="secretariat@saint-essai.fr")
    finally:
        watcher.stop()
    assert [f.level for f in findings] == [OK, OK]
    assert watcher.sweeps > 3
    assert any(b"curl" in line for line in watcher.seen)  # the watcher saw curl run
    assert not [line for line in watcher.seen if PASSWORD.encode() in line]



def test_probe_and_test_message_over_real_ssh_keep_the_password_off_every_line(
        tmp_path: Path, sshd_server: Sshd) -> None:
    """As check runs them: over a verified SSH connection to a real OpenSSH server, the
    credentials on the remote curl's stdin; nothing holds the password but that stream."""
    from kit_collab.apply.transport import connect

    m = _profile_section(587)
    watcher = CommandLines()
    watcher.start()
    try:
        with relay(tmp_path, "starttls") as r:
            local = Messagerie(**{**m.model_dump(include={"identifiant", "expediteur"}),
                                  "relais": "127.0.0.1", "port": r.port})
            with connect(sshd_server.serveur(), accept_host_key=sshd_server.fingerprint,
                         known_hosts_file=tmp_path / "known_hosts", timeout=5) as transport:
                findings = mail_findings(transport, local,
                                         {"messagerie": {"mot_de_passe": PASSWORD}},
                                         send_to="secretariat@saint-essai.fr",
                                         commune="Saint-Essai", cafile=r.cafile)
    finally:
        watcher.stop()
    assert [f.level for f in findings] == [OK, OK], findings
    assert [e.rcpt_tos for e in r.received] == [["secretariat@saint-essai.fr"]]
    assert not [line for line in watcher.seen if PASSWORD.encode() in line]
    assert PASSWORD not in sshd_server.log_file.read_text(errors="replace")


def test_server_side_sender_reports_a_failure_with_the_stored_config(tmp_path: Path) -> None:
    """What the nightly backup can run alone: curl reads relay, login and password from a
    0600 file; the report reaches the relay with its French subject."""
    from kit_collab.apply.scripts import mail

    with relay(tmp_path, "starttls") as r:
        config = tmp_path / "messagerie.curl"
        config.write_bytes(mail.sender_config(mail.Relay("127.0.0.1", r.port, False, LOGIN),
                                              PASSWORD, SENDER))
        config.chmod(0o600)
        snippet = mail.notify(str(config), SENDER, "secretariat@saint-essai.fr",
                              "Sauvegarde échouée : Saint-Essai")
        watcher = CommandLines()
        watcher.start()
        try:
            done = subprocess.run(
                ["sh", "-c", f'rapport="La sauvegarde de cette nuit a échoué."\n{snippet}\n'
                             'echo "mail=$mail_code"'],
                env={**os.environ, "CURL_CA_BUNDLE": r.cafile}, capture_output=True,
                text=True, timeout=60, check=False)
        finally:
            watcher.stop()
    assert done.stdout.strip() == "mail=0", done.stdout + done.stderr
    (envelope,) = r.received
    message = message_from_bytes(envelope.original_content)
    assert str(make_header(decode_header(message["Subject"]))) == (
        "Sauvegarde échouée : Saint-Essai")
    assert "La sauvegarde de cette nuit a échoué." in message.get_payload(decode=True).decode()
    assert not [line for line in watcher.seen if PASSWORD.encode() in line]



def _admin_token(port: int, shared_secret: str) -> str:
    """An administrator of the test Synapse, registered with its shared secret (Synapse's
    admin API /_synapse/admin/v1/register: HMAC-SHA1 of nonce, user, password, "admin")."""
    from .test_recipe_matrix import _get

    nonce = json.loads(_get(port, "/_synapse/admin/v1/register")[2])["nonce"]
    mac = hmac.new(shared_secret.encode(), b"\0".join(
        [nonce.encode(), b"kcadmin", b"Admin-Pw-2026", b"admin"]), hashlib.sha1).hexdigest()
    status, _headers, body = _get(port, "/_synapse/admin/v1/register", method="POST", body={
        "nonce": nonce, "username": "kcadmin", "password": "Admin-Pw-2026", "admin": True,
        "mac": mac})
    assert status == 200, body
    return str(json.loads(body)["access_token"])


def _bind_email(port: int, token: str, user: str, email: str) -> None:
    """As provisioning creates an agent (plan/accounts/matrix.py: PUT .../v2/users with
    ``threepids``): the e-mail bound to the account."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("PUT", f"/_synapse/admin/v2/users/{user}", body=json.dumps({
            "password": "Agent-Pw-2026", "threepids": [{"medium": "email", "address": email}]}),
            headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        assert answer.status in (200, 201), answer.read()
    finally:
        conn.close()


@pytest.mark.validators
def test_real_synapse_sends_password_reset_through_the_relay(tmp_path: Path) -> None:
    """A real Synapse, from the rendered homeserver.yaml (test-only: SQLite, a loopback
    listener; the relay's throwaway CA trusted through SSL_CERT_FILE), an agent whose e-mail
    is bound to the account as provisioning binds it: "mot de passe oublié" reaches the
    relay, over STARTTLS with AUTH, in French."""
    from .test_mail import _data
    from .test_recipe_matrix import _get, _process, _relocated, _wait_http
    from .validators import clean_env, render_to

    with relay(tmp_path, "starttls") as r:
        bundle = render_to(_data(relais="127.0.0.1", port=r.port), tmp_path / "out",
                           secrets={"messagerie": {"mot_de_passe": PASSWORD}})
        port = free_port()
        config = _relocated(tmp_path / "out" / bundle.release_dir, tmp_path / "synapse",
                            port=port)
        shared = yaml.safe_load(config.read_text())["registration_shared_secret"]
        env = {**clean_env(tmp_path), "SSL_CERT_FILE": r.cafile,
               "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        argv = [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)]
        log = tmp_path / "synapse.log"
        with _process(argv, tmp_path, log, env) as proc:
            _wait_http(port, "/health", proc, log, deadline_s=90)
            _bind_email(port, _admin_token(port, shared), "@mdupont:saint-essai.fr",
                        "marie@saint-essai.fr")
            status, _headers, body = _get(
                port, "/_matrix/client/v3/account/password/email/requestToken", method="POST",
                body={"client_secret": "kc-essai-123", "email": "marie@saint-essai.fr",
                      "send_attempt": 1})
            assert status == 200, body
            deadline = time.monotonic() + 30
            while not r.received and time.monotonic() < deadline:
                time.sleep(0.2)
        assert r.received, log.read_text()[-3000:]
    (envelope,) = r.received
    assert (envelope.mail_from, envelope.rcpt_tos) == (SENDER, ["marie@saint-essai.fr"])
    message = message_from_bytes(envelope.original_content)
    assert str(make_header(decode_header(message["Subject"]))) == (
        "[saint-essai.fr] Réinitialisation du mot de passe")
    assert SENDER in message["From"]
