"""YAML syntax errors in French with their fix (issue 15, item 5: "YAML syntax errors are raw
English with no fix", and `pays: NO` (Norway) read as a boolean)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES

CASES = [
    ("tab", "commune:\n\tnom: X\n", 2, "tabulation", "espaces"),
    ("colon_in_value", "commune:\n  nom: Mairie: accueil\n", 2, "« : » dans une valeur",
     "guillemets"),
    ("over_indented", "commune:\n  nom: X\n   domaine: y\n", 3, "indentation", "alignez"),
    ("under_indented", "commune:\n  nom: X\n domaine: y\n", 3, "indentation", "alignez"),
    ("unclosed_quote", 'commune:\n  nom: "X\n  domaine: y\n', 2, "guillemet ouvert ligne 2",
     "refermez"),
    ("missing_colon", "commune:\n  nom X\n  domaine: y\n", 2, "n'est pas suivie de « : »",
     "clé: valeur"),
    ("reserved_start", "commune:\n  nom: @mairie\n", 2, "caractère réservé", "guillemets"),
]


@pytest.mark.parametrize(("name", "text", "line", "said", "fix"), CASES,
                         ids=[c[0] for c in CASES])
def test_yaml_syntax_error_is_french_with_its_fix(cli: Any, tmp_path: Path, name: str,
                                                  text: str, line: int, said: str,
                                                  fix: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, "utf-8")
    result = cli("validate", path, "--json")
    assert result.code == 2
    (problem,) = json.loads(result.out)[0]["problemes"]
    assert problem["ligne"] == line, problem
    assert said in problem["message"] and fix in (problem["conseil"] or "")
    for english in ("found character", "mapping values", "expected <block end>",
                    "end of stream", "could not find"):
        assert english not in json.dumps(problem)
    human = cli("validate", path)
    assert said in human.err and "Traceback" not in human.text


def test_norway_is_a_country_not_a_boolean(cli: Any, tmp_path: Path) -> None:
    text = (EXAMPLES / "minimale.yaml").read_text("utf-8").replace("pays: FR", "pays: NO")
    assert "pays: NO" in text
    path = tmp_path / "norvege.yaml"
    path.write_text(text, "utf-8")
    result = cli("validate", path)
    assert result.code == 0, result.text  # Norway is in the EEA: hosting allowed


def test_yes_still_means_true_where_a_boolean_is_expected(cli: Any, tmp_path: Path) -> None:
    text = (EXAMPLES / "minimale.yaml").read_text("utf-8").replace("actif: true", "actif: yes")
    path = tmp_path / "oui.yaml"
    path.write_text(text, "utf-8")
    assert cli("validate", path).code == 0
