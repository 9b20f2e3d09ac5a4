"""Matrix delegation seen from here: the two small files at the root of the identifiers'
name, and whether a website answers on the commune's domain (preflight).

A website kept where it is (``site-existant``) is read where the DNS leads, never through
this server: a ``*`` given to --resolve stands for this server's names, so only an entry
naming the domain itself redirects the request (a test website). With ``--dns``, the
domain's address is the one that DNS server gives (the same answer the DNS checks read);
otherwise the system's resolver decides. Certificates are always verified
(``health.ssl_context``); redirects are followed as Matrix clients do.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx

from kit_collab.check.probes import health
from kit_collab.check.rules import delegation as rules
from kit_collab.check.rules.http import HttpObservation
from kit_collab.check.rules.names import Endpoint, Resolve, endpoint_for
from kit_collab.i18n import tr


def _target(d: rules.Delegation, resolve: Resolve, resolver: Any = None
            ) -> Endpoint | str | None:
    """Where to read the documents: an endpoint, None (the system's resolver decides), or
    why the name has no address in the DNS server given (``resolver``)."""
    if not d.on_website:
        return endpoint_for(resolve, d.host)
    if d.host in resolve or resolver is None:
        return resolve.get(d.host)
    from kit_collab.check.probes import dns as dnscheck

    answer = dnscheck.lookup(d.host, resolver)
    address = next(iter((*answer.a, *answer.aaaa)), None)
    if address is None:
        why = answer.error or tr("aucun enregistrement A ni AAAA", "no A or AAAA record")
        return tr(f"{d.host} n'a pas d'adresse dans le DNS ({why})",
                  f"{d.host} has no address in the DNS ({why})")
    return Endpoint(address)


def fetch(url: str, host: str, target: Endpoint | None, ctx: ssl.SSLContext,
          timeout: float, *, follow: bool = True) -> HttpObservation:
    """GET ``url`` (https://host/path), at ``target`` when given, with its SNI and Host."""
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    request_url, headers, extensions = url, {}, {}
    if target is not None:
        request_url = f"https://{target.netloc}{path}"
        headers = {"Host": host}
        extensions = {"sni_hostname": host}
    try:
        with httpx.Client(verify=ctx, timeout=timeout, follow_redirects=follow,
                          trust_env=False, max_redirects=5) as client:
            response = client.get(request_url, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return HttpObservation(url, error=health._http_reason(exc))
    return HttpObservation(url, response.status_code,
                           {k.lower(): v for k, v in response.headers.items()},
                           response.content[:health.MAX_BODY])


def read_documents(d: rules.Delegation, *, resolve: Resolve, ctx: ssl.SSLContext,
                   deadline: float = 30, resolver: Any = None) -> dict[str, HttpObservation]:
    """What is answered for each document ``check`` reads itself; retried until a deadline
    only on this server (a proxy may still be starting), once on a website. ``resolver``:
    the DNS server given to check (--dns), asked for the website's address."""
    target = _target(d, resolve, resolver)
    if isinstance(target, str):
        return {name: HttpObservation(d.url(name), error=target) for name, _e in d.documents()}
    where: Endpoint | None = target
    limit = health.Deadline.after(deadline if not d.on_website else 0)
    seen: dict[str, HttpObservation] = {}

    def answered(obs: HttpObservation) -> bool:
        return obs.status is not None and obs.status < 500

    for name, _expected in d.documents():
        url = d.url(name)
        seen[name] = health.retry(
            lambda t, u=url: fetch(u, d.host, where, ctx, min(t, 10)),  # type: ignore[misc]
            answered, limit)
    return seen


def website(domain: str, ip: str, *, resolve: Resolve, ctx: ssl.SSLContext,
            timeout: float = 5) -> str | None:
    """What answers on https://<domain>/ at ``ip`` (where the DNS leads; a --resolve entry
    naming the domain wins), in a few words; None when nothing does. Redirects are not
    followed: any answer means a website lives there. A certificate that fails
    verification is an answer too (the request is never sent over it)."""
    target = resolve.get(domain) or Endpoint(ip)
    seen = fetch(f"https://{domain}/", domain, target, ctx, timeout, follow=False)
    if seen.status is not None:
        return tr(f"statut {seen.status}", f"status {seen.status}")
    try:
        with socket.create_connection((target.ip, target.port), timeout=timeout) as sock, \
                ctx.wrap_socket(sock, server_hostname=domain):
            pass
    except ssl.SSLCertVerificationError:
        return tr("HTTPS, certificat non vérifiable", "HTTPS, certificate not verifiable")
    except (OSError, ssl.SSLError):
        pass
    return _plain_http(domain, target.ip, timeout)


def _plain_http(domain: str, ip: str, timeout: float) -> str | None:
    """A site on plain HTTP (port 80) is a site too; only its status is read."""
    host = f"[{ip}]" if ":" in ip else ip
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.get(f"http://{host}/", headers={"Host": domain})
    except httpx.HTTPError:
        return None
    return tr(f"HTTP, statut {response.status_code}", f"HTTP, status {response.status_code}")
