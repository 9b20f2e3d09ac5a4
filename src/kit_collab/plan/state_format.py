"""The format of ``state.json`` across kit-collab releases: its version, and the migrations
that bring an older document to the current shape before it is read.

Version 1: the document before ``version`` existed (or with ``version: 1``).
Version 2: adds ``images`` (compose service -> image it was deployed with), so that the
deployed upstream versions are known even when the containers are down.
Version 3: adds ``volumes_postgres`` (compose volume key -> the volume its PostgreSQL cluster
lives in, once migrated to a new major: ``matrix_db`` -> ``matrix_db-pg17``). An older
kit-collab must refuse it whole: rendering without it would point the database at the old
major's data.

A newer kit-collab reads every older version (each migration is one small pure function); an
older kit-collab refuses a newer document, whole, with a sentence saying to update kit-collab:
it never guesses, and never overwrites what it cannot read. Pure: dicts in, dicts out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit_collab import constants
from kit_collab.errors import DeployError
from kit_collab.i18n import tr

VERSION = 3


class StateError(DeployError):
    """state.json cannot be read as a State."""


class StateTooNew(StateError):
    """state.json was written by a newer kit-collab: this one must not read or rewrite it.
    Exit 2: nothing failed on the server; the operator's tool is too old for it."""

    exit_code = constants.EXIT_INVALID


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 did not record images: unknown ({}), read from the running compose files
    (facts) until the next install records them."""
    return {**data, "version": 2, "images": {}}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 knew no migrated cluster: every cluster in the volume named by its key."""
    return {**data, "version": 3, "volumes_postgres": {}}


# version -> the function bringing a document of that version to the next one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


def version_of(data: dict[str, Any], where: str) -> int:
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StateError(tr(f"{where} illisible : version {version!r} invalide",
                            f"unreadable {where}: invalid version {version!r}"),
                         hint=tr("vérifiez-le à la main ; kit-collab ne l'écrase pas",
                                 "check it by hand; kit-collab does not overwrite it"))
    if version > VERSION:
        raise StateTooNew(
            tr(f"{where} a été écrit par un kit-collab plus récent (format {version}, celui-ci "
               f"lit jusqu'au format {VERSION}) : rien n'a été changé",
               f"{where} was written by a newer kit-collab (format {version}, this one reads "
               f"up to format {VERSION}): nothing was changed"),
            hint=tr("mettez kit-collab à jour sur ce poste, puis relancez la commande",
                    "update kit-collab on this machine, then run the command again"))
    return version


def migrate(data: dict[str, Any], where: str = "state.json") -> dict[str, Any]:
    """The document in the current format (a copy; ``data`` is left as it is)."""
    version = version_of(data, where)
    out = dict(data)
    while version < VERSION:
        out = MIGRATIONS[version](out)
        version += 1
    return out
