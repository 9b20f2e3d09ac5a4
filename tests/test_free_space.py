"""Free space is read with the facts; a plan the server cannot hold is refused before the
lock and the upload, with what is free and what is needed; ``unlock --force`` works even
when the server's files cannot be read. For real: the server root on a small tmpfs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit_collab.apply.scripts import facts as facts_script
from kit_collab.errors import DeployError
from kit_collab.plan.facts import MARGIN_KB, PULL_KB, Facts, check_space

from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    SLUG,
    _profile_file,
    data_root,
    images,
    sshd,
)
from .test_secrets_guard import _env, _tree

MIB = 1024


def test_a_plan_that_does_not_fit_names_free_and_needed_space() -> None:
    facts = Facts(disk_free_kb=30 * MIB, docker_free_kb=50 * 1024 * MIB,
                  docker_same_disk=False)
    with pytest.raises(DeployError) as info:
        check_space(facts, 1024 * 1024, pulls=False, root="/srv/kc")
    assert "30 Mio libres" in info.value.message and "65 Mio nécessaires" in info.value.message
    assert "/srv/kc" in info.value.message and "rien n'a été changé" in info.value.message
    check_space(facts, 0, pulls=True, root="/srv/kc")  # nothing to upload, Docker has room


def test_images_to_pull_need_the_fixed_minimum_on_dockers_data_root() -> None:
    small = Facts(disk_free_kb=10 * 1024 * MIB, docker_free_kb=PULL_KB - 1,
                  docker_same_disk=False)
    with pytest.raises(DeployError, match="données de Docker"):
        check_space(small, 1000, pulls=True, root="/srv/kc")
    shared = Facts(disk_free_kb=PULL_KB + MARGIN_KB - 1, docker_same_disk=True)
    with pytest.raises(DeployError, match="Gio nécessaires"):
        check_space(shared, 1000, pulls=True, root="/srv/kc")  # one disk: needs add up


def test_unknown_free_space_is_not_refused() -> None:
    check_space(Facts(), 10**9, pulls=True, root="/srv/kc")


def test_facts_read_both_disks_and_survive_garbage() -> None:
    facts = facts_script.parse("disk_kb=2048\ndisk_dev=12\ndocker_kb=4096\ndocker_dev=13\n"
                               "mem_kb=pas-un-nombre\nend=ok")
    assert (facts.disk_free_kb, facts.docker_free_kb, facts.docker_same_disk) == (
        2048, 4096, False)
    assert facts.mem_mb == 0


# --- for real: a small tmpfs as the server root ---------------------------------------------

@pytest.fixture
def small_root(tmp_path: Path, images) -> Iterator[Path]:  # noqa: F811
    root = tmp_path / "srv"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m,mode=755", "tmpfs", str(root)],
                   check=True)
    try:
        (root / ".bootstrap").write_text("1\n")
        yield root
    finally:
        dockerbed.compose_down(SLUG)
        subprocess.run(["umount", "-l", str(root)], check=False)


def _fill(root: Path, leave_kb: int) -> Path:
    """Fill the file system of ``root`` but ``leave_kb``."""
    import os

    stat = os.statvfs(root)
    free_kb = stat.f_bavail * stat.f_frsize // 1024
    filler = root / "remplissage"
    with filler.open("wb") as out:
        out.truncate(0)
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1024",
                    f"count={max(0, free_kb - leave_kb)}"], check=False, capture_output=True)
    return filler


def test_nearly_full_disk_install_refused_before_the_lock_secrets_and_release_intact(
        sshd, small_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    path = _profile_file(tmp_path, sshd, small_root)
    env = _env(data_root, tmp_path)
    assert cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
               env=env).code == 0
    commune = small_root / "communes" / SLUG
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))  # a change to install
    filler = _fill(small_root, 8 * MIB)
    before = _tree(commune)
    ids = dockerbed.container_ids(SLUG)
    result = cli("install", path, "--yes", "--force", env=env)
    assert result.code == 1, result.text
    assert "espace disque insuffisant" in result.text and "Mio libres" in result.text
    assert "Traceback" not in result.text
    assert _tree(commune) == before  # no lock, no upload, secrets and release as they were
    assert dockerbed.container_ids(SLUG) == ids
    # Space freed: the change installs.
    filler.unlink()
    assert cli("install", path, "--yes", "--force", env=env).code == 0


def test_unlock_force_works_on_a_full_disk_with_unreadable_facts(
        sshd, small_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    commune = small_root / "communes" / SLUG
    (commune / ".lock").mkdir(parents=True)
    (commune / "state.json").write_text("{tronqu")  # cut by the full disk
    _fill(small_root, 0)
    path = _profile_file(tmp_path, sshd, small_root)
    env = _env(data_root, tmp_path)
    result = cli("unlock", path, "--force", "--accept-host-key", sshd.fingerprint, env=env)
    assert result.code == 0, result.text
    assert not (commune / ".lock").exists()
