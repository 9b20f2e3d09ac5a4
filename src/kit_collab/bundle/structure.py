"""The structure later stages read, filled once at render time from what was just rendered:
the commune's compose services and the proxy sites with the services behind them."""

from __future__ import annotations

import re
from typing import Any

from kit_collab.bundle.model import Service, Site
from kit_collab.bundle.validate import restart_policy


def services(recipe: str, folder: str, compose: Any) -> list[Service]:
    """The services of one recipe's parsed (and validated) compose file; ``folder`` is the
    recipe's folder in the release, to name its bind-mounted files release-relative."""
    out = []
    for name, spec in ((compose or {}).get("services") or {}).items():
        out.append(Service(
            name=str(name), recipe=recipe, image=str(spec.get("image", "")),
            restart=restart_policy(spec.get("restart")),
            mounts=tuple(_mounts(folder, spec.get("volumes") or [])),
            aliases=tuple(_aliases(spec.get("networks") or {}))))
    return out


def _mounts(folder: str, volumes: list[Any]) -> list[str]:
    out = []
    for volume in volumes:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else str(
            (volume or {}).get("source", ""))
        if source.startswith("./"):
            out.append(f"{folder}/{source[2:]}")
    return out


def _aliases(networks: Any) -> list[str]:
    if not isinstance(networks, dict):
        return []
    return [str(alias) for net in networks.values() for alias in (net or {}).get("aliases") or []]


def sites(recipe: str, caddyfile: str, commune: list[Service]) -> list[Site]:
    """The site blocks of a recipe's rendered proxy file: their addresses, and the compose
    services their ``reverse_proxy`` lines reach (by network alias or name)."""
    by_alias = {a: s.name for s in commune for a in s.aliases}
    out = []
    for addresses, body in _site_blocks(caddyfile):
        ups = re.findall(r"^\s*reverse_proxy\s+\"?([^\s\"{]+)", body, flags=re.MULTILINE)
        hosts = [u.rsplit(":", 1)[0] for u in ups]
        out.append(Site(recipe, tuple(addresses), tuple(by_alias.get(h, h) for h in hosts)))
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
