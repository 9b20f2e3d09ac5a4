"""A test bed for ``kit-collab check``, all on loopback, every process stopped by its PID.

- Certificates made here with ``cryptography``: a test authority, and leaves that are valid,
  expired, self-signed, for the wrong name or about to expire; a Python TLS server serves one.
- A DNS server: dnsmasq (Debian package dnsmasq-base) on 127.0.0.1 and a free port, answering
  only the records a test gives it (``--local`` makes every other name of the zone NXDOMAIN).
- The commune's stack: the *real* Caddy (Debian's 2.6.2) serving the *rendered* proxy
  configuration with its internal authority (``certificats.mode: interne``), in front of a
  *real* Synapse (matrix-synapse from PyPI, SQLite) and a *real* coturn (Debian's 4.6), plus
  stand-ins (tests/checkbed_standin.py) for what cannot run here: Nextcloud, Element Web,
  Jitsi Meet's web container, Collabora Online.

  Adapted for loopback, and only this: (1) the Caddyfile's global block gets test-only lines
  (no admin endpoint, HTTP/HTTPS on free high ports), because 80/443 may be taken on a shared
  machine; (2) in the commune's site.caddy the upstream addresses (Docker network aliases such
  as ``<slug>-nextcloud:80``, which do not resolve outside Docker) are replaced by the loopback
  port of each backend; (3) Synapse runs on SQLite with its listener on 127.0.0.1 and its
  paths under the test folder. ``serveur.racine`` is the test folder, so the rendered
  well-known root is served unchanged. Caddy and coturn listen on the run's own loopback
  address (conftest.RUN_HOST), where the checks are pointed: coturn gets its default port
  3478 there even while another test run holds it on another address.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.operations.prepare import write_bundle

from .conftest import RUN_HOST, RUN_ID, base_profile, require_tool

HERE = Path(__file__).resolve().parent
UTC = dt.UTC


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_tcp_udp_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """A port of ``host`` free for both TCP and UDP (coturn listens on both): ``preferred``
    if it is."""
    for attempt in range(50):
        port = preferred if preferred and attempt == 0 else free_port(host=host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                udp.bind((host, port))
                tcp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


# ---------------------------------------------------------------------------------------------
# Certificates


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _leaf(subject_cn: str, names: list[str], issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey,
          not_before: dt.datetime, not_after: dt.datetime,
          issuer_ski: x509.SubjectKeyIdentifier | None) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                              critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer_ski is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Authority:
    """A test certificate authority."""

    name: str = "Autorite de test kit-collab"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(
        ec.SECP256R1()))

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(_now() - dt.timedelta(days=1))
                     .not_valid_after(_now() + dt.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                    critical=True)
                     .add_extension(x509.KeyUsage(
                         digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                         decipher_only=False), critical=True)
                     .add_extension(self.ski, critical=False)
                     .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem)
        return path

    def issue(self, names: list[str], *, days_before: float = 1, days_after: float = 90
              ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) valid from ``days_before`` ago to ``days_after`` from now
        (negative: already expired)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(names[0], names, self.cert.subject, self.key, key,
                     _now() - dt.timedelta(days=days_before),
                     _now() + dt.timedelta(days=days_after), self.ski)
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def self_signed(names: list[str], *, days: float = 90) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = _leaf(names[0], names, subject, key, key, _now() - dt.timedelta(days=1),
                 _now() + dt.timedelta(days=days), None)
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


@contextlib.contextmanager
def tls_server(tmp: Path, cert_pem: bytes, key_pem: bytes) -> Iterator[int]:
    """A Python HTTPS server on 127.0.0.1 presenting this certificate; answers 200 "ok"."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "cert.pem").write_bytes(cert_pem)
    (tmp / "key.pem").write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A process started by a test, stopped by its PID (never by name)."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str],
                 cwd: Path) -> None:
        self.name, self.argv, self.log, self.env, self.cwd = name, argv, log, env, cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as sink:
            self.popen = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=sink,
                                          stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.popen = None

    def tail(self) -> str:
        return self.log.read_text("utf-8", "replace")[-3000:] if self.log.exists() else ""


