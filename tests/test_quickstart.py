"""The README's quick start is what CI runs: .ci/run hands README.md's own code block to
tests/quickstart/run_in_debian13.py (a fresh Debian 13, a non-root user), never a copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.quickstart.run_in_debian13 import HEADING, quick_start

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_quick_start_has_two_commands_in_both_languages() -> None:
    french = quick_start(README, HEADING)
    english = quick_start(README, "Quick start")
    assert french == english and len(french) == 2
    assert "--dry-run" in french[0] and "pytest" in french[1]


def test_ci_runs_the_readme_quick_start_extracted_not_copied() -> None:
    assert "python3 tests/quickstart/run_in_debian13.py" in CI.splitlines()
    for command in quick_start(README, HEADING):
        assert command not in CI, f"a copy of the README's command drifts: {command}"


def test_quick_start_extraction_reads_the_block_under_the_heading() -> None:
    text = "# x\n```bash\nnot this\n```\n## Démarrage rapide\nTexte.\n\n```bash\na\n\nb\n```\n"
    assert quick_start(text, HEADING) == ["a", "b"]
    with pytest.raises(ValueError, match="Démarrage rapide"):
        quick_start("# rien\n", HEADING)


def test_quick_start_needs_no_system_pip() -> None:
    """Debian 13 refuses `pip install` outside a virtual environment (PEP 668)."""
    for command in quick_start(README, HEADING):
        assert not re.search(r"(^|&& )(python3 -m )?pip install", command), command


def test_quick_start_works_for_a_non_root_user() -> None:
    """Issue 15: a contributor is not root; apt needs sudo (which root has too)."""
    for command in quick_start(README, HEADING):
        for step in command.split("&&"):
            if re.match(r"\s*apt(-get)? ", step):
                pytest.fail(f"apt without sudo fails for a non-root user: {step.strip()}")
