"""French all the way (issue 15, item 6): yes/no prompts answer in French, --lang is accepted
anywhere, the help shows words rather than Python types, the libraries' English leftovers
are translated, and plurals agree."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console

from kit_collab.cli.prompts import yes_no
from kit_collab.i18n import count, lang_first, set_lang

from .conftest import ROOT


def _ask(answers: str, default: bool = False) -> tuple[bool, str]:
    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    stream = io.StringIO(answers)
    sys_stdin = sys.stdin
    sys.stdin = stream
    try:
        answer = yes_no("Faire confiance à cette clé ?", default=default, console=console)
    finally:
        sys.stdin = sys_stdin
    return answer, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("typed", "expected"), [("o\n", True), ("oui\n", True),
                                                 ("n\n", False), ("non\n", False),
                                                 ("Oui\n", True)])
def test_host_key_prompt_accepts_o_oui_n_non(typed: str, expected: bool) -> None:
    set_lang("fr")
    assert _ask(typed)[0] is expected


def test_host_key_prompt_replies_in_french_to_anything_else() -> None:
    set_lang("fr")
    answer, shown = _ask("peut-être\no\n")
    assert answer is True
    assert "[o/n]" in shown and "Répondez o (oui) ou n (non)" in shown
    assert "Please enter Y or N" not in shown and "[y/n]" not in shown


def test_lang_is_accepted_after_the_subcommand(cli) -> None:
    after = cli("validate", str(ROOT / "examples/minimale.yaml"), "--lang", "en")
    assert after.code == 0 and "valid profile" in after.out
    equals = cli("validate", str(ROOT / "examples/minimale.yaml"), "--lang=en")
    assert equals.code == 0 and "valid profile" in equals.out


def test_lang_first_keeps_arguments_after_double_dash() -> None:
    assert lang_first(["check", "x.yaml", "--lang", "en"]) == ["--lang", "en", "check", "x.yaml"]
    assert lang_first(["a", "--", "--lang", "en"]) == ["a", "--", "--lang", "en"]


def _help(*args: str) -> str:
    env = {"COLUMNS": "120", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "kit_collab", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    return done.stdout + done.stderr


@pytest.mark.parametrize("command", ["install", "validate", "check", "users", "init"])
def test_help_shows_no_programmer_types(command: str) -> None:
    text = _help(command, "--help")
    for leftover in ("<bool>", "<list[", "<int range>", "<float>", "<path>", "<str>", "<=x<=",
                     "Usage:", "Show this message"):
        assert leftover not in text, (command, leftover)
    assert "Utilisation :" in text


def test_usage_errors_have_no_english_leftovers() -> None:
    typo = _help("instal")
    assert "Vouliez-vous dire 'install'" in typo and "Did you mean" not in typo
    missing = _help("install")
    assert "Argument manquant : PROFIL" in missing and "Missing argument" not in missing
    assert "targets" not in missing


def test_english_stays_english() -> None:
    assert "Did you mean 'install'" in _help("--lang", "en", "instal")


@pytest.mark.parametrize(("n", "fr", "en"), [(0, "0 problème", "0 problems"),
                                             (1, "1 problème", "1 problem"),
                                             (2, "2 problèmes", "2 problems")])
def test_plurals_agree(n: int, fr: str, en: str) -> None:
    set_lang("en")
    try:
        assert count(n, ("problème", "problèmes"), ("problem", "problems")) == en
    finally:
        set_lang("fr")
    assert count(n, ("problème", "problèmes"), ("problem", "problems")) == fr


def test_invalid_profile_says_1_probleme_not_probleme_s(cli, write_profile) -> None:
    path = write_profile("commune:\n  nom: X\n")
    result = cli("validate", str(path))
    assert result.code == 2 and "(s)" not in result.err


def test_no_parenthesised_plural_in_user_facing_strings() -> None:
    """Issue 15: "1 problème(s)" / "2 fiche(s)": every count goes through i18n.count. Scans the
    lines of the source for a word followed by "(s)" (the recipe loader's messages to recipe
    authors and function calls on a variable ``s`` aside)."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "kit_collab"
    found = [f"{path.relative_to(src)}:{n}" for path in src.rglob("*.py")
             if path.name != "load.py" or path.parent.name != "recipes"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"(?<![\w.])[a-zéèêà]{2,}\(s\)(?![\]\w])", line)
             and not line.lstrip().startswith("#") and "http(s)" not in line]
    assert found == []
