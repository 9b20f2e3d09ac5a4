"""The README's quick start is what CI runs: the two commands cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start(text: str, heading: str) -> list[str]:
    section = text.split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no command block under {heading}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_has_two_commands_run_literally_by_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    french = quick_start(readme, "## Démarrage rapide")
    english = quick_start(readme, "Quick start")
    assert french == english and len(french) == 2
    assert "--dry-run" in french[0] and "pytest" in french[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in french:
        assert command in ci, f"CI does not run the README's command: {command}"


def test_quick_start_needs_no_system_pip() -> None:
    """Debian 13 refuses `pip install` outside a virtual environment (PEP 668)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in quick_start(readme, "## Démarrage rapide"):
        assert not re.search(r"(^|&& )(python3 -m )?pip install", command), command
