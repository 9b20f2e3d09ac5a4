"""Each escaping filter, read back by the program that consumes its format."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kit_collab import escape

from .conftest import require_tool

HOSTILE = [
    "L'Haÿ-les-Roses",
    "L'Haÿ \"x\" $HOME #1 \\ : { } ${PATH} $(id) `id`",
    "ligne 1\nligne 2\ttab",
    "' OR 1=1 -- ; ]] [[ %s {{ x }} {% if %}",
    "emoji 🎉 et « guillemets » et \u2028 séparateur",
    "fin \\",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_yaml_and_json_round_trip(value: str) -> None:
    assert yaml.safe_load(f"k: {escape.yaml_value(value)}\n") == {"k": value}
    assert json.loads(escape.json_value(value)) == value
    assert json.loads(escape.json_value({"a": [value]})) == {"a": [value]}


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_word(value: str) -> None:
    out = subprocess.run(["sh", "-c", f"printf %s {escape.shell_word(value)}"],
                         capture_output=True, text=True, check=True).stdout
    assert out == value


@pytest.mark.validators
@pytest.mark.parametrize("value", HOSTILE)
def test_php_string(tmp_path: Path, value: str) -> None:
    php = require_tool("php")
    script = tmp_path / "v.php"
    script.write_text(f"<?php\n$v = {escape.php_string(value)};\necho $v;\n", encoding="utf-8")
    out = subprocess.run([php, "-n", str(script)], capture_output=True, check=True).stdout
    assert out.decode("utf-8") == value


@pytest.mark.validators
@pytest.mark.parametrize("value", HOSTILE)
def test_lua_string(tmp_path: Path, value: str) -> None:
    lua = require_tool("lua5.4")
    script = tmp_path / "v.lua"
    script.write_text(f"io.write({escape.lua_string(value)})\n", encoding="utf-8")
    out = subprocess.run([lua, str(script)], capture_output=True, check=True).stdout
    assert out.decode("utf-8") == value


@pytest.mark.validators
def test_env_and_compose_values_through_compose(tmp_path: Path) -> None:
    """compose reads the .env file and the YAML exactly as a deploy would."""
    compose = require_tool("docker-compose")
    env_lines = [f"V{i}={escape.env_value(v)}" for i, v in enumerate(HOSTILE)]
    (tmp_path / "app.env").write_text("\n".join(env_lines) + "\n", encoding="utf-8")
    labels = "\n".join(f"      l{i}: {escape.compose_value(v)}" for i, v in enumerate(HOSTILE))
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox:1.36\n    env_file: [app.env]\n"
        f"    labels:\n{labels}\n", encoding="utf-8")
    result = subprocess.run([compose, "-f", str(tmp_path / "compose.yaml"), "config",
                             "--format", "json"], capture_output=True, text=True, check=True,
                            cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    service = json.loads(result.stdout)["services"]["app"]
    for i, value in enumerate(HOSTILE):
        # compose prints a literal "$" as "$$" so its output can be read again.
        assert service["environment"][f"V{i}"].replace("$$", "$") == value
        assert service["labels"][f"l{i}"].replace("$$", "$") == value


@pytest.mark.parametrize("value", ["cloud.example.fr", "mairie@example.fr", "a-b:80"])
def test_caddy_and_conf_tokens_accept_plain_names(value: str) -> None:
    assert escape.caddy_token(value) == value
    assert escape.conf_token(value) == value


@pytest.mark.parametrize("value", ["a b", "x}", "{env.SECRET}", "a\nb", "\"q\"", "#c"])
def test_caddy_and_conf_tokens_refuse_the_rest(value: str) -> None:
    with pytest.raises(ValueError):
        escape.caddy_token(value)
    with pytest.raises(ValueError):
        escape.conf_token(value)
