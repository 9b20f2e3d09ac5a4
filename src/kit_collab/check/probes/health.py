"""HTTPS, TLS, STUN and TCP probes: the network side of ``kit-collab check``.

Certificates are always verified, with the system's authorities (and certifi's) plus, when
given, one more CA file (Caddy's internal authority, a test CA). ``--resolve`` connects to the
given address with the right SNI and Host header, as curl does; nothing ever turns
verification off. Each probe is retried with backoff until a shared deadline, never a fixed
sleep. What was seen is turned into findings by diagnosis.py.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import certifi
import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID

from kit_collab import constants
from kit_collab.bundle.model import Bundle, Check, StunTarget
from kit_collab.check import rules as dg
from kit_collab.errors import InputError
from kit_collab.i18n import tr

MAX_BODY = 1024 * 1024
STUN_MAGIC = 0x2112A442
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Trust


def ssl_context(ca_cert: Path | None = None) -> ssl.SSLContext:
    """Verification on, hostname checked: the system's and certifi's authorities, plus
    ``ca_cert`` (PEM) when given."""
    ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.load_default_certs()
    if ca_cert is not None:
        try:
            ctx.load_verify_locations(cafile=str(ca_cert))
        except (OSError, ssl.SSLError) as exc:
            raise InputError(tr(
                f"certificat d'autorité illisible : {ca_cert} ({exc})",
                f"unreadable authority certificate: {ca_cert} ({exc})"),
                hint=tr("donnez un fichier PEM (-----BEGIN CERTIFICATE-----)",
                        "give a PEM file (-----BEGIN CERTIFICATE-----)")) from None
    return ctx


# ---------------------------------------------------------------------------------------------
# Retries until a deadline


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic() value

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


def retry(attempt: Callable[[float], T], done: Callable[[T], bool], deadline: Deadline, *,
          first: float = 0.25, factor: float = 2.0, cap: float = 4.0) -> T:
    """Call ``attempt(timeout)`` until ``done(result)`` or the deadline; waits grow from
    ``first`` by ``factor`` up to ``cap`` seconds. Always one attempt, even past the deadline."""
    wait = first
    while True:
        result = attempt(max(1.0, min(10.0, deadline.left())))
        if done(result) or deadline.left() <= 0:
            return result
        time.sleep(min(wait, deadline.left()))
        wait = min(cap, wait * factor)


def _parallel(jobs: Iterable[Callable[[], T]], workers: int = 32) -> list[T]:
    """Run every job at once (each one waits on the network, and on the shared deadline)."""
    jobs = list(jobs)
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(lambda job: job(), jobs))


# ---------------------------------------------------------------------------------------------
# TCP ports seen from here


def probe_tcp(ip: str, port: int, timeout: float = 5) -> dg.PortProbe:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return dg.PortProbe(ip, port, "open")
    except ConnectionRefusedError:
        return dg.PortProbe(ip, port, "refused")
    except TimeoutError:
        return dg.PortProbe(ip, port, "timeout")
    except OSError as exc:
        return dg.PortProbe(ip, port, "unreachable", exc.strerror or type(exc).__name__)


# ---------------------------------------------------------------------------------------------
# TLS: the certificate each name presents


def cert_info(der: bytes) -> dg.CertInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(sans.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return dg.CertInfo(
        subject=_name(cert.subject), issuer=_name(cert.issuer), names=names,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        self_issued=cert.issuer == cert.subject)


def _name(name: x509.Name) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        values = name.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return name.rfc4514_string() or "?"


def _connect(host: str, target: dg.Endpoint | None, timeout: float) -> tuple[socket.socket, str]:
    address = (target.ip, target.port) if target else (host, 443)
    where = target.netloc if target else f"{host}:443"
    return socket.create_connection(address, timeout=timeout), where


def probe_tls(host: str, target: dg.Endpoint | None, ctx: ssl.SSLContext,
              timeout: float = 10) -> dg.TlsObservation:
    """A verified handshake with SNI ``host``; on a verification failure, the certificate
    presented is read once more, to describe it (see ``_presented``)."""
    where = target.netloc if target else f"{host}:443"
    try:
        sock, where = _connect(host, target, timeout)
    except OSError as exc:
        return dg.TlsObservation(host, where, error=_reason(exc))
    try:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        return dg.TlsObservation(host, where, cert=_presented(host, target, timeout),
                                 verify_code=exc.verify_code,
                                 verify_message=str(exc.verify_message))
    except (OSError, ssl.SSLError) as exc:
        return dg.TlsObservation(host, where, error=_reason(exc))
    finally:
        sock.close()
    if not der:
        return dg.TlsObservation(host, where, error="no certificate")
    return dg.TlsObservation(host, where, cert=cert_info(der))


def _presented(host: str, target: dg.Endpoint | None, timeout: float) -> dg.CertInfo | None:
    """The certificate the server presents, read only to *describe* a failed verification
    (its names, issuer and dates in the finding). This handshake trusts nothing: no request
    is sent over it and it is closed at once; every request goes through ``ssl_context``."""
    describe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    describe.check_hostname = False
    describe.verify_mode = ssl.CERT_NONE  # read-only description, see above
    try:
        sock, _where = _connect(host, target, timeout)
        with sock, describe.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return cert_info(der) if der else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return tr("connexion refusée", "connection refused")
    if isinstance(exc, TimeoutError | socket.timeout):
        return tr("délai dépassé", "timed out")
    if isinstance(exc, socket.gaierror):
        return tr("nom introuvable dans le DNS", "name not found in DNS")
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return str(text)[:200] or type(exc).__name__


def _tls_settled(obs: dg.TlsObservation) -> bool:
    """A certificate was judged (good or bad): retrying will not change it. A connection or
    handshake failure may be a proxy still starting or still obtaining its certificate."""
    return obs.cert is not None or obs.verify_code is not None


# ---------------------------------------------------------------------------------------------
# HTTP checks


def http_client(ctx: ssl.SSLContext, timeout: float = 10,
                transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(verify=ctx, timeout=timeout, follow_redirects=False,
                        transport=transport, trust_env=False)


def observe(client: httpx.Client, check: Check, target: dg.Endpoint | None,
            timeout: float = 10) -> dg.HttpObservation:
    """GET the check's URL; with a target, at its address with the check's SNI and Host."""
    url, headers, extensions = check.url, {}, {}
    if target is not None:
        url = f"https://{target.netloc}{check.path}"
        headers = {"Host": check.host}
        extensions = {"sni_hostname": check.host}
    try:
        with client.stream("GET", url, headers=headers, extensions=extensions,
                           timeout=timeout) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BODY:
                    break
            return dg.HttpObservation(check.url, response.status_code,
                                      {k.lower(): v for k, v in response.headers.items()},
                                      body[:MAX_BODY])
    except httpx.HTTPError as exc:
        return dg.HttpObservation(check.url, error=_http_reason(exc))


def _http_reason(exc: BaseException) -> str:
    """The innermost socket or TLS error behind an httpx error, in a few words."""
    cause: BaseException | None = exc
    for _ in range(6):
        if isinstance(cause, OSError):
            return _reason(cause)
        cause = cause.__cause__ or cause.__context__ if cause else None
    return str(exc)[:200] or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# TURN: a STUN Binding request (RFC 5389), over UDP and TCP


def stun_request() -> tuple[bytes, bytes]:
    tid = os.urandom(12)
    return struct.pack("!HHI", 0x0001, 0, STUN_MAGIC) + tid, tid


def stun_answered(data: bytes, tid: bytes) -> bool:
    """A Binding success (0x0101) or error (0x0111) response to our transaction."""
    if len(data) < 20:
        return False
    kind, _length, magic = struct.unpack("!HHI", data[:8])
    return kind in (0x0101, 0x0111) and magic == STUN_MAGIC and data[8:20] == tid


def probe_stun(host: str, ip: str, port: int, protocol: str,
               timeout: float = 3) -> dg.StunProbe:
    where = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    request, tid = stun_request()
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        if protocol == "udp":
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                sock.sendto(request, (ip, port))
                data = sock.recv(2048)
        else:
            with socket.create_connection((ip, port), timeout=timeout) as sock:
                sock.sendall(request)
                data = sock.recv(2048)
    except OSError as exc:
        return dg.StunProbe(host, where, protocol, False, f"({_reason(exc)})")
    return dg.StunProbe(host, where, protocol, stun_answered(data, tid))


def _turn_jobs(bundle: Bundle, resolve: dg.Resolve, deadline: Deadline
               ) -> list[Callable[[], dg.StunProbe]]:
    """One UDP and one TCP STUN probe for each STUN port the recipes declare (``stun:``)."""
    return [_stun_job(t, protocol, resolve, deadline)
            for t in bundle.stun for protocol in ("udp", "tcp")]


def _stun_job(t: StunTarget, protocol: str, resolve: dg.Resolve,
              deadline: Deadline) -> Callable[[], dg.StunProbe]:
    target = dg.endpoint_for(resolve, t.host)

    def attempt(timeout: float) -> dg.StunProbe:
        try:
            ip = target.ip if target else socket.getaddrinfo(t.host, t.port)[0][4][0]
        except OSError as exc:
            return dg.StunProbe(t.host, f"{t.host}:{t.port}", protocol, False,
                                f"({_reason(exc)})", recipe=t.recipe)
        probe = probe_stun(t.host, str(ip), t.port, protocol, min(timeout, 3))
        return replace(probe, recipe=t.recipe)

    return lambda: retry(attempt, lambda p: p.answered, deadline)


# ---------------------------------------------------------------------------------------------
# Everything, after a deploy or on demand


def run_health(bundle: Bundle, *, resolve: dg.Resolve, ctx: ssl.SSLContext,
               deadline: float = 60, root: str = constants.SERVER_ROOT,
               now: Callable[[], datetime] | None = None) -> list[dg.Finding]:
    """For every name at once: its certificate, then, when it holds, its declared checks
    (never over an unverified connection); and the TURN port. Each probe is retried with
    backoff until ``deadline`` seconds from now."""
    clock = now or (lambda: datetime.now(UTC))
    limit = Deadline.after(deadline)
    names = dg.hostnames(bundle)
    jobs: list[Callable[[], list[dg.Finding]]] = [
        _host_job(service, host, bundle, resolve, ctx, limit, root, clock)
        for service, host in names]
    turn = _turn_jobs(bundle, resolve, limit)
    jobs.append(lambda: dg.turn_findings(_parallel(turn)))
    return [f for found in _parallel(jobs) for f in found]


def _host_job(service: str, host: str, bundle: Bundle, resolve: dg.Resolve,
              ctx: ssl.SSLContext, limit: Deadline, root: str,
              clock: Callable[[], datetime]) -> Callable[[], list[dg.Finding]]:
    target = dg.endpoint_for(resolve, host)
    checks = [c for c in bundle.checks if c.host == host]

    def run() -> list[dg.Finding]:
        obs = retry(lambda t: probe_tls(host, target, ctx, t), _tls_settled, limit)
        if obs.verify_code is not None or obs.cert is None:
            return [dg.tls_finding(service, obs, clock(), skipped=len(checks))]
        found = _parallel([_check_job(c, target, ctx, limit, bundle, root) for c in checks])
        return [dg.tls_finding(service, obs, clock()), *found]

    return run


def _check_job(check: Check, target: dg.Endpoint | None, ctx: ssl.SSLContext, limit: Deadline,
               bundle: Bundle, root: str) -> Callable[[], dg.Finding]:
    def run() -> dg.Finding:
        # One client per check: connections are pooled by address, and several names may
        # share one address; a pooled connection would carry another name's SNI.
        with http_client(ctx) as client:
            return retry(lambda t: dg.check_finding(check, observe(client, check, target, t),
                                                    bundle, root),
                         lambda f: f.level != dg.ERROR, limit)
    return run
