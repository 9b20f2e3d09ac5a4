"""Pinned images read as versions: their age and the advisories they are still exposed to.

Pure: dates come from recipe.yaml (``released:``), "today" from the caller; no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from kit_collab.recipes.load import Advisory, Recipe

STALE_AFTER_DAYS = 120
_NUMBERS = re.compile(r"\d+(?:\.\d+)*")


def tag_of(image: str) -> str:
    """The tag of an image reference ("" when there is none): ``redis:7.4.9`` -> ``7.4.9``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def version_key(text: str) -> tuple[int, ...]:
    """The first dotted number of a tag or version, as a tuple to compare:
    ``v1.157.1`` -> (1, 157, 1); ``34.0.2-apache`` -> (34, 0, 2); ``stable-11146-2`` ->
    (11146,). Empty when it holds no number."""
    found = _NUMBERS.search(text)
    return tuple(int(p) for p in found.group(0).split(".")) if found else ()


def older_than(pinned: str, fixed_in: str) -> bool:
    """Whether the pinned tag is an earlier version than ``fixed_in`` (unknown -> False)."""
    have, fixed = version_key(pinned), version_key(fixed_in)
    if not have or not fixed:
        return False
    width = max(len(have), len(fixed))
    return have + (0,) * (width - len(have)) < fixed + (0,) * (width - len(fixed))


@dataclass(frozen=True)
class PinAge:
    key: str
    image: str
    released: date
    days: int


def ages(recipe: Recipe, today: date) -> list[PinAge]:
    """Each pinned image with a recorded release date, and its age in days."""
    spec = recipe.spec
    return [PinAge(key, spec.images[key], when, (today - when).days)
            for key, when in sorted(spec.released.items()) if key in spec.images]


def stale(recipe: Recipe, today: date, after: int = STALE_AFTER_DAYS) -> list[PinAge]:
    return [age for age in ages(recipe, today) if age.days > after]


def undated(recipe: Recipe) -> list[str]:
    """Image keys without a release date, then dates naming no image (prefixed ``?``)."""
    spec = recipe.spec
    return [*(k for k in spec.images if k not in spec.released),
            *(f"?{k}" for k in spec.released if k not in spec.images)]


def exposed(recipe: Recipe, severities: tuple[str, ...]) -> list[tuple[Advisory, str]]:
    """The recipe's advisories of these severities that its pins are still exposed to,
    with the pinned image; an advisory naming no image of the recipe is reported too."""
    out = []
    for advisory in recipe.spec.advisories:
        if advisory.severity not in severities:
            continue
        image = recipe.spec.images.get(advisory.image)
        if image is None or older_than(tag_of(image), advisory.fixed_in):
            out.append((advisory, image or ""))
    return out
