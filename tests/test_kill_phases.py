"""kill -9 of kit-collab at each phase of an install, for real (loopback sshd, this machine's
Docker engine, the demo stand-in recipe): `status` between the two runs says where the commune
stands, and the next `install` converges to a healthy commune whose steps all succeeded.

How each phase is reached, honestly:
- upload: a 40 MB page makes the upload last; killed once its `.partial` folder exists and
  before the release is committed (checked after the kill);
- after the switch: the demo web service starts slowly (8 s before it answers its health
  check); killed as soon as `current` points at the new release, `compose up` just started;
- during up: the same slow start; killed while `docker compose up --wait` runs on the server;
- after up, before the tasks; during provisioning; before the state is written: the
  test-only hook KIT_COLLAB_TEST_PAUSE_AT (apply/interrupt.py) makes kit-collab pause at that
  step boundary and the test kills it there. The demo bed has no accounts service, so
  "provisioning" is the pause at the start of the provisioning step: what the server holds
  then (services up, tasks run, pending operation "taches", provisioning not done) is what a
  kill in the middle of provisioning leaves, since its results are recorded only at the commit.
- during the tasks: tests/test_commit_point.py (a slow task, killed while it runs).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _profile_file,
    data_root,
    images,
    server_root,
    sshd,
)
from .test_interrupt import Run, _state, compose_running, install_args, slow_start


def _commune(server_root: Path) -> Path:
    return server_root / "communes" / SLUG


def _current(server_root: Path) -> str:
    link = _commune(server_root) / "current"
    return os.readlink(link).split("/")[1] if link.is_symlink() else ""


def _in_web(*argv: str):
    return dockerbed.docker("exec", dockerbed.container_ids(SLUG)["demo-web"], *argv,
                            check=False)


def _switched(server_root: Path) -> Callable[[], bool]:
    return lambda: bool(_current(server_root))


def _paused(run: Run, step: str) -> Callable[[], bool]:
    return lambda: f"pause de test avant {step}" in run.text


PHASES = {
    # phase: (test-only pause, what the test waits for before kill -9)
    "apres-bascule": ("", lambda run, root: _switched(root)),
    "pendant-demarrage": ("", lambda run, root: lambda: compose_running() and bool(
        _current(root))),
    "avant-taches": ("taches", lambda run, root: _paused(run, "taches")),
    "pendant-comptes": ("comptes", lambda run, root: _paused(run, "comptes")),
    "avant-etat": ("etat", lambda run, root: _paused(run, "etat")),
}


def _env(data_root: Path, tmp_path: Path) -> dict[str, str]:
    return {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
            "KIT_COLLAB_WAIT": "60"}


def _converged(server_root: Path, again) -> None:
    """The next install finished the job: committed, every step done, the service healthy."""
    assert again.code == 0, again.text
    assert "Rien à faire" not in again.text
    state = _state(server_root)
    assert state["operation"] is None and state["release"] == _current(server_root)
    assert state["etapes"] == {"taches": "ok", "comptes": "ok"}
    assert not (_commune(server_root) / ".lock").exists()
    assert _in_web("cat", "/tmp/task-done").returncode == 0  # the task ran in this container
    served = _in_web("wget", "-q", "-O-", "http://127.0.0.1:8080/").stdout
    assert "kit-collab" in served


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_install_killed_after_the_switch_is_named_by_status_and_resumed(
        phase, sshd, server_root, data_root, tmp_path, cli):
    pause, ready = PHASES[phase]
    slow_start(data_root)
    path = _profile_file(tmp_path, sshd, server_root)
    run = Run(tmp_path, data_root, *install_args(path, sshd),
              env={"KIT_COLLAB_TEST_PAUSE_AT": pause} if pause else None)
    try:
        run.wait_for(ready(run, server_root))
    finally:
        run.kill()
    # Past the switch, nothing committed: the pending operation is on the server.
    operation = _state(server_root)["operation"]
    assert operation["release"] == _current(server_root), operation
    assert _state(server_root)["release"] == ""
    # Nothing kit-collab started is left running on the server (the hang-up guard).
    deadline = time.monotonic() + 15
    while compose_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not compose_running()
    env = _env(data_root, tmp_path)
    status = cli("status", path, env=env)
    assert status.code == 1 and "opération interrompue" in status.text, status.text
    _converged(server_root, cli("install", path, "--yes", "--force", env=env))


def test_install_killed_during_the_upload_leaves_the_running_release_and_converges(
        sshd, server_root, data_root, tmp_path, cli):
    path = _profile_file(tmp_path, sshd, server_root)
    env = _env(data_root, tmp_path)
    first = cli(*install_args(path, sshd), env=env)
    assert first.code == 0, first.text
    v1 = _current(server_root)
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2") + "<!--" + "x" * 40_000_000 + "-->\n")
    releases = _commune(server_root) / "releases"
    run = Run(tmp_path, data_root, *install_args(path, sshd))
    try:
        run.wait_for(lambda: any(releases.glob("*.partial")))
    finally:
        run.kill()
    # Killed inside the upload: no new release committed, the running one untouched.
    assert [p.name for p in releases.iterdir() if not p.name.endswith(".partial")] == [v1]
    assert _current(server_root) == v1
    assert _state(server_root)["operation"] is None  # nothing was switched: nothing pending
    status = cli("status", path, env=env)
    assert status.code == 0 and v1 in status.text, status.text
    again = cli("install", path, "--yes", "--force", env=env)
    _converged(server_root, again)
    assert _current(server_root) != v1
    assert "demo v2" in _in_web("wget", "-q", "-O-", "http://127.0.0.1:8080/").stdout
