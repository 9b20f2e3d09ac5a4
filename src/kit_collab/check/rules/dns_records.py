"""DNS records as a registrar's web form asks for them (type, sous-domaine, cible, TTL), and
as zone-file lines or CSV for a whole inventory. Pure: names and addresses are given.

A record's target is the server's public address (A or AAAA); when only the server's name
is known (``serveur.hote`` is a name and no ``ip_publique``), a sub-domain points at it with
a CNAME, and the bare domain (which cannot be a CNAME) is left "à compléter".
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from kit_collab.check.findings import WARNING, Finding
from kit_collab.check.rules.dns import DnsAnswer, ServerAddresses
from kit_collab.i18n import tr

TTL = 3600
TO_FILL = "à compléter"  # the target is not known yet


@dataclass(frozen=True)
class Record:
    commune: str  # the commune's code (slug)
    zone: str  # the commune's domain, where the registrar manages the records
    host: str  # the full name
    kind: str  # A | AAAA | CNAME
    target: str
    ttl: int = TTL

    @property
    def subdomain(self) -> str:
        """What a registrar's form calls "sous-domaine": "@" for the domain itself."""
        return "@" if self.host == self.zone else self.host.removesuffix(f".{self.zone}")

    def zone_line(self) -> str:
        target = f"{self.target}." if self.kind == "CNAME" else self.target
        return f"{self.host}. {self.ttl} IN {self.kind} {target}"

    def as_dict(self) -> dict[str, str | int]:
        return {"commune": self.commune, "zone": self.zone, "nom": self.host,
                "type": self.kind, "sous_domaine": self.subdomain, "cible": self.target,
                "ttl": self.ttl}


def _kind(address: str) -> str:
    return "AAAA" if ":" in address else "A"


def wanted(commune: str, zone: str, hosts: list[str], addresses: list[str],
           server_name: str | None = None) -> list[Record]:
    """The records every name of a commune needs: one per address, or a CNAME to the
    server's name when no address is known."""
    out: list[Record] = []
    for host in dict.fromkeys(hosts):
        if addresses:
            out.extend(Record(commune, zone, host, _kind(ip), ip) for ip in addresses)
        elif server_name and host != zone:
            out.append(Record(commune, zone, host, "CNAME", server_name))
        else:
            out.append(Record(commune, zone, host, "A", TO_FILL))
    return out


def as_csv(records: list[Record]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["commune", "zone", "type", "sous_domaine", "cible", "ttl", "nom"])
    for r in records:
        writer.writerow([r.commune, r.zone, r.kind, r.subdomain, r.target, r.ttl, r.host])
    return buffer.getvalue()


def as_zone(records: list[Record]) -> str:
    """Zone-file lines grouped by zone, each group headed by a comment."""
    lines: list[str] = []
    for zone in dict.fromkeys(r.zone for r in records):
        lines.append(f"; {zone}")
        lines.extend(r.zone_line() if r.target != TO_FILL else f"; {r.host}. {r.ttl} IN "
                     f"{r.kind} ({TO_FILL})" for r in records if r.zone == zone)
    return "\n".join(lines) + ("\n" if lines else "")


def address_findings(address: str | None, service: str = "serveur") -> list[Finding]:
    """A public address that cannot be reached from the internet (private, loopback,
    link-local, reserved) is a warning: visio and TURN announce it to the participants."""
    if not address:
        return []
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return []
    if ip.is_global:
        return []
    return [Finding(WARNING, service, "adresse publique", tr(
        f"{address} n'est pas une adresse publique (privée, locale ou réservée) : les agents "
        "ne joindront pas le serveur depuis internet, la vidéo et TURN l'annonceront en vain",
        f"{address} is not a public address (private, local or reserved): agents will not "
        "reach the server from the internet, video and TURN would announce it in vain"),
        tr("indiquez l'adresse IPv4 publique du serveur (serveur.ip_publique), donnée par "
           "l'hébergeur", "give the server's public IPv4 address (serveur.ip_publique), from "
           "the hosting provider"))]


def missing(commune: str, zone: str, names: list[tuple[str, str]],
            answers: Mapping[str, DnsAnswer], server: ServerAddresses) -> list[Record]:
    """The records to create at the registrar: each address of the server a name does not
    resolve to yet (the same as ``dns.records_to_create``, in registrar form)."""
    out: list[Record] = []
    for _service, host in names:
        answer = answers.get(host, DnsAnswer(host))
        for found, ours in ((answer.a, server.v4), (answer.aaaa, server.v6)):
            out.extend(Record(commune, zone, host, _kind(ip), ip) for ip in ours
                       if ip not in found)
    return out
