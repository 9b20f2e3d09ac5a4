"""Which names a bundle serves, and which compose services are behind each."""

from __future__ import annotations

from kit_collab.bundle.model import Bundle


def hostnames(bundle: Bundle) -> list[tuple[str, str]]:
    """(service, hostname) for every name the proxy serves for this commune: each recipe's
    names, and the commune's own domain when a check targets it (Matrix delegation)."""
    out: list[tuple[str, str]] = []
    for recipe, hosts in bundle.hosts.items():
        if recipe != "base":
            out.extend((recipe, h) for h in hosts.values())
    base = bundle.hosts["base"]["domaine"]
    users = sorted({c.recipe for c in bundle.checks if c.host == base})
    if users:
        out.append((users[0], base))
    return out


def backends(bundle: Bundle) -> dict[str, list[str]]:
    """Hostname -> compose services the proxy forwards it to (the sites filled at render)."""
    return {address: list(site.backends) for site in bundle.sites for address in site.addresses}
