"""--resolve HOST:IP or HOST:PORT:IP (curl's syntax)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kit_collab.errors import InputError, Problem
from kit_collab.i18n import tr


@dataclass(frozen=True)
class Endpoint:
    """Where to connect for a hostname: an IP address and the HTTPS port there."""

    ip: str
    port: int = 443

    @property
    def netloc(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{ip}:{self.port}"


Resolve = Mapping[str, Endpoint]


def parse_resolve(entries: Iterable[str]) -> dict[str, Endpoint]:
    """``HOST:IP`` or curl's ``HOST:PORT:IP`` (IPv6 in brackets when a port is given); ``*``
    as HOST stands for every hostname. Every URL checked is https on port 443: PORT is the
    port to connect to at IP (443 for a normal server, another one for a test proxy)."""
    result: dict[str, Endpoint] = {}
    problems = []
    for entry in entries:
        target = _one_resolve(entry.strip())
        if target is None:
            problems.append(Problem("--resolve", tr(
                f"« {entry} » : forme attendue HOTE:IP ou HOTE:PORT:IP (ex. : "
                "cloud.mairie.fr:203.0.113.10)",
                f"'{entry}': expected HOST:IP or HOST:PORT:IP (e.g. "
                "cloud.mairie.fr:203.0.113.10)")))
            continue
        result[target[0]] = target[1]
    if problems:
        raise InputError(tr("option --resolve invalide", "invalid --resolve option"), problems)
    return result


def _one_resolve(entry: str) -> tuple[str, Endpoint] | None:
    host, sep, rest = entry.partition(":")
    host = host.strip().lower().rstrip(".")
    if not sep or not host or not re.match(r"^(\*|[a-z0-9.-]+)$", host):
        return None
    port = 443
    if _ip(rest.strip("[]")) is None:
        match = re.match(r"^(\d{1,5}):(.+)$", rest)
        if not match or not 0 < int(match.group(1)) < 65536:
            return None
        port, rest = int(match.group(1)), match.group(2)
    ip = _ip(rest.strip("[]"))
    return (host, Endpoint(ip, port)) if ip else None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def endpoint_for(resolve: Resolve, host: str) -> Endpoint | None:
    return resolve.get(host) or resolve.get("*")
