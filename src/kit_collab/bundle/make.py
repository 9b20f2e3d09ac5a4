"""THE way to make a commune's bundle: active recipes, secrets completed, ports allocated,
rendered. Pure and deterministic for a given ``draw`` (the source of new secrets).

Every caller (render, install and its plan, check, the inventory, recipes lint) goes through
``make_bundle``; what differs between them is data: the secrets already known, the ports
recorded on the server, the ports it cannot give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kit_collab.bundle import ports
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.model import Bundle, Secrets
from kit_collab.bundle.render import render_bundle
from kit_collab.bundle.secrets import Draw, ensure_secrets, user_ids
from kit_collab.profile.mail_model import secret_names
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


@dataclass(frozen=True)
class Made:
    bundle: Bundle
    secrets: Secrets = field(repr=False)  # never printed
    created: tuple[str, ...] = ()  # names of the secrets drawn by this call


def make_bundle(profile: Profile, recipes: RecipeSet, *, draw: Draw,
                secrets: Secrets | None = None,
                recorded_ports: Mapping[ports.Key, int] | None = None,
                reserved_ports: Iterable[int] = (), neighbours: Iterable[str] = (),
                postgres_volumes: Mapping[str, str] | None = None) -> Made:
    """The commune's bundle. ``secrets``: those already known (the server's, or the local
    file's), completed with ``draw``; ``recorded_ports``: allocations to keep (state.json);
    ``reserved_ports``: host ports never to give (in use, or another commune's);
    ``neighbours``: the other communes of the server (the proxy joins their networks too);
    ``postgres_volumes``: compose volume key -> volume of a PostgreSQL cluster migrated to a
    new major (state.json's, or the one an upgrade migrates to; plan/pg_major.py)."""
    active = active_recipes(profile, recipes)
    slug = profile.commune.code
    complete, created = ensure_secrets(active, secrets, user_ids(profile), draw,
                                       secret_names(profile.messagerie))
    allocated = ports.allocate(ports.port_requests(slug, active), recorded_ports, reserved_ports)
    bundle = render_bundle(profile, active, complete, ports.blocks(slug, active, allocated),
                           neighbours, postgres_volumes or {})
    return Made(bundle, complete, tuple(created))
