"""Host ports that must be unique on a server (Jitsi's UDP media port, TURN relay ranges).

Pure: given what is already allocated on a server, give each new request the lowest free
block at or above its base. Existing allocations are kept, so re-runs are stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kit_collab.bundle.model import PortBlock
from kit_collab.recipes.load import PortSpec, Recipe

Key = tuple[str, str, str]  # (commune slug, recipe, port name)


def port_requests(slug: str, recipes: list[Recipe]) -> list[tuple[str, str, PortSpec]]:
    """What the commune's active recipes ask for, as ``allocate`` takes it."""
    return [(slug, r.name, p) for r in recipes for p in r.spec.ports]


def blocks(slug: str, recipes: list[Recipe],
           allocated: Mapping[Key, int]) -> dict[str, dict[str, PortBlock]]:
    """recipe -> port name -> the block allocated to it."""
    return {r.name: {p.name: PortBlock(allocated[(slug, r.name, p.name)],
                                       allocated[(slug, r.name, p.name)] + p.size - 1)
                     for p in r.spec.ports} for r in recipes}


def template_view(port_blocks: Mapping[str, Mapping[str, PortBlock]]) -> dict[str, dict[str, int]]:
    """The ports as templates, the manifest and state.json see them: ``name`` is the first
    port and ``name_end`` the last."""
    out: dict[str, dict[str, int]] = {}
    for recipe, named in port_blocks.items():
        bucket = out.setdefault(recipe, {})
        for name, block in named.items():
            bucket[name] = block.start
            bucket[f"{name}_end"] = block.end
    return out


def recorded(slug: str, view: Mapping[str, Mapping[str, int]]) -> dict[Key, int]:
    """The allocations a ``template_view`` (as kept in state.json) records."""
    return {(slug, r, n): int(p) for r, names in view.items()
            for n, p in names.items() if not n.endswith("_end")}


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
