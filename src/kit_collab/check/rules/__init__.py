"""Observations in, findings out: the pure half of ``kit-collab check``.

Every rule here takes plain data (the profile, the bundle, the server's facts, DNS answers,
what a TLS handshake or an HTTP request saw) and returns ``Finding``s (``check.findings``): a
level, the service concerned, a French sentence and the fix. No network, no clock (``now`` is
an argument), no terminal: the side effects live in ``check.probes``. One module per kind of
observation; their public names, and the findings' own, are gathered here.
"""

from kit_collab.check.findings import (
    ERROR,
    LEVELS,
    OK,
    SERVER,
    WARNING,
    Finding,
    Level,
    audit_note,
    blocking,
    exit_code,
    summary,
)
from kit_collab.check.rules.dns import (
    DnsAnswer,
    ServerAddresses,
    dns_findings,
    records_to_create,
    zone_line,
)
from kit_collab.check.rules.hostnames import backends, hostnames
from kit_collab.check.rules.http import HttpObservation, check_finding
from kit_collab.check.rules.names import Endpoint, Resolve, endpoint_for, parse_resolve
from kit_collab.check.rules.server import (
    NON_EU_PROVIDERS,
    SUPPORTED_ARCH,
    SUPPORTED_OS,
    PortNeed,
    PortProbe,
    clock_findings,
    hosting_findings,
    needed_ports,
    ports_findings,
    reachability_findings,
    system_findings,
)
from kit_collab.check.rules.tls import WARN_DAYS, CertInfo, TlsObservation, tls_finding
from kit_collab.check.rules.turn import StunProbe, turn_findings

__all__ = [
    "ERROR",
    "LEVELS",
    "NON_EU_PROVIDERS",
    "OK",
    "SERVER",
    "SUPPORTED_ARCH",
    "SUPPORTED_OS",
    "WARNING",
    "WARN_DAYS",
    "CertInfo",
    "DnsAnswer",
    "Endpoint",
    "Finding",
    "HttpObservation",
    "Level",
    "PortNeed",
    "PortProbe",
    "Resolve",
    "ServerAddresses",
    "StunProbe",
    "TlsObservation",
    "audit_note",
    "backends",
    "blocking",
    "check_finding",
    "clock_findings",
    "dns_findings",
    "endpoint_for",
    "exit_code",
    "hosting_findings",
    "hostnames",
    "needed_ports",
    "parse_resolve",
    "ports_findings",
    "reachability_findings",
    "records_to_create",
    "summary",
    "system_findings",
    "tls_finding",
    "turn_findings",
    "zone_line",
]
