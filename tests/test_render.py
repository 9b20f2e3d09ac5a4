"""Rendering: deterministic, strict, secrets handled, ports allocated, bundle laid out."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kit_collab.bundle import ports, render
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.model import Bundle, Secrets
from kit_collab.bundle.secrets import SYSTEM, ensure_secrets, user_ids
from kit_collab.errors import RenderError
from kit_collab.operations.prepare import write_bundle
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import PortSpec, load_recipes

from .conftest import ROOT, base_profile


def _prepare(data=None, root: Path | None = None):
    profile = Profile.model_validate(data or base_profile())
    recipes = load_recipes(root)
    secrets, created = ensure_secrets(active_recipes(profile, recipes), None,
                                      user_ids(profile), SYSTEM)
    return profile, recipes, secrets, created


def _no_draw(name: str, _length: int, _alphabet: str) -> str:
    raise AssertionError(f"{name} drawn although the secrets were complete")


def _render(profile: Profile, recipes, secrets: Secrets) -> Bundle:
    return make_bundle(profile, recipes, draw=_no_draw, secrets=secrets).bundle


def test_same_input_same_bytes() -> None:
    profile, recipes, secrets, _ = _prepare()
    first = _render(profile, recipes, secrets)
    second = _render(profile, recipes, secrets)
    assert first.release == second.release
    assert [(f.path, f.content, f.mode) for f in first.files] == [
        (f.path, f.content, f.mode) for f in second.files]


def test_changed_value_changes_release() -> None:
    profile, recipes, secrets, _ = _prepare()
    data = base_profile()
    data["commune"]["nom"] = "Autre nom"
    other = Profile.model_validate(data)
    assert _render(profile, recipes, secrets).release != _render(other, recipes, secrets).release


def test_secrets_generated_once_and_kept() -> None:
    profile, recipes, secrets, created = _prepare()
    assert "nextcloud.db_password" in created
    active = active_recipes(profile, recipes)
    again, created_again = ensure_secrets(active, secrets, [], SYSTEM)
    assert again == secrets and created_again == []
    fresh, _ = ensure_secrets(active, None, [], SYSTEM)
    assert fresh["nextcloud"]["db_password"] != secrets["nextcloud"]["db_password"]
    assert len(secrets["nextcloud"]["db_password"]) == 32


def test_missing_secret_is_an_error() -> None:
    profile, recipes, _, _ = _prepare()
    with pytest.raises(RenderError, match="secrets manquants"):
        render.render_bundle(profile, active_recipes(profile, recipes), {}, {})


def test_files_holding_secrets_are_private() -> None:
    profile, recipes, secrets, _ = _prepare()
    bundle = _render(profile, recipes, secrets)
    values = [v for bucket in secrets.values() for v in bucket.values()]
    for f in bundle.files:
        if any(v.encode() in f.content for v in values):
            assert f.mode & 0o077 == 0 or f.owner, f"{f.path} holds a secret with {f.mode:o}"


def test_manifest_and_tasks_carry_no_secret() -> None:
    profile, recipes, secrets, _ = _prepare()
    bundle = _render(profile, recipes, secrets)
    manifest = bundle.file(f"{bundle.release_dir}/kit-collab.json").content
    for bucket in secrets.values():
        for value in bucket.values():
            assert value.encode() not in manifest
            assert all(value not in " ".join(t.argv) for t in bundle.tasks)


def test_inactive_recipes_are_not_rendered() -> None:
    data = base_profile()
    data["services"] = {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                        "jitsi": {"actif": False}}
    profile, recipes, secrets, _ = _prepare(data)
    bundle = _render(profile, recipes, secrets)
    assert [name for name, _ in bundle.recipes] == ["proxy", "nextcloud"]
    assert not any("/matrix/" in f.path or "/jitsi/" in f.path for f in bundle.files)


def test_write_bundle_layout_and_modes(tmp_path: Path) -> None:
    profile, recipes, secrets, _ = _prepare()
    bundle = _render(profile, recipes, secrets)
    write_bundle(bundle, str(tmp_path))
    current = tmp_path / "communes" / bundle.slug / "current"
    assert os.readlink(current) == f"releases/{bundle.release}"
    assert (current / "compose.yaml").is_file() and (current / "proxy" / "site.caddy").is_file()
    env = current / "nextcloud" / "nextcloud.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert (tmp_path / "proxy" / "Caddyfile").is_file()


def _data_root_copy(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    return root


def test_undefined_variable_names_template_and_line(tmp_path: Path) -> None:
    root = _data_root_copy(tmp_path)
    path = root / "recipes" / "nextcloud" / "templates" / "postgres.env.j2"
    path.write_text(path.read_text() + "X={{ commune.inconnue | env }}\n")
    profile, recipes, secrets, _ = _prepare(root=root)
    with pytest.raises(RenderError) as info:
        _render(profile, recipes, secrets)
    problem = info.value.problems[0]
    assert problem.file == "recipes/nextcloud/templates/postgres.env.j2"
    assert problem.line == len(path.read_text().splitlines())
    assert "inconnue" in info.value.message


def test_value_refused_by_its_format_is_reported(tmp_path: Path) -> None:
    root = _data_root_copy(tmp_path)
    path = root / "recipes" / "nextcloud" / "templates" / "site.caddy.j2"
    path.write_text(path.read_text() + "# {{ commune.nom | caddy }}\n")
    data = base_profile()
    data["commune"]["nom"] = "Nom { avec } accolades"
    profile, recipes, secrets, _ = _prepare(data, root=root)
    with pytest.raises(RenderError) as info:
        _render(profile, recipes, secrets)
    assert info.value.problems[0].file == "recipes/nextcloud/templates/site.caddy.j2"


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    root = _data_root_copy(tmp_path)
    path = root / "recipes" / "nextcloud" / "templates" / "postgres.env.j2"
    path.write_text("X={{ commune.__class__.__mro__ | env }}\n")
    profile, recipes, secrets, _ = _prepare(root=root)
    with pytest.raises(RenderError):
        _render(profile, recipes, secrets)


def test_port_allocation_is_stable_and_disjoint() -> None:
    udp = PortSpec(name="media", protocol="udp", base=10000)
    relay = PortSpec(name="relay", protocol="udp", base=49160, size=100)
    requests = [("a", "jitsi", udp), ("a", "coturn", relay),
                ("b", "jitsi", udp), ("b", "coturn", relay)]
    first = ports.allocate(requests)
    assert first[("a", "jitsi", "media")] == 10000
    assert first[("b", "jitsi", "media")] == 10001
    assert first[("b", "coturn", "relay")] == 49260  # the next whole block
    # A later run keeps what was recorded, even if commune "a" left.
    again = ports.allocate(requests[2:], existing=first)
    assert again[("b", "jitsi", "media")] == 10001
    # Ports in use on the host are avoided.
    busy = ports.allocate([("c", "jitsi", udp)], reserved=[10000, 10001])
    assert busy[("c", "jitsi", "media")] == 10002


def test_render_draws_no_randomness() -> None:
    """Rendering is pure: the same secrets give the same output across processes."""
    profile, recipes, secrets, _ = _prepare()
    ids = {_render(profile, recipes, secrets).release for _ in range(3)}
    assert len(ids) == 1
