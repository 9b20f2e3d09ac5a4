"""The commune's containers: `docker compose ps` and `logs`, and reading ps's answer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kit_collab.apply.scripts.common import compose, q


def ps(root: str, slug: str) -> str:
    return compose(root, slug, "ps", "-a", "--format", "json")


def logs(root: str, slug: str, services: Iterable[str] = (), lines: int = 20) -> str:
    return compose(root, slug, "logs", "--no-color", "--tail", str(int(lines)),
                   *[q(s) for s in services])


def parse_ps(text: str) -> list[dict[str, str]]:
    """`docker compose ps --format json`: one object per line (or one array, older compose)."""
    items: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        try:
            value = json.loads(line) if line[:1] in "[{" else None
        except ValueError:
            continue
        if isinstance(value, dict):
            items.append(value)
        elif isinstance(value, list):
            items.extend(v for v in value if isinstance(v, dict))
    return [{"service": str(i.get("Service", "?")), "etat": str(i.get("State", "")),
             "sante": str(i.get("Health") or ""), "code": str(i.get("ExitCode", ""))}
            for i in items]


def is_healthy(container: dict[str, str], oneshot: set[str] | frozenset[str] = frozenset()
               ) -> bool:
    """Running (and healthy when it has a check); a one-shot job (see plan.oneshot_services)
    may also have exited with 0. A stopped long-running service is never healthy."""
    if container["etat"] == "exited" and container["service"] in oneshot:
        return container["code"] == "0"
    return container["etat"] == "running" and container["sante"] in ("", "healthy")


def failing_services(ps_json: str, oneshot: set[str] | frozenset[str]) -> list[str]:
    return [c["service"] for c in parse_ps(ps_json) if not is_healthy(c, oneshot)]
