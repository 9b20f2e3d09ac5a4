"""Small helpers shared by the operations: loading a profile with the recipes."""

from __future__ import annotations

from pathlib import Path

from kit_collab.profile.model import Profile, load_profile
from kit_collab.recipes.load import RecipeSet, load_recipes


def load(profile_path: Path) -> tuple[Profile, RecipeSet]:
    """The profile (over its folder's defaults) and the recipes."""
    return load_profile(profile_path), load_recipes()

