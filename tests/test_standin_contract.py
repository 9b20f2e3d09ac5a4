"""The stand-ins' contract (tests/data/standin-contract.yaml): every environment variable a
recipe gives an image that the e2e replaces by a stand-in is one the upstream image reads at the
pinned tag. A variable the real image ignores is a setting that silently does nothing, and the
stand-in (which reads what it likes) cannot show it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile
from .test_recipe_jitsi import read_env

CONTRACT = Path(__file__).parent / "data" / "standin-contract.yaml"


def contract() -> dict[str, Any]:
    return dict(yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))["images"])


def allowed(entry: dict[str, Any], name: str) -> bool:
    reads = set(entry["reads"]) | {f"{v}_FILE" for v in entry.get("file_forms", [])}
    return name in reads or any(re.fullmatch(p, name) for p in entry.get("patterns", []))


def service_env(bundle: render.Bundle) -> dict[tuple[str, str], set[str]]:
    """(image without tag, service) -> the variables the rendered compose files give it,
    from its env files and its ``environment``."""
    out: dict[tuple[str, str], set[str]] = {}
    for recipe, _version in bundle.recipes:
        prefix = f"{bundle.release_dir}/{recipe}/"
        compose = bundle.file(prefix + "compose.yaml") if any(
            f.path == prefix + "compose.yaml" for f in bundle.files) else None
        if compose is None:
            continue
        services = yaml.safe_load(compose.content)["services"]
        for name, svc in services.items():
            names: set[str] = set()
            for env_file in svc.get("env_file", []):
                names |= set(read_env(bundle.file(prefix + env_file).content.decode()))
            environment = svc.get("environment") or {}
            names |= set(environment if isinstance(environment, dict)
                         else (e.split("=", 1)[0] for e in environment))
            out[(str(svc["image"]).rsplit(":", 1)[0], name)] = names
    return out


def unread(bundle: render.Bundle) -> list[str]:
    images = contract()
    return sorted(f"{service} ({image}): {name}"
                  for (image, service), names in service_env(bundle).items()
                  if image in images for name in names if not allowed(images[image], name))


@pytest.fixture(scope="module")
def full_bundle() -> render.Bundle:
    data = base_profile()
    data["services"]["nextcloud"]["collabora"] = True
    return make_bundle(Profile.model_validate(data), load_recipes(), draw=SYSTEM).bundle


def test_recipes_set_only_variables_the_upstream_images_read(full_bundle) -> None:
    assert unread(full_bundle) == []


def test_every_stand_in_image_of_the_contract_is_rendered(full_bundle) -> None:
    """The check above saw each image (a renamed image would make it vacuous)."""
    seen = {image for image, _service in service_env(full_bundle)}
    assert set(contract()) <= seen
    services = {s for _i, s in service_env(full_bundle)}
    assert {"nextcloud", "nextcloud-cron", "collabora"} <= services


def test_a_variable_the_image_ignores_is_reported(full_bundle) -> None:
    """TZ was in nextcloud.env: the Nextcloud image never reads it (its time zone is
    default_timezone in config.php)."""
    path = f"{full_bundle.release_dir}/nextcloud/nextcloud.env"
    files = tuple(f if f.path != path else replace(f, content=f.content + b'TZ="Europe/Paris"\n')
                  for f in full_bundle.files)
    broken = replace(full_bundle, files=files)
    assert unread(broken) == ["nextcloud (nextcloud): TZ"]


def test_contract_lists_its_upstream_sources() -> None:
    for image, entry in contract().items():
        assert entry["sources"] and entry["tag"] and entry["reads"], image
        pins = load_recipes()[entry["recipe"]].spec.images.values()
        assert any(p.rsplit(":", 1)[0] == image for p in pins), image
