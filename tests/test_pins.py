"""Pins that get old, and pins still exposed to an advisory fixed upstream (issue 14, item 10:
"Pins are months old ... and nothing says when a pin gets stale"). Pure: dates are given."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from kit_collab.check import recipe_lint as lint
from kit_collab.recipes import pins
from kit_collab.recipes.load import load_recipes

from .conftest import ROOT


@pytest.mark.parametrize(("tag", "fixed", "older"), [
    ("7.4.5", "7.4.6", True), ("7.4.9", "7.4.6", False), ("7.4.6", "7.4.6", False),
    ("34.0.2-apache", "34.0.3", True), ("v1.157.1", "1.157.0", False),
    ("4.17.0-r0", "4.17.1", True), ("stable-11146-2", "11031", False), ("8.0.4", "7.4.6", False),
    ("7.4", "7.4.1", True), ("latest", "7.4.6", False),
])
def test_tag_compared_as_a_version(tag: str, fixed: str, older: bool) -> None:
    assert pins.older_than(tag, fixed) is older


def test_every_shipped_image_has_a_release_date_and_no_critical_advisory_open() -> None:
    for recipe in load_recipes():
        assert pins.undated(recipe) == [], recipe.name
        assert pins.exposed(recipe, ("critical",)) == [], recipe.name


def test_redis_is_past_the_lua_remote_code_execution_fix() -> None:
    # CVE-2025-49844 (Lua use-after-free) is fixed in 7.4.6; the recipe lists it.
    nextcloud = load_recipes()["nextcloud"]
    assert any(a.id == "CVE-2025-49844" for a in nextcloud.spec.advisories)
    assert not pins.older_than(pins.tag_of(nextcloud.spec.images["redis"]), "7.4.6")


def test_pin_older_than_120_days_is_a_warning_not_an_error() -> None:
    recipes = load_recipes()
    released = recipes["proxy"].spec.released["caddy"]
    fresh = lint.lint(recipes, today=released)
    assert "KC017" not in {f.code for f in fresh}
    later = lint.lint(recipes, today=date.fromordinal(released.toordinal() + 121))
    stale = [f for f in later if f.code == "KC017" and f.service == "proxy"]
    assert stale and stale[0].level == lint.WARNING and "121 jours" in stale[0].message
    assert [f for f in later if f.level == lint.ERROR] == []


def test_stale_pin_warning_keeps_lint_exit_0(cli) -> None:
    result = cli("recipes", "lint", "--json")
    assert result.code == 0


def test_pin_with_a_critical_advisory_fixed_later_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    path = root / "recipes/nextcloud/recipe.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("redis: redis:7.4.9",
                                                             "redis: redis:7.4.5", 1))
    findings = [f for f in lint.lint(load_recipes(root)) if f.code == "KC018"]
    assert findings and findings[0].level == lint.ERROR
    assert "CVE-2025-49844" in " ".join(f.message for f in findings)


def test_advisory_naming_an_unknown_image_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    path = root / "recipes/nextcloud/recipe.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "- {image: redis, id: CVE-2025-49844", "- {image: redys, id: CVE-2025-49844", 1))
    findings = [f for f in lint.lint(load_recipes(root)) if f.code == "KC018"]
    assert any("redys" in f.message for f in findings)
