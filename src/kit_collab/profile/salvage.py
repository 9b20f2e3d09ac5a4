"""What can still be read of a profile that does not validate, so that the rules spanning
several fields run in the same pass as the field errors (a profile with five mistakes shows
five, not the first kind only).

Each section is validated on its own; a section whose only faults are unknown or badly
typed keys is read again without them (their defaults stand in), and every key so dropped is
remembered: a cross-field rule never speaks about a value that is not the user's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kit_collab.profile.model import (
    Commune,
    Profile,
    Serveur,
    ServiceMunicipal,
    Services,
    Utilisateur,
)

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
_ROUNDS = 4  # each round drops the faulty keys of one level; profiles nest three deep


@dataclass(frozen=True)
class Parts:
    """The readable sections of a profile; ``None`` or missing items for the others."""

    commune: Commune | None = None
    serveur: Serveur | None = None
    services: Services | None = None
    services_municipaux: list[tuple[int, ServiceMunicipal]] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)  # every id written, valid or not
    utilisateurs: list[tuple[int, Utilisateur]] = field(default_factory=list)
    dropped: list[Loc] = field(default_factory=list)  # keys read as their default


def _drop(raw: dict[str, Any], loc: Loc) -> bool:
    """Remove the key at ``loc`` from ``raw``; False when it cannot be (a missing field, or
    an element of a list, whose removal would renumber the others)."""
    node: Any = raw
    for part in loc[:-1]:
        if not isinstance(node, dict) or part not in node or isinstance(part, int):
            return False
        node = node[part]
    last = loc[-1] if loc else None
    if isinstance(last, int) or not isinstance(node, dict) or last not in node:
        return False
    del node[last]
    return True


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def salvage_model(model: type[M], raw: Any, prefix: Loc,
                  dropped: list[Loc]) -> M | None:
    """``model`` read from ``raw``, without its faulty keys if need be; None if it cannot."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None
    data = _copy(raw)
    for _ in range(_ROUNDS):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            locs = [tuple(err["loc"]) for err in exc.errors()]
            if not all(_drop(data, loc) for loc in locs):
                return None
            dropped.extend(prefix + loc for loc in locs)
    return None


def _items(model: type[M], raw: Any, name: str,
           dropped: list[Loc]) -> list[tuple[int, M]]:
    if not isinstance(raw, list):
        return []
    found = []
    for i, item in enumerate(raw):
        obj = salvage_model(model, item, (name, i), dropped)
        if obj is not None:
            found.append((i, obj))
    return found


def _ids(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else []
    return [str(item["id"]).strip() for item in items
            if isinstance(item, dict) and item.get("id") is not None]


def salvage(data: dict[str, Any]) -> Parts:
    """Every section of ``data`` that can be read, each on its own."""
    dropped: list[Loc] = []
    return Parts(
        commune=salvage_model(Commune, data.get("commune"), ("commune",), dropped),
        serveur=salvage_model(Serveur, data.get("serveur"), ("serveur",), dropped),
        services=salvage_model(Services, data.get("services"), ("services",), dropped),
        services_municipaux=_items(ServiceMunicipal, data.get("services_municipaux"),
                                   "services_municipaux", dropped),
        service_ids=_ids(data.get("services_municipaux")),
        utilisateurs=_items(Utilisateur, data.get("utilisateurs"), "utilisateurs", dropped),
        dropped=dropped)


def from_profile(profile: Profile) -> Parts:
    """The parts of a valid profile: everything is there, nothing dropped."""
    return Parts(commune=profile.commune, serveur=profile.serveur, services=profile.services,
                 services_municipaux=list(enumerate(profile.services_municipaux)),
                 service_ids=[s.id for s in profile.services_municipaux],
                 utilisateurs=list(enumerate(profile.utilisateurs)))
