"""The upgrade plan: deployed images against the ones this kit-collab would install, as
versions to show and steps to take, in order, each with what it risks and how long it may
take; the jumps upstream refuses are refused here, before anything changes.

Pure: images in (service -> image, read from the server), recipes' data
(``chemin_de_mise_a_niveau``, ``donnees``, ``advisories``), steps out. The steps' kinds:
``sauvegarde`` (the verified pre-switch snapshot), ``postgres-major`` (dump, new cluster,
restore, verify: executed by the PostgreSQL migration's own modules), ``nextcloud-major`` (one
image of the path, then the pin), ``nextcloud-apps`` (the recipe's ``apres`` commands),
``synapse`` and ``image`` (a swap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.recipes.load import Recipe, RecipeSet, UpgradePath
from kit_collab.recipes.pins import older_than, tag_of, version_key

SAVE, PG_MAJOR, NC_MAJOR, NC_APPS, SYNAPSE, IMAGE = (
    "sauvegarde", "postgres-major", "nextcloud-major", "nextcloud-apps", "synapse", "image")
_ORDER = (SAVE, PG_MAJOR, NC_MAJOR, NC_APPS, SYNAPSE, IMAGE)
# kind -> (what it risks (fr, en), minutes it may take): shown before anything happens.
_RISK: dict[str, tuple[tuple[str, str], int]] = {
    SAVE: (("aucun : copie des données sur le serveur, vérifiée", "none: a verified copy of "
            "the data on the server"), 5),
    PG_MAJOR: (("migration de la base par export et import ; l'ancienne est gardée jusqu'au "
                "retour à la santé", "database migrated by dump and restore; the old one is "
                "kept until healthy"), 15),
    NC_MAJOR: (("Nextcloud migre ses fichiers et sa base au démarrage (mode maintenance) ; "
                "en cas d'échec l'instantané est remis en place", "Nextcloud migrates its "
                "files and database on start (maintenance mode); the snapshot is restored on "
                "failure"), 10),
    NC_APPS: (("applications mises à jour, index ajoutés : service lent quelques minutes",
               "apps updated, indices added: a slow service for a few minutes"), 5),
    SYNAPSE: (("Synapse migre son schéma au démarrage ; pas de retour sans l'instantané",
               "Synapse migrates its schema on start; no way back without the snapshot"), 10),
    IMAGE: (("changement d'image, redémarrage du service", "image swap, the service "
             "restarts"), 1),
}


class UpgradeRefused(InputError):
    """An upgrade upstream refuses (a skipped major, a downgrade): refused before any change."""


@dataclass(frozen=True)
class Version:
    """One service's deployed image and the one this kit-collab would install."""

    recipe: str
    service: str
    deployed: str  # image, "" when unknown (never deployed, or not recorded)
    wanted: str
    security: tuple[str, ...] = ()  # advisories the update fixes (ids)

    @property
    def name(self) -> str:
        return self.wanted.split("@", 1)[0].rsplit("/", 1)[-1].rsplit(":", 1)[0]

    @property
    def outdated(self) -> bool:
        return bool(self.deployed) and self.deployed != self.wanted

    def text(self) -> str:
        before = tag_of(self.deployed) or tr("inconnue", "unknown")
        after = tag_of(self.wanted)
        return f"{self.name} {before} → {after}" if self.outdated else f"{self.name} {after}"

    def as_dict(self) -> dict[str, Any]:
        return {"recette": self.recipe, "service": self.service, "deploye": self.deployed or None,
                "cible": self.wanted, "a_jour": not self.outdated,
                "securite": list(self.security), "texte": self.text()}


@dataclass(frozen=True)
class Step:
    kind: str
    recipe: str
    service: str
    image: str = ""  # the image this step brings (a path image for an intermediate major)
    commands: tuple[tuple[str, ...], ...] = ()  # nextcloud-apps: argv run in the service
    user: str | None = None

    @property
    def risk(self) -> str:
        return tr(*_RISK[self.kind][0])

    @property
    def minutes(self) -> int:
        return _RISK[self.kind][1]

    def as_dict(self) -> dict[str, Any]:
        return {"genre": self.kind, "recette": self.recipe, "service": self.service,
                "image": self.image or None, "risque": self.risk, "minutes": self.minutes}


