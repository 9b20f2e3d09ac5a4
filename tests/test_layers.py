"""The shape of src/kit_collab, read from the source (AST), imports inside functions included.

- Order: each package imports only the packages before it (and itself), in the order data
  flows: the shared leaves < profile < recipes < bundle < plan < apply < check < handover <
  operations < fleet < cli.
- Purity: the leaves, profile, recipes, bundle, plan, apply/scripts and check/rules import none
  of paramiko, httpx, dnspython, rich, typer, and only pure kit-collab modules (so a pure module
  stays pure through what it imports).
- The one random draw: ``secrets`` and ``random`` are imported by bundle/secrets.py only.
- No module over 400 lines.
Each failure lists one line per violation: ``file:line: what``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "kit_collab"
LEAVES = ("errors", "constants", "i18n", "redact", "escape", "__init__")
ORDER = ("profile", "recipes", "bundle", "plan", "apply", "check", "handover", "operations",
         "fleet", "cli")
RANK = {**dict.fromkeys(LEAVES, 0), **{name: i + 1 for i, name in enumerate(ORDER)},
        "__main__": len(ORDER) + 1}  # the entry point, after the CLI
PURE = ("profile", "recipes", "bundle", "plan", "apply.scripts", "check.rules", "check.findings")
IMPURE_LIBRARIES = ("paramiko", "httpx", "dns", "rich", "typer")
RANDOM_LIBRARIES = ("secrets", "random")
RANDOM_HOME = "bundle.secrets"
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One imported module, absolute (``kit_collab.x.y`` or a library's dotted name)."""

    module: str
    line: int


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name below kit_collab, path) of every module, packages as their __init__."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(name: str, path: Path) -> Iterator[Import]:
    """Every import of the module, wherever it is (top level, function, branch)."""
    is_package = path.name == "__init__.py"
    here = ["kit_collab", *name.split(".")] if name != "__init__" else ["kit_collab"]
    base = here if is_package else here[:-1]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            parent = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join([*parent, *(node.module or "").split(".")]).strip(".")
            for alias in node.names:
                # ``from kit_collab.x import y``: y may be a module (kit_collab.x.y) or a name.
                yield Import(_submodule(target, alias.name), node.lineno)


def _submodule(target: str, name: str) -> str:
    if not target.startswith("kit_collab"):
        return target
    candidate = PACKAGE.joinpath(*target.split(".")[1:], name)
    if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
        return f"{target}.{name}"
    return target


def own(module: str) -> str | None:
    """The dotted name below kit_collab, or None for a library."""
    if module == "kit_collab":
        return "__init__"
    if module.startswith("kit_collab."):
        return module.removeprefix("kit_collab.")
    return None


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def is_pure(name: str) -> bool:
    return RANK.get(top(name)) == 0 or any(
        name == pure or name.startswith(pure + ".") for pure in PURE)


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC.parent)}:{line}"


def order_violations() -> list[str]:
    found = []
    for name, path in modules():
        rank = RANK.get(top(name))
        if rank is None:
            found.append(f"{where(path, 1)}: package {top(name)!r} has no place in the order")
            continue
        for imp in imports(name, path):
            target = own(imp.module)
            if target is None or top(target) == top(name):
                continue
            other = RANK.get(top(target))
            if other is None or other > rank or (other == rank and rank != 0):
                found.append(f"{where(path, imp.line)}: {top(name)} imports kit_collab.{target}"
                             f" ({top(target)} comes after {top(name)})")
    return found


def purity_violations() -> list[str]:
    found = []
    for name, path in modules():
        if not is_pure(name):
            continue
        for imp in imports(name, path):
            target = own(imp.module)
            if target is None and top(imp.module) in IMPURE_LIBRARIES:
                found.append(f"{where(path, imp.line)}: pure module kit_collab.{name} imports "
                             f"{imp.module}")
            elif target is not None and not is_pure(target):
                found.append(f"{where(path, imp.line)}: pure module kit_collab.{name} imports "
                             f"kit_collab.{target}, which is not pure")
    return found


def random_violations() -> list[str]:
    return [f"{where(path, imp.line)}: kit_collab.{name} imports {imp.module} (only "
            f"kit_collab.{RANDOM_HOME} draws random values)"
            for name, path in modules() if name != RANDOM_HOME
            for imp in imports(name, path) if imp.module in RANDOM_LIBRARIES]


def size_violations() -> list[str]:
    found = []
    for _name, path in modules():
        count = len(path.read_text("utf-8").splitlines())
        if count > MAX_LINES:
            found.append(f"{where(path, 1)}: {count} lines (at most {MAX_LINES})")
    return found


def _report(violations: list[str]) -> str:
    return f"{len(violations)} violation(s):\n" + "\n".join(violations)


def test_each_package_imports_only_earlier_ones() -> None:
    violations = order_violations()
    assert not violations, _report(violations)


def test_pure_packages_import_no_io_or_ui_library() -> None:
    violations = purity_violations()
    assert not violations, _report(violations)


def test_random_values_drawn_only_in_bundle_secrets() -> None:
    violations = random_violations()
    assert not violations, _report(violations)


def test_no_module_over_400_lines() -> None:
    violations = size_violations()
    assert not violations, _report(violations)


def test_the_checks_see_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The reader itself: an import inside a function and a relative one are both seen."""
    package = tmp_path / "kit_collab" / "plan"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    module = package / "facts.py"
    module.write_text("from . import changes\n\ndef f():\n    import typer\n"
                      "    from ..cli import app\n    return typer, app\n")
    found = {(imp.module, imp.line) for imp in imports("plan.facts", module)}
    assert ("typer", 4) in found
    assert ("kit_collab.cli", 5) in found or ("kit_collab.cli.app", 5) in found
    assert any(m.startswith("kit_collab.plan") and line == 1 for m, line in found)
