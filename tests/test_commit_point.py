"""Installs are transactions, for real (sshd on loopback, Docker, the demo recipe): an install
killed after the switch, a failed task, a cut upload, a rollback that cannot come back."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from kit_collab.apply import deploy
from kit_collab.errors import DeployError
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _connect,
    _install,
    _profile_file,
    data_root,
    images,
    profile_for,
    server_root,
    sshd,
)

TASK = "recipes/demo/recipe.yaml"


def _task(data_root: Path, shell: str) -> None:
    """The demo task replaced by ``shell`` (run in demo-web, $DEMO_TOKEN set)."""
    path = data_root / TASK
    text = path.read_text()
    old = 'argv: [sh, -c, "echo \\"$DEMO_TOKEN\\" | wc -c > /tmp/task-done"]'
    assert old in text
    path.write_text(text.replace(old, f"argv: [sh, -c, {json.dumps(shell)}]"))


def _state(server_root: Path) -> dict:
    return json.loads((server_root / "communes" / SLUG / "state.json").read_text())


def _current(server_root: Path) -> str:
    return os.readlink(server_root / "communes" / SLUG / "current").split("/")[1]


def _in_web(*argv: str) -> subprocess.CompletedProcess[str]:
    return dockerbed.docker("exec", dockerbed.container_ids(SLUG)["demo-web"], *argv,
                            check=False)


def test_install_killed_during_tasks_is_resumed_not_nothing_to_do(sshd, server_root,
                                                                  data_root, tmp_path, cli):
    _task(data_root, '[ -f /tmp/fast ] || sleep 60; echo done > /tmp/task-done')
    path = _profile_file(tmp_path, sshd, server_root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs")}
    child = subprocess.Popen(
        [sys.executable, "-m", "kit_collab", "install", str(path), "--yes", "--force",
         "--accept-host-key", sshd.fingerprint], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    state_file = server_root / "communes" / SLUG / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if state_file.exists() and '"phase": "taches"' in state_file.read_text():
            break
        time.sleep(0.2)
    assert child.poll() is None, "the install ended before its tasks"
    time.sleep(1)  # the tasks are running on the server
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    # After the switch: `current` moved, the state is not committed and says so.
    pending = _state(server_root)["operation"]
    assert pending["release"] == _current(server_root) and pending["phase"] == "taches"
    assert _state(server_root)["release"] == ""
    cli_env = {k: env[k] for k in ("KIT_COLLAB_RECIPES", "KIT_COLLAB_KNOWN_HOSTS")}
    status = cli("status", path, env=cli_env)
    assert status.code == 1 and "opération interrompue" in status.text, status.text
    plan = json.loads(cli("plan", path, "--json", env=cli_env).out)["communes"][0]["rapport"]
    assert plan["rien_a_faire"] is False
    _in_web("rm", "-f", "/tmp/task-done")
    _in_web("touch", "/tmp/fast")
    # The next install takes over the dead process's lock and finishes the job.
    again = cli("install", path, "--yes", "--force", env=cli_env)
    assert again.code == 0, again.text
    assert "Rien à faire" not in again.text and "Reprise" in again.text
    state = _state(server_root)
    assert state["operation"] is None and state["release"] == _current(server_root)
    assert state["etapes"] == {"taches": "ok", "comptes": "ok"}
    assert _in_web("cat", "/tmp/task-done").stdout.strip() == "done"
    assert cli("status", path, env=cli_env).code == 0


def test_failed_task_is_retried_by_the_next_install(sshd, server_root, data_root, tmp_path):
    _task(data_root, '[ -f /tmp/allow ] && echo done > /tmp/task-done')
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    assert first.applied and any("en échec" in w for w in first.warnings)
    assert _state(server_root)["etapes"]["taches"] == "echec"
    _in_web("touch", "/tmp/allow")
    second = _install(sshd, profile, tmp_path, data_root)
    assert second.applied and second.plan.resume and not second.plan.upload
    assert _state(server_root)["etapes"]["taches"] == "ok"
    assert _in_web("cat", "/tmp/task-done").stdout.strip() == "done"
    third = _install(sshd, profile, tmp_path, data_root)
    assert not third.applied and third.plan.noop


class StopsAtLastMember:
    """Wraps a transport: the release upload's stream ends cleanly at the boundary before its
    last tar member, as when a connection drops between two members."""

    def __init__(self, inner) -> None:
        self.inner = inner

    @property
    def round_trips(self) -> int:
        return self.inner.round_trips

    def run(self, script, *, stdin=None, **kwargs):
        if "tar -x -f -" in script and "upload-incomplete" in script:
            with tarfile.open(fileobj=io.BytesIO(stdin)) as tar:
                last = tar.getmembers()[-1].offset
            stdin = stdin[:last]
        return self.inner.run(script, stdin=stdin, **kwargs)


def test_upload_cut_at_a_tar_member_boundary_is_not_committed(sshd, server_root, data_root,
                                                              tmp_path):
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))
    with _connect(sshd, profile, tmp_path) as transport, pytest.raises(DeployError) as info:
        deploy.install(StopsAtLastMember(transport), profile, load_recipes(data_root),
                       wait_seconds=60)
    assert "incomplet" in info.value.message
    releases = server_root / "communes" / SLUG / "releases"
    assert _current(server_root) == first.bundle.release
    assert sorted(p.name for p in releases.iterdir() if not p.name.endswith(".partial")) == [
        first.bundle.release]
    # The next run sends it again and converges; nothing of the cut upload is left.
    second = _install(sshd, profile, tmp_path, data_root)
    assert second.applied and second.plan.upload
    assert _current(server_root) == second.bundle.release
    assert not list(releases.glob("*.partial"))
    served = _in_web("wget", "-q", "-O-", "http://127.0.0.1:8080/").stdout
    assert "demo v2" in served


def test_current_with_altered_files_is_not_up_to_date(sshd, server_root, data_root, tmp_path):
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    index = server_root / "communes" / SLUG / "releases" / first.bundle.release / "demo" / \
        "index.html"
    index.write_text("abîmé\n")
    again = _install(sshd, profile, tmp_path, data_root)
    assert again.applied and again.plan.upload and again.plan.changed == ("demo/index.html",)
    assert "abîmé" not in index.read_text()


def test_rollback_to_a_release_that_cannot_become_healthy_exits_1(sshd, server_root,
                                                                  data_root, tmp_path, cli):
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_WAIT": "8"}
    assert cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
               env=env).code == 0
    v1 = _current(server_root)
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))
    assert cli("install", path, "--yes", "--force", env=env).code == 0
    # The previous release can no longer start healthy (its web server on another port).
    compose = server_root / "communes" / SLUG / "releases" / v1 / "demo" / "compose.yaml"
    text = compose.read_text()
    assert "http://127.0.0.1:8080/" in text
    compose.write_text(text.replace("http://127.0.0.1:8080/", "http://127.0.0.1:9090/"))
    result = cli("rollback", path, "--yes", env=env)
    assert result.code == 1, result.text
    assert "n'est PAS revenue" in result.err and "remise en place" not in result.text
    assert "demo-web" in result.err  # its logs or its name, to see why
