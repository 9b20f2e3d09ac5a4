"""Which recipes a profile switches on, in dependency order, and the names they serve."""

from __future__ import annotations

from typing import Any

from kit_collab.errors import RenderError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import Recipe, RecipeSet


def lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(dotted)
        data = data[part]
    return data


def _unknown_path(recipe: Recipe, dotted: str | None) -> RenderError:
    return RenderError(tr(f"recette « {recipe.name} » : chemin de profil inconnu « {dotted} »",
                          f"recipe '{recipe.name}': unknown profile path '{dotted}'"))


def recipe_lookup(recipe: Recipe, data: Any, dotted: str) -> Any:
    try:
        return lookup(data, dotted)
    except KeyError:
        raise _unknown_path(recipe, dotted) from None


def profile_data(profile: Profile) -> dict[str, Any]:
    data = profile.model_dump(mode="json")
    data["commune"]["slug"] = profile.commune.code
    data["serveur"]["adresse_publique"] = profile.serveur.adresse_publique
    return data


def is_true(data: dict[str, Any], dotted: str | None) -> bool:
    if dotted is None:
        return True
    negate = dotted.startswith("not ")
    value = bool(lookup(data, dotted.removeprefix("not ").strip()))
    return not value if negate else value


def recipe_true(recipe: Recipe, data: dict[str, Any], dotted: str | None) -> bool:
    """``is_true`` for a path a recipe declares: an unknown path is the recipe's error."""
    try:
        return is_true(data, dotted)
    except KeyError:
        raise _unknown_path(recipe, dotted) from None


def active_recipes(profile: Profile, recipes: RecipeSet) -> list[Recipe]:
    data = profile_data(profile)
    active = [r for r in recipes if not r.spec.active_if
              or any(recipe_true(r, data, p) for p in r.spec.active_if)]
    names = {r.name for r in active}
    for recipe in active:
        for need in recipe.spec.requires:
            if need not in names:
                raise RenderError(tr(
                    f"la recette « {recipe.name} » a besoin de « {need} », qui n'est pas active",
                    f"recipe '{recipe.name}' needs '{need}', which is not active"))
    return _dependency_order(active)


def _dependency_order(recipes: list[Recipe]) -> list[Recipe]:
    """Each recipe after the ones it requires (so are its tasks); otherwise as given."""
    done: list[Recipe] = []
    pending = list(recipes)
    while pending:
        ready = next((r for r in pending
                      if all(n in {d.name for d in done} for n in r.spec.requires)), None)
        if ready is None:
            cycle = ", ".join(r.name for r in pending)
            raise RenderError(tr(f"dépendances circulaires entre recettes : {cycle}",
                                 f"circular dependencies between recipes: {cycle}"))
        done.append(ready)
        pending.remove(ready)
    return done


def hostnames(data: dict[str, Any], recipes: list[Recipe]) -> dict[str, dict[str, str]]:
    domain = data["commune"]["domaine"]
    hosts: dict[str, dict[str, str]] = {"base": {"domaine": domain}}
    for recipe in recipes:
        hosts[recipe.name] = {
            key: f"{recipe_lookup(recipe, data, path)}.{domain}"
            for key, path in recipe.spec.hostnames.items()
        }
    return hosts
