"""``state.json``: what is deployed for a commune, typed, read and written here only.

The file on the server is JSON with French keys (``recettes``, ``fichiers``, ``ports``…) and a
``version``; a file without it is version 1 (written before the field existed). An older
format is migrated when read (plan/state_format.py); a newer one, or an unknown shape, is
refused with a clear error: kit-collab never guesses, and never overwrites what it cannot read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kit_collab.bundle.model import PortBlock
from kit_collab.bundle.ports import template_view
from kit_collab.i18n import tr
from kit_collab.plan.state_format import VERSION, StateError, StateTooNew, migrate

__all__ = ["VERSION", "State", "StateError", "StateTooNew", "from_json"]
_KEYS = {"version", "images", "commune", "release", "precedente", "recettes", "fichiers", "ports",
         "hotes", "bootstrap", "besoins", "deploye_le", "operation", "etapes", "historique",
         "serveur_matrix", "domaine", "pare_feu",
         "volumes_postgres"}
OK, FAILED = "ok", "echec"  # the result of a release's tasks and provisioning
STEPS = ("taches", "comptes")  # the steps after `up` that must succeed for a release
HISTORY = 5  # releases remembered as once deployed (pruning keeps them first)


@dataclass(frozen=True)
class Pending:
    """An install or rollback under way: written before `current` is switched, cleared at
    the commit. Found on the next run, it means the last operation did not finish."""

    release: str  # the release being switched to
    previous: str  # the release current before the operation (the rollback target)
    phase: str  # bascule | taches | comptes | retour (what was running)
    started: str  # UTC, ISO 8601

    def as_json(self) -> dict[str, str]:
        return {"release": self.release, "precedente": self.previous, "phase": self.phase,
                "debut": self.started}


@dataclass(frozen=True)
class State:
    version: int = VERSION
    commune: str = ""
    release: str = ""
    previous: str = ""  # the release before this one (rollback goes back to it)
    recipes: dict[str, str] = field(default_factory=dict)  # recipe -> version
    files: dict[str, str] = field(default_factory=dict)  # release-relative path -> sha256
    ports: dict[str, dict[str, PortBlock]] = field(default_factory=dict)  # recipe -> name ->
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    bootstrap: str = ""
    needs: dict[str, float] = field(default_factory=dict)  # ram_mb, disk_gb, cpu
    deployed_at: str = ""  # UTC, ISO 8601
    pending: Pending | None = None  # an operation that has not reached its commit point
    steps: dict[str, str] = field(default_factory=dict)  # release's taches/comptes -> ok|echec
    history: tuple[str, ...] = ()  # releases once deployed, newest first
    matrix_server_name: str = ""  # Matrix identifiers @agent:<this>, fixed at first install
    domain: str = ""  # the commune's identity with slug and hosts ("" before it was recorded)
    firewall: tuple[str, ...] = ()  # the commune's public firewall rules ("3478/udp")
    images: dict[str, str] = field(default_factory=dict)  # service -> image deployed
    # compose volume key -> volume of its PostgreSQL cluster once migrated (plan/pg_major.py)
    volumes_postgres: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.release

    def unfinished(self, current: str) -> str:
        """Why the commune is not in a committed state ("" when it is): an operation left
        pending, `current` not the recorded release, or a step that did not succeed."""
        if self.pending is not None:
            return tr(f"opération interrompue vers {self.pending.release} (étape "
                      f"{self.pending.phase}, depuis {self.pending.started})",
                      f"operation towards {self.pending.release} interrupted (step "
                      f"{self.pending.phase}, since {self.pending.started})")
        if current and self.release and current != self.release:
            return tr(f"la version active ({current}) n'est pas celle enregistrée "
                      f"({self.release})", f"the active release ({current}) is not the "
                      f"recorded one ({self.release})")
        failed = [s for s in STEPS if self.steps.get(s, OK) != OK]
        if current and failed:
            one = len(failed) == 1
            return tr(f"{'étape' if one else 'étapes'} en échec pour {self.release} : "
                      f"{', '.join(failed)}", f"failed {'step' if one else 'steps'} for "
                      f"{self.release}: {', '.join(failed)}")
        return ""

    def with_pending(self, pending: Pending | None) -> State:
        return replace(self, pending=pending)

    def recorded_ports(self, slug: str) -> dict[tuple[str, str, str], int]:
        """The allocations to keep, keyed as ``bundle.ports.allocate`` takes them."""
        return {(slug, r, n): b.start for r, named in self.ports.items()
                for n, b in named.items()}

    def host_ports(self) -> set[int]:
        """Every host port this commune holds (blocks included)."""
        return {p for named in self.ports.values() for b in named.values() for p in b.ports}

    def need(self, key: str) -> float:
        return float(self.needs.get(key, 0))

    def rolled_back(self, current: str) -> State:
        """The state after going back from ``current`` to the previous release."""
        return replace(self, release=self.previous, previous=current, pending=None,
                       steps={}, history=remembered(self.previous, self.history),
                       images={})  # the previous release's: read from its compose files

    def as_json(self) -> dict[str, Any]:
        """The document written to state.json (same keys as ever, plus ``version``)."""
        return {"version": self.version, "commune": self.commune, "release": self.release,
                "precedente": self.previous, "recettes": dict(self.recipes),
                "fichiers": dict(self.files), "ports": template_view(self.ports),
                "hotes": {k: dict(v) for k, v in self.hosts.items()}, "bootstrap": self.bootstrap,
                "besoins": dict(self.needs), "deploye_le": self.deployed_at,
                "operation": self.pending.as_json() if self.pending else None,
                "etapes": dict(self.steps), "historique": list(self.history),
                "serveur_matrix": self.matrix_server_name,
                "domaine": self.domain, "pare_feu": list(self.firewall),
                "images": dict(self.images), "volumes_postgres": dict(self.volumes_postgres)}


def remembered(release: str, history: tuple[str, ...]) -> tuple[str, ...]:
    """``history`` with ``release`` first (once), at most HISTORY long."""
    return tuple([release, *[r for r in history if r != release]][:HISTORY])


def _invalid(where: str, why: str) -> StateError:
    return StateError(tr(f"{where} illisible : {why}", f"unreadable {where}: {why}"),
                      hint=tr("vérifiez-le à la main ; kit-collab ne l'écrase pas",
                              "check it by hand; kit-collab does not overwrite it"))


def _mapping(value: Any, name: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(where, tr(f"« {name} » doit être un objet", f"'{name}' must be an object"))
    return value


def _ports(value: Any, where: str) -> dict[str, dict[str, PortBlock]]:
    out: dict[str, dict[str, PortBlock]] = {}
    for recipe, names in _mapping(value, "ports", where).items():
        named = _mapping(names, f"ports.{recipe}", where)
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in named.values()):
            raise _invalid(where, tr(f"ports.{recipe} : nombres attendus",
                                     f"ports.{recipe}: numbers expected"))
        out[str(recipe)] = {n: PortBlock(p, int(named.get(f"{n}_end", p)))
                            for n, p in named.items() if not n.endswith("_end")}
    return out


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise _invalid(where, tr(f"« {key} » doit être un texte", f"'{key}' must be a text"))
    return value


def _pending(value: Any, where: str) -> Pending | None:
    if value is None:
        return None
    data = _mapping(value, "operation", where)
    return Pending(release=_text(data, "release", where),
                   previous=_text(data, "precedente", where),
                   phase=_text(data, "phase", where), started=_text(data, "debut", where))


def _texts(value: Any, where: str, key: str = "historique") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(where, tr(f"« {key} » doit être une liste de textes",
                                 f"'{key}' must be a list of texts"))
    return tuple(value)


def from_json(data: Any, where: str = "state.json") -> State:
    """A State from the parsed document (``{}`` or None: nothing deployed yet)."""
    if data is None or data == {}:
        return State()
    data = migrate(_mapping(data, "state", where), where)  # older: migrated; newer: refused
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _invalid(where, tr(f"clés inconnues {unknown}", f"unknown keys {unknown}"))
    needs = _mapping(data.get("besoins"), "besoins", where)
    if not all(isinstance(v, int | float) for v in needs.values()):
        raise _invalid(where, tr("besoins : nombres attendus", "besoins: numbers expected"))
    return State(
        version=VERSION, commune=_text(data, "commune", where),
        release=_text(data, "release", where), previous=_text(data, "precedente", where),
        recipes={str(k): str(v) for k, v in _mapping(data.get("recettes"), "recettes",
                                                     where).items()},
        files={str(k): str(v) for k, v in _mapping(data.get("fichiers"), "fichiers",
                                                   where).items()},
        ports=_ports(data.get("ports"), where),
        hosts={str(k): {str(n): str(h) for n, h in _mapping(v, f"hotes.{k}", where).items()}
               for k, v in _mapping(data.get("hotes"), "hotes", where).items()},
        bootstrap=str(data.get("bootstrap") or ""),
        needs={str(k): v for k, v in needs.items()},
        deployed_at=_text(data, "deploye_le", where),
        pending=_pending(data.get("operation"), where),
        steps={str(k): str(v) for k, v in _mapping(data.get("etapes"), "etapes",
                                                   where).items()},
        history=_texts(data.get("historique"), where),
        matrix_server_name=_text(data, "serveur_matrix", where),
        domain=_text(data, "domaine", where),
        firewall=_texts(data.get("pare_feu"), where, "pare_feu"),
        images={str(k): str(v) for k, v in _mapping(data.get("images"), "images",
                                                    where).items()},
        volumes_postgres={str(k): str(v) for k, v in _mapping(
            data.get("volumes_postgres"), "volumes_postgres", where).items()})
