"""Secrets are never drawn twice: the checks made before an install touches anything.

A commune that already exists on its server (releases, a state, Docker volumes) must have a
usable ``secrets/secrets.json``: the volumes keep the passwords they were initialised with
(PostgreSQL, the Matrix signing key, the agents' accounts), so new values would lock the
commune out of its own data. Pure: facts and the wanted bundle in, an error or nothing out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from kit_collab.bundle.model import Bundle
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan.facts import Facts


class SecretsError(DeployError):
    """The commune's secrets file cannot be trusted: nothing is changed on the server."""


def shape_problem(data: Any) -> str:
    """Why ``data`` is not a secrets document (``{recipe: {name: text}}``), "" when it is."""
    if not isinstance(data, dict):
        return tr("forme inattendue (un objet {recette: {nom: valeur}} est attendu)",
                  "unexpected shape (an object {recipe: {name: value}} is expected)")
    for recipe, bucket in data.items():
        if not isinstance(bucket, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in bucket.items()):
            return tr(f"forme inattendue sous « {recipe} » (des textes sont attendus)",
                      f"unexpected shape under '{recipe}' (texts are expected)")
    return ""


def _exists(facts: Facts) -> list[str]:
    """What shows that the commune was installed on this server (French, for the message)."""
    found = []
    # Releases uploaded but never switched to (an install stopped before its lock) hold no
    # stored secret: only a `current` shows a deployed commune.
    if facts.current:
        found.append(tr("une version en place", "a deployed release"))
    if not facts.state.empty:
        found.append("state.json")
    if facts.volumes:
        found.append(tr(f"des volumes Docker ({', '.join(facts.volumes)})",
                        f"Docker volumes ({', '.join(facts.volumes)})"))
    return found


def _recovery(root: str, slug: str, facts: Facts) -> str:
    last = facts.current or (facts.releases[-1] if facts.releases else "")
    where = (f"{root}/communes/{slug}/releases/{last}/*/*.env" if last
             else f"{root}/retirees/{slug}-*/")
    return tr(
        f"reconstituez ce fichier (mode 0600) avec les valeurs d'origine : elles sont encore "
        f"dans {where}, dans {root}/retirees/ (commune retirée), dans secrets.json.precedent "
        f"à côté du fichier, ou dans une sauvegarde ; puis relancez la commande. kit-collab "
        f"n'en tire jamais de nouveaux : les données gardent les anciens",
        f"rebuild this file (mode 0600) with the original values: they are still in {where}, "
        f"in {root}/retirees/ (a removed commune), in secrets.json.precedent beside the file, "
        f"or in a backup; then run the command again. kit-collab never draws new ones: the "
        f"data keeps the old ones")


def check_file(root: str, slug: str, facts: Facts) -> None:
    """Stop when the secrets file is unusable and the commune already exists (or the file
    exists but cannot be read: kit-collab never overwrites what it cannot read)."""
    path = f"{root}/communes/{slug}/secrets/secrets.json"
    found = _exists(facts)
    if facts.secrets_problem:
        why = facts.secrets_problem
    elif facts.secrets_file in ("absent", "empty") and found:
        why = tr("absent", "missing") if facts.secrets_file == "absent" else tr("vide", "empty")
    else:
        return
    context = tr(f" alors que la commune existe déjà ({', '.join(found)})",
                 f" although the commune already exists ({', '.join(found)})") if found else ""
    raise SecretsError(tr(f"fichier des secrets {path} {why}{context} : rien n'a été changé",
                          f"secrets file {path} {why}{context}: nothing was changed"),
                       hint=_recovery(root, slug, facts))


def recipe_volumes(bundle: Bundle) -> dict[str, set[str]]:
    """Recipe -> the named volumes its compose file declares."""
    out: dict[str, set[str]] = {}
    for f in bundle.files:
        if f.format != "compose" or f.path.startswith("proxy/"):
            continue
        data = yaml.safe_load(f.content) or {}
        volumes = data.get("volumes") if isinstance(data, dict) else None
        if isinstance(volumes, dict):
            out.setdefault(f.recipe, set()).update(str(v) for v in volumes)
    return out


def check_created(root: str, slug: str, facts: Facts, bundle: Bundle,
                  created: Iterable[str]) -> None:
    """Stop when a recipe would get new secrets although its volumes exist already."""
    existing = set(facts.volumes)
    owned = recipe_volumes(bundle)
    clash = sorted(name for name in created
                   if any(f"{slug}_{v}" in existing for v in owned.get(name.split(".")[0], ())))
    if clash:
        raise SecretsError(
            tr(f"secrets à créer ({', '.join(clash)}) alors que les volumes de leur recette "
               f"existent déjà : rien n'a été changé",
               f"secrets to create ({', '.join(clash)}) although their recipe's volumes "
               f"already exist: nothing was changed"),
            hint=_recovery(root, slug, facts))
