"""What is rendered is validated as it is rendered: YAML/JSON parse, compose files follow the
compose specification; a broken file is exit 2 naming the template and line, in ``render``,
``install --dry-run`` and ``recipes lint`` (JSON with ``fichier``/``ligne``)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kit_collab.bundle import validate
from kit_collab.errors import RenderError
from kit_collab.operations import prepare
from kit_collab.recipes.load import load_recipes

from .conftest import EXAMPLES, ROOT

COMPOSE = "recipes/nextcloud/templates/compose.yaml.j2"


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    return root


def _break(root: Path, old: str, new: str) -> int:
    """Replace the first ``old`` of the Nextcloud compose template; returns its line."""
    path = root / COMPOSE
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


INVALID_YAML = ("  restart: unless-stopped\n", "  restart: [unless-stopped\n")
UNKNOWN_KEY = ("  restart: unless-stopped\n", "  restartt: unless-stopped\n")


def _lint(cli, root: Path) -> tuple[int, dict]:
    result = cli("recipes", "lint", "--json", env={"KIT_COLLAB_RECIPES": str(root)})
    return result.code, json.loads(result.out)


def _render_finding(report: dict) -> dict:
    (found,) = [f for f in report["constats"] if f["code"] == "KC011"]
    return found


def test_recipes_lint_of_a_template_rendering_invalid_yaml_is_exit_2_with_json(
        cli, data_root: Path) -> None:
    line = _break(data_root, *INVALID_YAML)
    code, report = _lint(cli, data_root)
    assert code == 2
    found = _render_finding(report)
    assert found["service"] == "nextcloud" and found["fichier"] == COMPOSE
    assert isinstance(found["ligne"], int) and line <= found["ligne"] <= line + 1
    assert "YAML invalide" in found["message"]


def test_recipes_lint_refuses_an_unknown_compose_key_restartt(cli, data_root: Path) -> None:
    line = _break(data_root, *UNKNOWN_KEY)
    code, report = _lint(cli, data_root)
    assert code == 2
    found = _render_finding(report)
    assert (found["fichier"], found["ligne"]) == (COMPOSE, line)
    assert "restartt" in found["message"]


def test_shipped_recipes_lint_clean_with_file_fields(cli) -> None:
    code, report = _lint(cli, ROOT)
    assert code == 0 and report["erreurs"] == 0


@pytest.mark.parametrize("breakage", [INVALID_YAML, UNKNOWN_KEY], ids=["yaml", "restartt"])
def test_render_of_a_broken_compose_template_exits_2_and_writes_nothing(
        cli, data_root: Path, tmp_path: Path, breakage: tuple[str, str]) -> None:
    line = _break(data_root, *breakage)
    out = tmp_path / "out"
    result = cli("render", EXAMPLES / "petite-commune.yaml", "--out", out,
                 "--secrets", tmp_path / "s.json", env={"KIT_COLLAB_RECIPES": str(data_root)})
    assert result.code == 2
    err = " ".join(result.err.split())
    found = re.search(re.escape(COMPOSE) + r":(\d+) ", err)
    assert found and line <= int(found.group(1)) <= line + 1
    assert not out.exists()


@pytest.mark.parametrize("breakage", [INVALID_YAML, UNKNOWN_KEY], ids=["yaml", "restartt"])
def test_install_dry_run_of_a_broken_compose_template_exits_2(
        cli, data_root: Path, breakage: tuple[str, str]) -> None:
    _break(data_root, *breakage)
    result = cli("install", EXAMPLES / "petite-commune.yaml", "--dry-run",
                 env={"KIT_COLLAB_RECIPES": str(data_root)})
    assert result.code == 2
    assert COMPOSE in " ".join(result.err.split())


# The checks themselves, without the CLI.

NEXTCLOUD = load_recipes()["nextcloud"]


@pytest.mark.parametrize(("fmt", "text", "line"), [
    ("json", '{"a": 1,\n "b": }\n', 2),
    ("yaml", "a: 1\nb: [\n", 3),
    ("compose", "services:\n  web:\n    image: x\n    restartt: always\n", 4),
    ("compose", "services:\n  web:\n    image: x\n    restart: parfois\n", 4),
    ("compose", "services:\n  web:\n    image: x\n    volumes: ./a:/a\n", 4),
    ("compose", "servicess: {}\n", 1),
    ("compose", "services:\n  web:\n    command: x\n", 2),
])
def test_a_broken_file_names_the_template_and_line(fmt: str, text: str, line: int) -> None:
    with pytest.raises(RenderError) as info:
        validate.parse(NEXTCLOUD, "t.j2", fmt, text)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("recipes/nextcloud/templates/t.j2", line)


def test_valid_files_parse() -> None:
    compose = ("x-common: &c\n  restart: unless-stopped\nservices:\n  web:\n    <<: *c\n"
               "    image: x\n  job:\n    image: y\n    restart: no\n")
    data = validate.parse(NEXTCLOUD, "t.j2", "compose", compose)
    assert data["services"]["web"]["restart"] == "unless-stopped"
    assert validate.parse(NEXTCLOUD, "t.j2", "json", "[1]") == [1]
    assert validate.parse(NEXTCLOUD, "t.j2", "env", "not: [yaml") is None


@pytest.mark.skipif(prepare._compose_cli() is None, reason="no docker compose here")
def test_render_runs_docker_compose_config_on_what_the_bundled_check_lets_through(
        cli, data_root: Path, tmp_path: Path) -> None:
    _break(data_root, "      test: ", "      testt: ")  # inside healthcheck: not a service key
    result = cli("render", EXAMPLES / "petite-commune.yaml", "--out", tmp_path / "out",
                 "--secrets", tmp_path / "s.json", env={"KIT_COLLAB_RECIPES": str(data_root)})
    assert result.code == 2
    err = " ".join(result.err.split())
    assert COMPOSE in err and "docker compose" in err and "testt" in err
    assert "kit-collab-check-" not in err  # the temporary copy is not shown


@pytest.mark.parametrize(("rendered", "near", "expected"), [
    ("  restartt: unless-stopped", 4, 4),  # literal line
    ('    image: "nextcloud:31"', 30, 27),  # expression stands for any text; nearest wins
    ("", 3, None),  # nothing to match
    ("  autre: chose", 3, None),
])
def test_a_rendered_line_is_traced_back_to_its_template_line(
        rendered: str, near: int, expected: int | None) -> None:
    source = ("# en-tête\nx: &x\n  image: {{ images.app | compose }}\n"
              "  restartt: unless-stopped\n{% if a %}\n  {{ b }}\n{% endif %}\n" + "\n" * 19
              + "    image: {{ images.db | compose }}\n")
    assert validate.template_line(source, rendered, near) == expected
