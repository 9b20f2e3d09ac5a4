"""Which names a bundle serves, and which compose services are behind each."""

from __future__ import annotations

import re

import yaml

from kit_collab.bundle.render import Bundle


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
    """Hostname -> compose services the proxy forwards it to, read from the commune's rendered
    site.caddy (``reverse_proxy <alias>:<port>``) and compose files (network aliases)."""
    aliases: dict[str, str] = {}
    prefix = bundle.release_dir + "/"
    site = ""
    for f in bundle.files:
        rel = f.path.removeprefix(prefix)
        if rel == "proxy/site.caddy":
            site = f.content.decode("utf-8", "replace")
        elif f.path.startswith(prefix) and rel.endswith("/compose.yaml"):
            aliases.update(_aliases(f.content))
    result: dict[str, list[str]] = {}
    for addresses, body in _site_blocks(site):
        ups = re.findall(r"^\s*reverse_proxy\s+\"?([^\s\"{]+)", body, flags=re.MULTILINE)
        services = [aliases.get(u.rsplit(":", 1)[0], u.rsplit(":", 1)[0]) for u in ups]
        for address in addresses:
            result[address] = services
    return result


def _aliases(content: bytes) -> dict[str, str]:
    try:
        data = yaml.safe_load(content) or {}
    except yaml.YAMLError:
        return {}
    out: dict[str, str] = {}
    for name, service in (data.get("services") or {}).items():
        networks = (service or {}).get("networks") or {}
        if isinstance(networks, dict):
            for net in networks.values():
                for alias in (net or {}).get("aliases") or []:
                    out[str(alias)] = str(name)
    return out


def _site_blocks(text: str) -> list[tuple[list[str], str]]:
    """(site addresses, body) of each top-level block of a Caddyfile."""
    blocks: list[tuple[list[str], str]] = []
    current: list[str] | None = None
    body: list[str] = []
    for line in text.splitlines():
        if current is None:
            match = re.match(r"^([^\s#{}][^{]*?)\s*\{\s*$", line)
            if match:
                current = [a.strip().strip('"') for a in re.split(r"[,\s]+", match.group(1))
                           if a.strip()]
                body = []
        elif line.startswith("}"):
            blocks.append((current, "\n".join(body)))
            current = None
        else:
            body.append(line)
    return blocks
