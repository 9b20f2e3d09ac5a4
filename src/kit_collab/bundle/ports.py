"""Host ports that must be unique on a server (Jitsi's UDP media port, TURN relay ranges).

Pure: given what is already allocated on a server, give each new request the lowest free
block at or above its base. Existing allocations are kept, so re-runs are stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kit_collab.recipes.load import PortSpec

Key = tuple[str, str, str]  # (commune slug, recipe, port name)


def _free(start: int, size: int, used: set[int]) -> bool:
    return all(p not in used for p in range(start, start + size))


def allocate(
    requests: Iterable[tuple[str, str, PortSpec]],
    existing: Mapping[Key, int] | None = None,
    reserved: Iterable[int] = (),
) -> dict[Key, int]:
    """The first port of each requested block, keyed by (slug, recipe, name)."""
    result: dict[Key, int] = {}
    used: set[int] = set(reserved)
    sizes: dict[Key, int] = {}
    requests = list(requests)
    for slug, recipe, spec in requests:
        sizes[(slug, recipe, spec.name)] = spec.size
    for key, start in (existing or {}).items():
        size = sizes.get(key, 1)
        used.update(range(start, start + size))
        if key in sizes:
            result[key] = start
    for slug, recipe, spec in requests:
        key = (slug, recipe, spec.name)
        if key in result:
            continue
        port = spec.base
        while not _free(port, spec.size, used):
            port += spec.size
        used.update(range(port, port + spec.size))
        result[key] = port
    return result
