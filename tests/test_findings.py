"""One Finding type and one set of levels for ``kit-collab check`` and ``recipes lint``."""

from __future__ import annotations

import json

from kit_collab.check import findings
from kit_collab.check.findings import ERROR, OK, WARNING, Finding, Level


def test_levels_are_the_words_lint_and_check_print() -> None:
    assert [str(level) for level in Level] == ["ok", "avertissement", "erreur"]
    # recipes lint compares with the French words: the constants must equal them.
    assert (OK, WARNING, ERROR) == ("ok", "avertissement", "erreur")
    assert findings.LEVELS == (OK, WARNING, ERROR)


def test_a_lint_finding_carries_its_code_file_and_line_in_json() -> None:
    found = Finding(ERROR, "nextcloud", "chaque modèle existe et se lit", "YAML invalide",
                    "corrigez le modèle", code="KC004", file="templates/compose.yaml.j2",
                    line=12)
    data = json.loads(json.dumps(found.as_dict(), ensure_ascii=False))
    assert data == {"niveau": "erreur", "service": "nextcloud",
                    "controle": "chaque modèle existe et se lit", "message": "YAML invalide",
                    "correction": "corrigez le modèle", "code": "KC004",
                    "fichier": "templates/compose.yaml.j2", "ligne": 12}


def test_a_diagnosis_finding_json_has_no_lint_fields() -> None:
    found = Finding(WARNING, findings.SERVER, "mémoire", "juste", "plus de RAM")
    assert set(found.as_dict()) == {"niveau", "service", "controle", "message", "correction"}


def test_summary_counts_every_level_with_plain_word_keys() -> None:
    counts = findings.summary([Finding(OK, "a", "x", "m"), Finding(ERROR, "b", "y", "m"),
                               Finding(ERROR, "c", "z", "m")])
    assert counts == {"ok": 1, "avertissement": 0, "erreur": 2}
    assert all(type(key) is str for key in counts)
    assert json.dumps(counts) == '{"ok": 1, "avertissement": 0, "erreur": 2}'
