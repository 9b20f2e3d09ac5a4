"""A typed domain is read as people mean it (issue 15, item 3: "www.Saint-Etienne-du-Gres.fr is
accepted silently; https://…/ is refused with an unrelated hint; an accented domain is not
converted")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit_collab.profile.model import normal_domain

from .conftest import EXAMPLES


@pytest.mark.parametrize(("typed", "read"), [
    ("https://mairie-exemple.fr/", "mairie-exemple.fr"),
    ("http://Mairie-Exemple.FR:8080/accueil?x=1", "mairie-exemple.fr"),
    ("mairie-exemple.fr.", "mairie-exemple.fr"),
    ("  MAIRIE-EXEMPLE.FR ", "mairie-exemple.fr"),
    ("saint-étienne-du-grès.fr", "xn--saint-tienne-du-grs-7ybi.fr"),
    ("xn--saint-tienne-du-grs-7ybi.fr", "xn--saint-tienne-du-grs-7ybi.fr"),
])
def test_domain_typed_as_people_type_it(typed: str, read: str) -> None:
    assert normal_domain(typed) == read


def _validate(cli: Any, tmp_path: Path, domain: str) -> tuple[int, dict[str, Any], str]:
    text = (EXAMPLES / "minimale.yaml").read_text("utf-8")
    assert "domaine: saint-exemple.fr" in text
    path = tmp_path / "commune.yaml"
    path.write_text(text.replace("domaine: saint-exemple.fr", f'domaine: "{domain}"'), "utf-8")
    as_json = cli("validate", path, "--json")
    human = cli("validate", path)
    return as_json.code, json.loads(as_json.out)[0], human.out


def test_web_address_is_read_as_its_domain_and_said(cli: Any, tmp_path: Path) -> None:
    code, report, human = _validate(cli, tmp_path, "https://saint-exemple.fr/")
    assert code == 0 and report["valide"]
    (note,) = report["avertissements"]
    assert "saint-exemple.fr" in note["message"] and note["ligne"] == 5
    assert "est lu comme le domaine" in human


def test_accented_domain_shows_both_forms(cli: Any, tmp_path: Path) -> None:
    code, report, _ = _validate(cli, tmp_path, "saint-étienne-du-grès.fr")
    assert code == 0
    (note,) = report["avertissements"]
    assert "saint-étienne-du-grès.fr" in note["message"]
    assert "xn--saint-tienne-du-grs-7ybi.fr" in note["message"]


def test_leading_www_is_questioned_with_what_the_domain_is_for(cli: Any, tmp_path: Path) -> None:
    code, report, human = _validate(cli, tmp_path, "www.Saint-Etienne-du-Gres.fr")
    assert code == 0  # a warning, not an error: some communes do use such a domain
    messages = " ".join(n["message"] + " " + (n["conseil"] or "")
                        for n in report["avertissements"])
    assert "cloud.www.saint-etienne-du-gres.fr" in messages
    assert "domaine: saint-etienne-du-gres.fr" in messages
    assert "www." in human


def test_a_plain_domain_has_no_warning(cli: Any, tmp_path: Path) -> None:
    code, report, _ = _validate(cli, tmp_path, "saint-exemple.fr")
    assert code == 0 and report["avertissements"] == []