def wait_for(ready: Any, proc: Proc, what: str, seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        with contextlib.suppress(OSError, ValueError, ssl.SSLError):
            if ready():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready in {seconds} s:\n{proc.tail()}")


def clean_env(tmp: Path) -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CONFIG_HOME": str(tmp / "config"), "LANG": "C.UTF-8"}


# ---------------------------------------------------------------------------------------------
# DNS: dnsmasq


@contextlib.contextmanager
def dnsmasq(tmp: Path, records: dict[str, list[str]], *, zone: str,
            cnames: dict[str, str] | None = None) -> Iterator[str]:
    """dnsmasq on 127.0.0.1:<free port> answering ``records`` (name -> addresses) and
    ``cnames``; every other name under ``zone`` is NXDOMAIN. Yields "127.0.0.1:PORT"."""
    binary = require_tool("dnsmasq")
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_tcp_udp_port()
    argv = [binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
            "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}",
            f"--pid-file={tmp / 'dnsmasq.pid'}", "--log-facility=-", "--log-queries",
            "--user=root", f"--local=/{zone}/", "--conf-file=/dev/null"]
    for name, addresses in records.items():
        argv.append(f"--host-record={name},{','.join(addresses)}")
    for alias, target in (cnames or {}).items():
        argv.append(f"--cname={alias},{target}")
    proc = Proc("dnsmasq", argv, tmp / "dnsmasq.log", clean_env(tmp), tmp).start()
    try:
        wait_for(lambda: _dns_answers(port), proc, "dnsmasq", 10)
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop()


def _dns_answers(port: int) -> bool:
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query("ready.invalid.", "A")
    try:
        dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
    except dns.exception.Timeout:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The commune's stack behind the real Caddy

SLUG = "saint-essai-fr"
TURN_DEFAULT = 3478
RELAY_MIN = 49160 + int(RUN_ID, 16) % 1000 * 11  # coturn's relay ports, this run's own range
BACKENDS = {  # compose alias in site.caddy -> stand-in kind (None: real software)
    "nextcloud": "nextcloud", "matrix-element": "element", "jitsi": "jitsi",
    "collabora": "collabora", "matrix-synapse": None}


def bed_profile(racine: Path, **matrix: Any) -> dict[str, Any]:
    """The bed's commune; its domain points at the bed (Matrix identifiants
    domaine-vers-serveur), unless ``matrix`` says otherwise."""
    data = base_profile()
    data["serveur"].update(hote="127.0.0.1", racine=str(racine),
                           certificats={"mode": "interne"})
    data["services"] = {"nextcloud": {"actif": True, "collabora": True},
                        "matrix": {"actif": True, "federation": False,
                                   "identifiants": "domaine-vers-serveur", **matrix},
                        "jitsi": {"actif": True}}
    return data


def render_bed(data: dict[str, Any], out: Path, turn_port: int) -> render.Bundle:
    """Render and write the bundle, coturn's listening port allocated at ``turn_port``."""
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    profile = Profile.model_validate(data)
    recipes = load_recipes()
    slug = profile.commune.code
    bundle = make_bundle(profile, recipes, draw=SYSTEM,
                         recorded_ports={(slug, "coturn", "listening"): turn_port}).bundle
    write_bundle(bundle, str(out))
    return bundle


@dataclass
class Bed:
    tmp: Path
    bundle: render.Bundle
    out: Path
    https_port: int
    http_port: int
    ca_path: Path
    procs: dict[str, Proc]
    ports: dict[str, int]

    @property
    def resolve(self) -> list[str]:
        return [f"*:{self.https_port}:{RUN_HOST}"]

    def stop(self, name: str) -> None:
        self.procs[name].stop()

    def start(self, name: str) -> None:
        proc = self.procs[name].start()
        port = self.ports[name]
        if name == "coturn":
            from kit_collab.check.probes.health import probe_stun

            host = self.bundle.hosts["coturn"]["turn"]
            wait_for(lambda: probe_stun(host, RUN_HOST, port, "udp", 0.5).answered, proc,
                     name, 10)
        else:
            wait_for(lambda: _http_ok(port, "/"), proc, name, 10)


def _http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: it is up


def _synapse_config(release: Path, tmp: Path, port: int) -> Path:
    """The rendered homeserver.yaml, adapted to run here (see the module docstring)."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((release / "matrix" / "homeserver.yaml").read_text("utf-8"))
    for name in ("signing.key", "log.config"):
        shutil.copy(release / "matrix" / name, tmp / name)
    config.update(signing_key_path=str(tmp / "signing.key"), log_config=str(tmp / "log.config"),
                  media_store_path=str(tmp / "media"), pid_file=str(tmp / "homeserver.pid"),
                  database={"name": "sqlite3", "args": {"database": str(tmp / "synapse.db")}})
    config["listeners"][0].update(port=port, bind_addresses=["127.0.0.1"])
    path = tmp / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _adapt_caddy(out: Path, bundle: render.Bundle, http_port: int, https_port: int,
                 upstreams: dict[str, int]) -> None:
    """The two test-only changes to the rendered proxy files (see the module docstring)."""
    caddyfile = out / "proxy" / "Caddyfile"
    text = caddyfile.read_text("utf-8")
    assert text.count("\n{\n") == 1 and "local_certs" in text
    text = text.replace("\n{\n", "\n{\n\t# test-only: loopback, high ports, no admin endpoint\n"
                        f"\tadmin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n"
                        f"\tdefault_bind {RUN_HOST}\n", 1)
    caddyfile.write_text(text, encoding="utf-8")
    site = out / bundle.release_dir / "proxy" / "site.caddy"
    original = site.read_text("utf-8")
    adapted = original
    for alias, port in upstreams.items():
        adapted = re.sub(rf"\b{re.escape(bundle.slug)}-{re.escape(alias)}:\d+\b",
                         f"127.0.0.1:{port}", adapted)
    assert f"{bundle.slug}-" not in adapted.replace("/communes/" + bundle.slug, ""), adapted
    site.write_text(adapted, encoding="utf-8")


@contextlib.contextmanager
def commune_stack(tmp: Path) -> Iterator[Bed]:
    caddy = require_tool("caddy")
    turnserver = require_tool("turnserver")
    out = tmp / "out"
    # coturn's default port when free: a bundle rendered without the server (check
    # --no-server) allocates that one, as for the first commune on a server.
    turn_port = free_tcp_udp_port(preferred=TURN_DEFAULT, host=RUN_HOST)
    bundle = render_bed(bed_profile(out), out, turn_port)
    release = out / bundle.release_dir
    env = clean_env(tmp)
    ports_by_name = {name: free_port() for name in BACKENDS}
    procs: dict[str, Proc] = {}
    try:
        synapse_cfg = _synapse_config(release, tmp / "synapse", ports_by_name["matrix-synapse"])
        procs["matrix-synapse"] = Proc("synapse", [
            sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(synapse_cfg)],
            tmp / "synapse.log", env, tmp).start()
        for name, kind in BACKENDS.items():
            if kind is None:
                continue
            argv = [sys.executable, str(HERE / "checkbed_standin.py"), kind,
                    str(ports_by_name[name])]
            if kind == "element":
                argv.append(str(release / "matrix" / "config.json"))
            if kind == "jitsi":
                argv.append(f"https://{bundle.hosts['jitsi']['visio']}")
            procs[name] = Proc(f"stand-in {kind}", argv, tmp / f"{kind}.log", env, tmp).start()
        procs["coturn"] = Proc("coturn", [
            turnserver, "-n", f"--listening-ip={RUN_HOST}", f"--listening-port={turn_port}",
            "--no-tls", "--no-dtls", "--no-cli", "--use-auth-secret",
            "--static-auth-secret=secret-de-test", f"--realm={bundle.hosts['coturn']['turn']}",
            "--log-file=stdout", "--simple-log", f"--min-port={RELAY_MIN}",
            f"--max-port={RELAY_MIN + 10}"],
            tmp / "coturn.log", env, tmp).start()
        http_port, https_port = free_port(host=RUN_HOST), free_port(host=RUN_HOST)
        _adapt_caddy(out, bundle, http_port, https_port, ports_by_name)
        procs["caddy"] = Proc("caddy", [caddy, "run", "--config", str(out / "proxy" / "Caddyfile"),
                                        "--adapter", "caddyfile"],
                              tmp / "caddy.log", env, out / "proxy").start()
        for name in BACKENDS:
            port = ports_by_name[name]
            path = "/health" if name == "matrix-synapse" else "/"
            wait_for(lambda p=port, q=path: _http_ok(p, q), procs[name], name, 60)
        ca_path = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_for(lambda: _caddy_serves(ca_path, https_port, bundle.hosts["nextcloud"]["cloud"]),
                 procs["caddy"], "caddy", 30)
        yield Bed(tmp, bundle, out, https_port, http_port, ca_path, procs,
                  {**ports_by_name, "coturn": turn_port})
    finally:
        for proc in procs.values():
            proc.stop()


def _caddy_serves(ca_path: Path, port: int, host: str) -> bool:
    if not ca_path.exists():
        return False
    ctx = ssl.create_default_context(cafile=str(ca_path))
    with socket.create_connection((RUN_HOST, port), timeout=2) as sock, \
            ctx.wrap_socket(sock, server_hostname=host):
        return True
