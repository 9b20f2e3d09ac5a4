"""Observations in, findings out: the pure half of ``kit-collab check``.

Every rule here takes plain data (the profile, the bundle, the server's facts, DNS answers,
what a TLS handshake or an HTTP request saw) and returns ``Finding``s: a level, the service
concerned, a French sentence and the fix. No network, no clock (``now`` is an argument): the
side effects live in dnscheck.py, health.py and commands/check.py. One module per kind of
observation; everything is re-exported here.
"""

from kit_collab.check.rules.dns import (  # noqa: F401
    DnsAnswer,
    ServerAddresses,
    _dns_rule,
    _record_rule,
    dns_findings,
    records_to_create,
    zone_line,
)
from kit_collab.check.rules.findings import (  # noqa: F401
    ERROR,
    LEVELS,
    OK,
    SERVER,
    WARNING,
    Finding,
    audit_note,
    blocking,
    exit_code,
    summary,
)
from kit_collab.check.rules.hostnames import (  # noqa: F401
    backends,
    hostnames,
)
from kit_collab.check.rules.http import (  # noqa: F401
    _DEEP,
    _GATEWAY,
    _JSON_MEANING,
    HttpObservation,
    _check_rule,
    _Ctx,
    _element_config,
    _json_of,
    _json_rule,
    _logs,
    _redeploy,
    _short,
    _well_known_client,
    _well_known_server,
    check_finding,
)
from kit_collab.check.rules.names import (  # noqa: F401
    Resolve,
    Target,
    _ip,
    _one_resolve,
    parse_resolve,
    target_for,
)
from kit_collab.check.rules.server import (  # noqa: F401
    NON_EU_PROVIDERS,
    SUPPORTED_ARCH,
    SUPPORTED_OS,
    PortNeed,
    PortProbe,
    _disk_findings,
    _lock_findings,
    _memory_findings,
    _os_findings,
    clock_findings,
    hosting_findings,
    needed_ports,
    ports_findings,
    reachability_findings,
    system_findings,
)
from kit_collab.check.rules.tls import (  # noqa: F401
    _HOSTNAME_MISMATCH,
    WARN_DAYS,
    CertInfo,
    TlsObservation,
    _date,
    _proxy_logs_fix,
    _verify_failure,
    tls_finding,
)
from kit_collab.check.rules.turn import (  # noqa: F401
    StunProbe,
    turn_findings,
)
