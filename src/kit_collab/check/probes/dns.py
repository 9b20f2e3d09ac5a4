"""DNS lookups for the preflight, with dnspython: A and AAAA of every name the commune needs.

The system's resolver by default, or a given DNS server (``--dns IP[:PORT]``: the registrar's
authoritative server before propagation, an internal resolver, a test server). What was
found is judged by diagnosis.dns_findings.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from kit_collab.check.rules import DnsAnswer, ServerAddresses
from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.profile.model import Serveur


def parse_server(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT``."""
    text = text.strip()
    match = re.match(r"^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$", text) or \
        re.match(r"^([0-9.]+)(?::(\d{1,5}))?$", text)
    candidates = [(match.group(1), match.group(2))] if match else [(text, None)]
    for ip, port in candidates:
        try:
            return str(ipaddress.ip_address(ip)), int(port or 53)
        except ValueError:
            continue
    raise InputError(tr(f"serveur DNS invalide : « {text} » (attendu : IP ou IP:PORT)",
                        f"invalid DNS server: '{text}' (expected: IP or IP:PORT)"))


def make_resolver(server: str | None = None, *, timeout: float = 4.0) -> dns.resolver.Resolver:
    """The system's resolver (/etc/resolv.conf), or one asking only ``server``."""
    if server is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise InputError(tr("aucun serveur DNS configuré sur cette machine",
                                "no DNS server configured on this machine"),
                             hint=tr("indiquez-en un avec --dns IP", "give one with --dns IP")
                             ) from None
    else:
        ip, port = parse_server(server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [ip]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    resolver.cache = None
    return resolver


def lookup(host: str, resolver: dns.resolver.Resolver) -> DnsAnswer:
    """A and AAAA records of ``host`` (CNAMEs followed)."""
    name = dns.name.from_text(host)
    found: dict[str, tuple[str, ...]] = {"A": (), "AAAA": ()}
    cname = ""
    for kind in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, kind, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(host, error="nxdomain")
        except dns.resolver.NoNameservers:
            return DnsAnswer(host, found["A"], found["AAAA"], error="SERVFAIL")
        except dns.exception.Timeout:
            return DnsAnswer(host, found["A"], found["AAAA"],
                             error=tr("délai dépassé", "timed out"))
        except dns.exception.DNSException as exc:
            return DnsAnswer(host, found["A"], found["AAAA"], error=type(exc).__name__)
        if answer.rrset is not None:
            found[kind] = tuple(sorted(str(r.address) for r in answer.rrset
                                       if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)))
        canonical = answer.canonical_name.to_text(omit_final_dot=True)
        if canonical != host.rstrip("."):
            cname = canonical
    return DnsAnswer(host, found["A"], found["AAAA"], cname=cname)


def lookup_all(hosts: Iterable[str], resolver: dns.resolver.Resolver) -> dict[str, DnsAnswer]:
    names = sorted(set(hosts))
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        return dict(zip(names, pool.map(lambda h: lookup(h, resolver), names), strict=True))


def server_addresses(serveur: Serveur, resolver: dns.resolver.Resolver) -> ServerAddresses:
    """The server's public addresses: serveur.ip_publique, or serveur.hote when it is an IP,
    or the addresses serveur.hote resolves to."""
    if serveur.adresse_publique:
        return ServerAddresses.of([serveur.adresse_publique])
    if serveur.hote == "local":
        return ServerAddresses()
    answer = lookup(serveur.hote, resolver)
    return ServerAddresses(answer.a, answer.aaaa)
