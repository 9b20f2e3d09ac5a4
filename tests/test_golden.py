"""Golden renders of the bundled examples.

After an intended template change, refresh them and read the diff:
    KIT_COLLAB_UPDATE_GOLDEN=1 python3 -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw
from kit_collab.profile.model import load_profile
from kit_collab.recipes.load import load_recipes

from .conftest import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KIT_COLLAB_UPDATE_GOLDEN") == "1"


def golden_files(example: str) -> dict[str, bytes]:
    profile = load_profile(EXAMPLES / example)
    recipes = load_recipes()
    # Secrets from a fixed source (never real ones), so that the goldens never change by chance.
    bundle = make_bundle(profile, recipes, draw=digest_draw("golden")).bundle
    stable = f"communes/{bundle.slug}/release"
    return {f.path.replace(bundle.release_dir, stable): f.content for f in bundle.files}


@pytest.mark.parametrize("example", ["petite-commune.yaml", "minimale.yaml"])
def test_golden_render(example: str) -> None:
    files = golden_files(example)
    folder = GOLDEN / example.removesuffix(".yaml")
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for path, content in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)
    expected = {str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(files) == sorted(expected), "files added or removed: refresh the goldens"
    for path, content in files.items():
        assert content == expected[path], f"{path} differs from tests/golden (see docstring)"
