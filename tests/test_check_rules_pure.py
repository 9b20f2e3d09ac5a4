"""The rules of ``kit-collab check`` and the profile package are pure: no network library, no
terminal library, no clock, no randomness. The side effects live in ``check/probes``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kit_collab

PACKAGE = Path(kit_collab.__file__).parent
PURE = sorted([*(PACKAGE / "check" / "rules").glob("*.py"), PACKAGE / "check" / "findings.py",
               *(PACKAGE / "profile").glob("*.py")])
SIDE_EFFECT_LIBRARIES = {"paramiko", "httpx", "dns", "rich", "typer", "socket", "ssl",
                         "subprocess", "time", "random", "secrets", "certifi", "urllib"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _clock_calls(tree: ast.AST) -> list[str]:
    return [node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS]


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_no_side_effect_library_and_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _imports(tree) & SIDE_EFFECT_LIBRARIES == set()
    assert _clock_calls(tree) == []


def test_importing_the_rules_loads_no_network_or_terminal_library() -> None:
    code = ("import sys, kit_collab.check.rules, kit_collab.profile.load, "
            "kit_collab.profile.wizard; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True, env=env).stdout.split())
    assert "kit_collab" in loaded
    assert loaded & {"paramiko", "httpx", "dns", "rich", "typer"} == set()
