"""Every DNS record a commune needs, read from its profile and recipes alone: no server, no
DNS lookup. For the town hall's registrar form, and for an intercommunal IT officer who
creates the records of a whole inventory before the servers exist."""

from __future__ import annotations

import ipaddress

from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw
from kit_collab.check.rules.dns_records import Record, wanted
from kit_collab.check.rules.hostnames import hostnames
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet


def _server_name(hote: str) -> str | None:
    """The server's DNS name, when ``serveur.hote`` is one (not an address, not "local")."""
    if hote == "local":
        return None
    try:
        ipaddress.ip_address(hote)
    except ValueError:
        return hote
    return None


def records(profile: Profile, recipes: RecipeSet) -> list[Record]:
    """The records of every name the commune's proxy serves (secrets are not needed: the
    bundle is made with a fixed draw and only its names are read)."""
    bundle = make_bundle(profile, recipes, draw=digest_draw("dns")).bundle
    hosts = [host for _service, host in hostnames(bundle)]
    address = profile.serveur.adresse_publique
    return wanted(profile.commune.code, profile.commune.domaine, hosts,
                  [address] if address else [], _server_name(profile.serveur.hote))
