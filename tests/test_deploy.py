"""Install over SSH for real: a real OpenSSH server on loopback, the machine's Docker engine
with stand-in images (see dockerbed.py), a server root in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit_collab import deploy
from kit_collab.errors import ConnectError, DeployError, LockError
from kit_collab.profile import Profile
from kit_collab.recipes import load_recipes
from kit_collab.transport import connect

from . import dockerbed
from .conftest import ROOT
from .sshd import SUDO_USER, Sshd, running_sshd, sudo_test_users

SLUG = "saint-essai-fr"


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    dockerbed.require_docker()
    ids = dockerbed.build_images()
    yield ids
    dockerbed.cleanup([SLUG], ids)


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd() as server:
        yield server


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """The real proxy recipe plus the demo stand-in recipe."""
    root = tmp_path / "data"
    for kind in ("recipes", "templates"):
        shutil.copytree(ROOT / kind / "proxy", root / kind / "proxy")
        shutil.copytree(ROOT / "tests" / "data" / kind / "demo", root / kind / "demo")
    return root


@pytest.fixture
def server_root(tmp_path: Path, images) -> Iterator[Path]:
    root = tmp_path / "srv"
    root.mkdir()
    root.chmod(0o755)
    (root / ".bootstrap").write_text("1\n")  # this engine exists: no bootstrap on the CI host
    yield root
    dockerbed.compose_down(SLUG)


def profile_for(sshd: Sshd, server_root: Path, user: str = "root") -> Profile:
    return Profile.model_validate({
        "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                    "email_contact": "mairie@saint-essai.fr"},
        "serveur": {**sshd.serveur(user).model_dump(), "racine": str(server_root),
                    "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
    })


def _connect(sshd: Sshd, profile: Profile, tmp_path: Path):
    return connect(profile.serveur, accept_host_key=sshd.fingerprint,
                   known_hosts_file=tmp_path / "known_hosts")


def _install(sshd, profile, tmp_path, data_root, **kwargs):
    with _connect(sshd, profile, tmp_path) as transport:
        return deploy.install(transport, profile, load_recipes(data_root), wait_seconds=60,
                              **kwargs)


def test_first_install_then_noop_then_one_change(sshd, server_root, data_root, tmp_path):
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    assert first.applied
    commune = server_root / "communes" / SLUG
    release = commune / "releases" / first.bundle.release
    assert os.readlink(commune / "current") == f"releases/{first.bundle.release}"
    state = json.loads((commune / "state.json").read_text())
    assert state["release"] == first.bundle.release and state["recettes"]["demo"]
    secrets = commune / "secrets" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and secrets.stat().st_uid == 0
    assert stat.S_IMODE(secrets.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((release / "demo" / "demo.env").stat().st_mode) == 0o600
    audit = (server_root / "log" / "audit.log").read_text()
    assert f"install {SLUG} {first.bundle.release} ok" in audit
    ids = dockerbed.container_ids(SLUG)
    assert set(ids) == {"demo-web", "demo-worker"}
    token = json.loads(secrets.read_text())["demo"]["token"]
    task_out = dockerbed.docker("exec", ids["demo-web"], "cat", "/tmp/task-done").stdout
    assert task_out.strip() == str(len(token) + 1)  # the task saw the secret via env

    # An immediate re-run: nothing sent, nothing restarted, one command round trip.
    before = {p: p.stat().st_mtime_ns for p in commune.rglob("*") if p.is_file()}
    again = _install(sshd, profile, tmp_path, data_root)
    assert not again.applied and again.plan.noop
    assert again.round_trips <= 3
    assert again.round_trips == 1
    assert {p: p.stat().st_mtime_ns for p in commune.rglob("*") if p.is_file()} == before
    assert dockerbed.container_ids(SLUG) == ids

    # One template change: only that file is sent, only its service is recreated.
    page = data_root / "templates" / "demo" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))
    third = _install(sshd, profile, tmp_path, data_root)
    # The manifest names the release, so it changes with any change.
    assert third.plan.changed == ("demo/index.html", "kit-collab.json")
    assert not third.plan.added and not third.plan.removed
    assert third.plan.restart == ("demo-web",)
    new_ids = dockerbed.container_ids(SLUG)
    assert new_ids["demo-worker"] == ids["demo-worker"]
    assert new_ids["demo-web"] != ids["demo-web"]
    served = dockerbed.docker("exec", new_ids["demo-web"], "wget", "-q", "-O-",
                              "http://127.0.0.1:8080/").stdout
    assert "demo v2" in served
    # The previous release is kept for a rollback.
    assert (commune / "releases" / first.bundle.release).is_dir()
