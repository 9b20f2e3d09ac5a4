"""The recipe lint's rules about pins: a release date for each image, its age, and the
critical advisories a pin is still exposed to. Pure; "today" is given by the caller."""

from __future__ import annotations

from datetime import date

from kit_collab.i18n import tr
from kit_collab.recipes import pins
from kit_collab.recipes.load import Recipe


def undated(recipe: Recipe) -> list[str]:
    out = []
    for key in pins.undated(recipe):
        if key.startswith("?"):
            out.append(tr(f"released: « {key[1:]} » ne nomme aucune image de la recette",
                          f"released: '{key[1:]}' names no image of the recipe"))
        else:
            out.append(tr(f"image {key} « {recipe.spec.images[key]} » sans date de "
                          "publication amont", f"image {key} '{recipe.spec.images[key]}' "
                          "has no upstream release date"))
    return out


def stale(recipe: Recipe, today: date) -> list[str]:
    return [tr(f"image {a.key} « {a.image} » publiée le {a.released.isoformat()}, il y a "
               f"{a.days} jours (plus de {pins.STALE_AFTER_DAYS})",
               f"image {a.key} '{a.image}' released on {a.released.isoformat()}, {a.days} "
               f"days ago (more than {pins.STALE_AFTER_DAYS})")
            for a in pins.stale(recipe, today)]


def _advisories(recipe: Recipe, severities: tuple[str, ...]) -> list[str]:
    out = []
    for advisory, image in pins.exposed(recipe, severities):
        if not image:
            out.append(tr(f"avis {advisory.id} : « {advisory.image} » n'est pas une image de "
                          "la recette", f"advisory {advisory.id}: '{advisory.image}' is not "
                          "an image of the recipe"))
            continue
        out.append(tr(f"image {advisory.image} « {image} » exposée à {advisory.id} "
                      f"({advisory.severity}), corrigé en {advisory.fixed_in} "
                      f"(source : {advisory.source})",
                      f"image {advisory.image} '{image}' exposed to {advisory.id} "
                      f"({advisory.severity}), fixed in {advisory.fixed_in} "
                      f"(source: {advisory.source})"))
    return out


def critical(recipe: Recipe) -> list[str]:
    return _advisories(recipe, ("critical",))


def lesser(recipe: Recipe) -> list[str]:
    return _advisories(recipe, ("high", "medium", "low"))
