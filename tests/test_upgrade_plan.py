"""The upgrade plan, pure: versions in view, steps in order, refusals before any change."""

from __future__ import annotations

import pytest

from kit_collab.i18n import set_lang
from kit_collab.plan import upgrade
from kit_collab.plan.upgrade import UpgradeRefused
from kit_collab.recipes.load import load_recipes

RECIPES = load_recipes()
NC = RECIPES["nextcloud"].spec.images
MX = RECIPES["matrix"].spec.images


def _wanted() -> list[tuple[str, str, str]]:
    return [("nextcloud", "nextcloud", NC["app"]), ("nextcloud", "nextcloud-cron", NC["app"]),
            ("nextcloud", "nextcloud-db", NC["db"]), ("nextcloud", "nextcloud-redis",
                                                      NC["redis"]),
            ("matrix", "matrix-synapse", MX["synapse"]), ("matrix", "matrix-db", MX["db"])]


def _deployed(**changes: str) -> dict[str, str]:
    base = {service: image for _r, service, image in _wanted()}
    return {**base, **{k.replace("_", "-"): v for k, v in changes.items()}}


def test_up_to_date_commune_has_no_step() -> None:
    result = upgrade.plan(RECIPES, _wanted(), _deployed())
    assert result.steps == () and not any(v.outdated for v in result.versions)


def test_two_majors_behind_go_through_the_intermediate_major_then_apps() -> None:
    old = "nextcloud:32.0.13-apache"
    result = upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud=old, nextcloud_cron=old))
    kinds = [s.kind for s in result.steps]
    assert kinds[0] == "sauvegarde"
    majors = [s.image for s in result.steps if s.kind == "nextcloud-major"]
    assert majors == ["nextcloud:33.0.7-apache", NC["app"]]
    assert [s.image for s in result.intermediate] == ["nextcloud:33.0.7-apache"]
    apps = next(s for s in result.steps if s.kind == "nextcloud-apps")
    assert ("php", "occ", "app:update", "--all") in apps.commands and apps.user == "33"
    assert kinds.index("nextcloud-apps") > kinds.index("nextcloud-major")
    # The cron container follows the same image without stepping again.
    assert [s.service for s in result.steps if s.kind == "nextcloud-major"] == ["nextcloud"] * 2
    shown = {v.service: v.text() for v in result.versions}
    assert shown["nextcloud"] == f"nextcloud 32.0.13-apache → {NC['app'].split(':')[1]}"
    assert all(s.risk and s.minutes > 0 for s in result.steps)


def test_forced_skip_without_a_path_image_is_refused_before_any_change() -> None:
    set_lang("fr")
    old = "nextcloud:30.0.17-apache"  # 30 -> 34 needs 31, 32, 33: the path has no 30 -> 31 gap
    assert upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud=old)).intermediate
    with pytest.raises(UpgradeRefused, match="saut de majeure") as info:
        upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud="nextcloud:29.0.16-apache"))
    assert "rien n'a été changé" in info.value.message and info.value.exit_code == 2


def test_downgrade_of_nextcloud_or_synapse_is_refused() -> None:
    with pytest.raises(UpgradeRefused, match="plus ancienne"):
        upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud="nextcloud:35.0.1-apache"))
    with pytest.raises(UpgradeRefused, match="matrix-synapse"):
        upgrade.plan(RECIPES, _wanted(),
                     _deployed(matrix_synapse="matrixdotorg/synapse:v1.170.0"))


def test_postgres_major_is_a_migration_and_a_minor_an_image_swap() -> None:
    major = upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud_db="postgres:15.14"))
    assert [s.kind for s in major.steps] == ["sauvegarde", "postgres-major"]
    minor = upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud_db="postgres:17.10"))
    assert [s.kind for s in minor.steps] == ["sauvegarde", "image"]  # stateful: saved first


def test_security_fixes_come_from_the_recipes_advisories() -> None:
    result = upgrade.plan(RECIPES, _wanted(), _deployed(nextcloud_redis="redis:7.4.5"))
    redis = next(v for v in result.versions if v.service == "nextcloud-redis")
    assert "CVE-2025-49844" in redis.security and "CVE-2026-23479" in redis.security
    assert [s.kind for s in result.steps] == ["image"]  # redis keeps no data: no snapshot


def test_synapse_jump_below_the_recorded_minimum_is_refused() -> None:
    spec = RECIPES["matrix"].spec
    path = spec.chemin_de_mise_a_niveau["synapse"].model_copy(
        update={"depuis_au_moins": "v1.100.0"})
    recipe = RECIPES["matrix"]
    patched = type(recipe)(spec.model_copy(update={"chemin_de_mise_a_niveau": {
        "synapse": path}}), recipe.recipe_dir, recipe.template_dir)
    recipes = type(RECIPES)(tuple(patched if r.name == "matrix" else r for r in RECIPES),
                            RECIPES.root)
    with pytest.raises(UpgradeRefused, match=r"v1\.100\.0"):
        upgrade.plan(recipes, _wanted(), _deployed(matrix_synapse="matrixdotorg/synapse:v1.98.0"))
    ok = upgrade.plan(recipes, _wanted(), _deployed(matrix_synapse="matrixdotorg/synapse:v1.140.0"))
    assert [s.kind for s in ok.steps] == ["sauvegarde", "synapse"]


@pytest.mark.parametrize("path", [
    ["nextcloud:33.0.7-apache", "nextcloud:32.0.13-apache"],  # not rising
    ["nextcloud:35.0.1-apache"],  # not before the pin
    ["owncloud:33.0.7"],  # another image
])
def test_a_path_that_cannot_lead_to_the_pin_is_refused_when_recipes_load(path: list[str]) -> None:
    spec = RECIPES["nextcloud"].spec.model_dump(by_alias=True)
    spec["chemin_de_mise_a_niveau"]["app"]["chemin"] = path
    with pytest.raises(ValueError, match=r"chemin_de_mise_a_niveau\.app"):
        type(RECIPES["nextcloud"].spec).model_validate(spec)
