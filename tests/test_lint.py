"""``recipes lint``: the shipped recipes pass; each rule catches what it is about."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit_collab.check import recipe_lint as lint
from kit_collab.recipes.load import load_recipes

from .conftest import ROOT


def test_shipped_recipes_pass() -> None:
    findings = lint.lint(load_recipes())
    assert [f for f in findings if f.level == lint.ERROR] == []


def test_rules_are_data_with_unique_codes() -> None:
    codes = [r.code for r in lint.RULES]
    assert len(codes) == len(set(codes)) >= 10
    assert all(r.description[0] and r.how_to_fix[0] for r in lint.RULES)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BREAKAGES = [
    ("KC001", "recipes/nextcloud/recipe.yaml", "version: 1.0.0+34.0.2", 'version: "34.0.2"'),
    ("KC002", "recipes/nextcloud/recipe.yaml", "redis: redis:7.4.9", "redis: redis:latest"),
    ("KC002", "recipes/nextcloud/recipe.yaml", "redis: redis:7.4.9", "redis: redis"),
    ("KC004", "recipes/nextcloud/recipe.yaml", "template: postgres.env.j2",
     "template: absent.env.j2"),
    ("KC004", "recipes/nextcloud/templates/postgres.env.j2", 'POSTGRES_DB="nextcloud"',
     'POSTGRES_DB={{ oops'),
    ("KC005", "recipes/nextcloud/templates/postgres.env.j2", 'POSTGRES_DB="nextcloud"',
     "POSTGRES_DB={{ inconnu | env }}"),
    ("KC006", "recipes/nextcloud/templates/postgres.env.j2", 'POSTGRES_DB="nextcloud"',
     "POSTGRES_DB={{ commune.nom }}"),
    ("KC006", "recipes/nextcloud/templates/site.caddy.j2", "{{ hosts.nextcloud.cloud | caddy }}",
     "{{ hosts.nextcloud.cloud | env }}"),
    ("KC007", "recipes/nextcloud/recipe.yaml",
     'dest: postgres.env, format: env, mode: "0600"',
     'dest: postgres.env, format: env, mode: "0644"'),
    ("KC008", "recipes/nextcloud/recipe.yaml", "requires: [proxy]", "requires: [proxy, absente]"),
    ("KC009", "recipes/nextcloud/recipe.yaml", "host: cloud\n", "host: nuage\n"),
    ("KC010", "recipes/nextcloud/recipe.yaml", "cloud: services.nextcloud.sous_domaine",
     "cloud: services.nextcloud.sous_domain"),
    ("KC012", "recipes/nextcloud/recipe.yaml",
     "services: [nextcloud, nextcloud-cron, nextcloud-db, nextcloud-redis]",
     "services: [nextcloud, nextcloud-cron, nextcloud-db]"),
    ("KC016", "recipes/nextcloud/recipe.yaml", "  redis: 2026-05-01\n", ""),
    ("KC018", "recipes/nextcloud/recipe.yaml", "redis: redis:7.4.9", "redis: redis:7.4.5"),
]


@pytest.mark.parametrize(("code", "file", "old", "new"), BREAKAGES,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BREAKAGES)])
def test_rule_catches_breakage(data_root: Path, code: str, file: str, old: str,
                               new: str) -> None:
    _edit(data_root / file, old, new)
    findings = lint.lint(load_recipes(data_root))
    assert code in {f.code for f in findings}, findings
    finding = next(f for f in findings if f.code == code)
    assert finding.service == "nextcloud" and finding.message and finding.fix


def test_lint_cli_exit_codes_and_json(cli, data_root: Path, monkeypatch) -> None:
    import json

    ok = cli("recipes", "lint", "--json")
    assert ok.code == 0 and json.loads(ok.out)["erreurs"] == 0
    _edit(data_root / "recipes/nextcloud/recipe.yaml", "redis: redis:7.4.9", "redis: redis")
    monkeypatch.setattr("kit_collab.recipes.load.data_root", lambda: data_root)
    bad = cli("recipes", "lint", "--json")
    assert bad.code == 2
    report = json.loads(bad.out)
    assert report["erreurs"] >= 1
    assert report["constats"][0]["code"] == "KC002"
    human = cli("recipes", "lint")
    assert human.code == 2 and "KC002 erreur nextcloud" in human.err


def test_published_service_without_health_check(data_root: Path) -> None:
    import yaml

    path = data_root / "recipes/nextcloud/recipe.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["health"] = []
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "KC003" in {f.code for f in lint.lint(load_recipes(data_root))}


def test_malformed_recipe_file_names_file_and_line(cli, data_root: Path, monkeypatch) -> None:
    _edit(data_root / "recipes/nextcloud/recipe.yaml", "version: 1.0.0+34.0.2",
          "version: 1.0.0+34.0.2\nversoin: 2")
    monkeypatch.setattr("kit_collab.recipes.load.data_root", lambda: data_root)
    result = cli("recipes", "lint")
    assert result.code == 2
    assert "recipes/nextcloud/recipe.yaml:" in result.err and "versoin" in result.err
    assert "Traceback" not in result.text