@dataclass(frozen=True)
class UpgradePlan:
    versions: tuple[Version, ...] = ()
    steps: tuple[Step, ...] = ()
    intermediate: tuple[Step, ...] = field(default=())  # path images before the final release
    notes: tuple[str, ...] = ()  # how each PostgreSQL major is migrated (plan/pg_major.py)

    @property
    def stateful(self) -> bool:
        return any(s.kind != IMAGE for s in self.steps)

    @property
    def minutes(self) -> int:
        return sum(s.minutes for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        out = {"versions": [v.as_dict() for v in self.versions],
               "etapes": [s.as_dict() for s in self.steps], "minutes": self.minutes}
        return {**out, "migration_postgres": list(self.notes)} if self.notes else out


def _key_of(recipe: Recipe, image: str) -> str:
    return next((k for k, v in recipe.spec.images.items() if v == image), "")


def _postgres_services(recipe: Recipe) -> set[str]:
    return {d.service for d in recipe.spec.donnees if d.postgres is not None}


def _stateful(recipe: Recipe) -> set[str]:
    return {d.service for d in recipe.spec.donnees}


def fixed_by(recipe: Recipe, key: str, deployed: str, wanted: str) -> tuple[str, ...]:
    """The advisories of the image ``key`` that ``deployed`` is exposed to and ``wanted``
    is not: what the update fixes."""
    have, get = tag_of(deployed), tag_of(wanted)
    return tuple(a.id for a in recipe.spec.advisories if a.image == key
                 and older_than(have, a.fixed_in) and not older_than(get, a.fixed_in))


def versions(recipes: RecipeSet, wanted: Sequence[tuple[str, str, str]],
             deployed: Mapping[str, str]) -> tuple[Version, ...]:
    """``wanted``: (recipe, service, image) of the bundle; ``deployed``: service -> image."""
    out = []
    for recipe_name, service, image in wanted:
        before = deployed.get(service, "")
        recipe = recipes.by_name.get(recipe_name)
        key = _key_of(recipe, image) if recipe else ""
        security = fixed_by(recipe, key, before, image) if recipe and before and key else ()
        out.append(Version(recipe_name, service, before, image, security))
    return tuple(out)


def _major(image: str) -> int:
    numbers = version_key(tag_of(image))
    return numbers[0] if numbers else -1


def _refused(version: Version, why_fr: str, why_en: str, hint: tuple[str, str]) -> UpgradeRefused:
    return UpgradeRefused(tr(f"mise à niveau refusée pour {version.service} "
                             f"({version.text()}) : {why_fr} ; rien n'a été changé",
                             f"upgrade refused for {version.service} ({version.text()}): "
                             f"{why_en}; nothing was changed"), hint=tr(*hint))


def _check_downgrade(version: Version, path: UpgradePath | None, stateful: bool) -> None:
    if not older_than(tag_of(version.wanted), tag_of(version.deployed)):
        return
    if (path is None and not stateful) or (path is not None and path.retour):
        return
    raise _refused(version, "retour à une version plus ancienne, que l'image refuse sur des "
                   "données plus récentes", "going back to an older version, which the image "
                   "refuses on newer data", (
                       "gardez la version en place, ou restaurez une sauvegarde faite avec "
                       "l'ancienne version", "keep the running version, or restore a backup "
                       "taken with the older one"))


def _nextcloud(version: Version, path: UpgradePath) -> list[Step]:
    """The path images of the majors between the deployed one and the pin, then the pin."""
    have, want = _major(version.deployed), _major(version.wanted)
    if want <= have:
        return [Step(IMAGE, version.recipe, version.service, version.wanted)]
    by_major = {_major(i): i for i in path.chemin}
    missing = [m for m in range(have + 1, want) if m not in by_major]
    if missing:
        raise _refused(version, f"saut de majeure ({have} → {want}) sans image de la "
                       f"majeure {missing[0]} dans chemin_de_mise_a_niveau",
                       f"major skipped ({have} → {want}) with no image of major "
                       f"{missing[0]} in chemin_de_mise_a_niveau", (
                           "Nextcloud ne passe qu'une majeure à la fois : installez d'abord "
                           "avec une version de kit-collab dont la recette mène à la majeure "
                           "suivante", "Nextcloud moves one major at a time: first install "
                           "with a kit-collab whose recipe leads to the next major"))
    return [Step(NC_MAJOR, version.recipe, version.service, by_major[m])
            for m in range(have + 1, want)] + [
        Step(NC_MAJOR, version.recipe, version.service, version.wanted),
        Step(NC_APPS, version.recipe, path.service or version.service,
             commands=tuple(tuple(c) for c in path.apres), user=path.utilisateur)]


def _step(version: Version, recipe: Recipe) -> list[Step]:
    key = _key_of(recipe, version.wanted)
    path = recipe.spec.chemin_de_mise_a_niveau.get(key)
    if path is not None and path.service and path.service != version.service:
        path = None  # another service of the same image (nextcloud-cron): follows the first
    _check_downgrade(version, path, version.service in _stateful(recipe))
    if path is not None and path.genre == "nextcloud-major":
        return _nextcloud(version, path)
    if path is not None and path.genre == "synapse":
        if path.depuis_au_moins and older_than(tag_of(version.deployed), path.depuis_au_moins):
            raise _refused(version, f"saut non pris en charge depuis une version antérieure "
                           f"à {path.depuis_au_moins}", f"jump not supported from a version "
                           f"before {path.depuis_au_moins}", (
                               f"passez d'abord par {path.depuis_au_moins}",
                               f"go through {path.depuis_au_moins} first"))
        return [Step(SYNAPSE, version.recipe, version.service, version.wanted)]
    if version.service in _postgres_services(recipe) and \
            _major(version.deployed) != _major(version.wanted):
        return [Step(PG_MAJOR, version.recipe, version.service, version.wanted)]
    return [Step(IMAGE, version.recipe, version.service, version.wanted)]


def plan(recipes: RecipeSet, wanted: Sequence[tuple[str, str, str]],
         deployed: Mapping[str, str]) -> UpgradePlan:
    """The versions and the ordered steps; raises UpgradeRefused before any change."""
    seen = versions(recipes, wanted, deployed)
    steps: list[Step] = []
    for version in seen:
        recipe = recipes.by_name.get(version.recipe)
        if version.outdated and recipe is not None:
            steps += _step(version, recipe)
    if any(s.kind != IMAGE for s in steps) or any(
            s.service in _stateful(recipes[s.recipe]) for s in steps):
        steps.insert(0, Step(SAVE, "", ", ".join(sorted(
            {s.service for s in steps if s.kind not in (NC_APPS,)}))))
    steps.sort(key=lambda s: _ORDER.index(s.kind))
    middle = tuple(s for s in steps if s.kind == NC_MAJOR and s.image not in
                   {v.wanted for v in seen})
    return UpgradePlan(seen, tuple(steps), middle)


def wanted_of(bundle: Any) -> list[tuple[str, str, str]]:
    """(recipe, service, image) of a bundle's commune services."""
    return [(s.recipe, s.name, s.image) for s in bundle.services]
