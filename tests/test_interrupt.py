"""Ctrl-C, for real: kit-collab run as its own process against the loopback sshd and this
machine's Docker engine (the demo stand-in recipe, see dockerbed.py), SIGINT sent while
`docker compose up` runs on the server; and a command whose SSH connection closes early is
stopped on the server. The fleet's interruption is shown with a stand-in action (no server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from kit_collab.apply import interrupt
from kit_collab.errors import ConnectError
from kit_collab.fleet import inventory, runner
from kit_collab.operations.report import OperationResult

from .conftest import base_profile
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _connect,
    _profile_file,
    data_root,
    images,
    profile_for,
    server_root,
    sshd,
)

FIRST_CTRL_C = "interruption demandée, kit-collab termine l'étape en cours"


def slow_start(data_root: Path, seconds: int = 8) -> None:
    """The demo web service answers its health check only ``seconds`` after it starts, so
    that `compose up --wait` runs that long on the server."""
    path = data_root / "recipes" / "demo" / "templates" / "compose.yaml.j2"
    text = path.read_text()
    old = 'command: ["httpd", "-f", "-p", "8080", "-h", "/www"]'
    assert old in text
    path.write_text(text.replace(old, f'command: ["sh", "-c", "sleep {seconds}; exec httpd '
                                      f'-f -p 8080 -h /www"]'))


def server_processes(*words: str) -> list[int]:
    """The processes of this machine (the server, here) whose command line holds every word."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w.encode() in argv for w in words):
            found.append(int(entry.name))
    return found


def compose_running() -> bool:
    """A `docker compose` of this run's commune is running on the server."""
    return bool(server_processes("compose", "-p", SLUG))


class Run:
    """kit-collab run as a process of its own, its output in a file (read while it runs)."""

    def __init__(self, tmp_path: Path, data_root: Path, *args: str,
                 env: dict[str, str] | None = None) -> None:
        self.log = tmp_path / f"run-{uuid.uuid4().hex[:6]}.txt"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                    "PYTHONUNBUFFERED": "1", "KIT_COLLAB_RECIPES": str(data_root),
                    "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
                    "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs"), "KIT_COLLAB_LANG": "fr",
                    "COLUMNS": "200", **(env or {})}
        with self.log.open("wb") as out:
            self.child = subprocess.Popen([sys.executable, "-m", "kit_collab", *args],
                                          env=self.env, stdout=out, stderr=out)

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: Callable[[], bool], seconds: float = 240) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if what():
                return
            assert self.child.poll() is None, f"kit-collab ended early:\n{self.text}"
            time.sleep(0.05)
        raise AssertionError(f"not reached in {seconds} s:\n{self.text}")

    def code(self, seconds: float = 300) -> int:
        return self.child.wait(timeout=seconds)

    def kill(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait(timeout=30)


def install_args(path: Path, sshd) -> list[str]:
    return ["install", str(path), "--yes", "--force", "--accept-host-key", sshd.fingerprint]


def _commune(server_root: Path) -> Path:
    return server_root / "communes" / SLUG


def _state(server_root: Path) -> dict:
    return json.loads((_commune(server_root) / "state.json").read_text())


def test_first_ctrl_c_during_up_finishes_the_step_then_stops_with_130(
        sshd, server_root, data_root, tmp_path, cli):
    slow_start(data_root)
    path = _profile_file(tmp_path, sshd, server_root)
    lock = _commune(server_root) / ".lock"
    run = Run(tmp_path, data_root, *install_args(path, sshd))
    try:
        run.wait_for(lambda: "Démarrage des services" in run.text and compose_running())
        run.child.send_signal(signal.SIGINT)
        # While kit-collab finishes, the lock is never gone while compose still runs.
        samples = []
        while run.child.poll() is None:
            samples.append((lock.exists(), compose_running()))
            time.sleep(0.05)
        code = run.code()
    finally:
        run.kill()
    assert code == 130, run.text
    assert FIRST_CTRL_C in run.text
    assert samples and samples[0] == (True, True)  # the remote step went on after Ctrl-C
    assert not any(running and not locked for locked, running in samples), samples
    # What to run next, and where the commune stands: up, its pending operation kept.
    assert "installation interrompue avant les tâches après installation" in run.text
    assert f"kit-collab install {path}" in run.text
    assert not compose_running() and not lock.exists()
    state = _state(server_root)
    assert state["operation"]["phase"] == "taches" and state["release"] == ""
    env = {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh")}
    status = cli("status", path, env=env)
    assert status.code == 1 and "opération interrompue" in status.text, status.text
    again = cli("install", path, "--yes", "--force", env=env)
    assert again.code == 0, again.text
    assert "Reprise" in again.text
    state = _state(server_root)
    assert state["operation"] is None and state["etapes"] == {"taches": "ok", "comptes": "ok"}


def test_second_ctrl_c_stops_at_once_keeps_the_lock_and_says_how_to_release_it(
        sshd, server_root, data_root, tmp_path, cli):
    slow_start(data_root, seconds=20)
    path = _profile_file(tmp_path, sshd, server_root)
    lock = _commune(server_root) / ".lock"
    run = Run(tmp_path, data_root, *install_args(path, sshd))
    try:
        run.wait_for(lambda: "Démarrage des services" in run.text and compose_running())
        run.child.send_signal(signal.SIGINT)
        run.wait_for(lambda: FIRST_CTRL_C in run.text, 10)
        run.child.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = run.code(10)
        took = time.monotonic() - started
    finally:
        run.kill()
    assert code == 130 and took < 5, (took, run.text)
    assert lock.exists()
    assert "conservé" in run.text and f"kit-collab unlock {path} --force" in run.text
    # The compose up it left on the server is stopped there, not orphaned.
    deadline = time.monotonic() + 15
    while compose_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not compose_running()
    # The next install from this machine takes the dead process's lock over and converges.
    env = {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_WAIT": "60"}
    again = cli("install", path, "--yes", "--force", env=env)
    assert again.code == 0, again.text
    assert _state(server_root)["operation"] is None and not lock.exists()


def test_command_whose_connection_closes_is_stopped_on_the_server(sshd, server_root,
                                                                  tmp_path):
    profile = profile_for(sshd, server_root)
    marker = f"{60 + int(uuid.uuid4().int % 1000) / 1000:.3f}"  # a unique `sleep` argument
    transport = _connect(sshd, profile, tmp_path)
    errors: list[BaseException] = []

    def runs() -> None:
        try:
            transport.run(f"sleep {marker}; echo never", timeout=120)
        except ConnectError as exc:
            errors.append(exc)

    worker = threading.Thread(target=runs)
    worker.start()
    deadline = time.monotonic() + 20
    while not server_processes("sleep", marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_processes("sleep", marker), "the command never started"
    transport.close()  # the connection ends first, as when kit-collab is killed
    worker.join(30)
    deadline = time.monotonic() + 10
    while server_processes("sleep", marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not server_processes("sleep", marker)
    assert errors  # and kit-collab's side says the connection was lost


def test_command_that_ends_leaves_no_watcher_behind(sshd, server_root, tmp_path):
    profile = profile_for(sshd, server_root)
    with _connect(sshd, profile, tmp_path) as transport:
        started = time.monotonic()
        result = transport.run("echo fini")
        assert result.stdout == b"fini\n" and result.code == 0
        assert time.monotonic() - started < 5  # its output did not wait for the watcher
        time.sleep(1.5)
        assert not [p for p in server_processes("sh") if _is_guard(p)]


def _is_guard(pid: int) -> bool:
    try:
        return b"kc_hangup" in Path(f"/proc/{pid}/cmdline").read_bytes() and \
            b"echo fini" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# --- the fleet ---------------------------------------------------------------------------


def _entries(tmp_path: Path, count: int) -> list[inventory.InventoryEntry]:
    out = []
    for index in range(count):
        data = base_profile()
        data["commune"]["nom"] = f"Commune {index}"
        data["commune"]["domaine"] = f"commune-{index}.fr"
        path = tmp_path / f"c{index}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        out.append(inventory.entry(path))
    return out


@pytest.fixture
def fresh_interrupt():
    interrupt.reset()
    yield
    interrupt.reset()


def test_fleet_ctrl_c_lets_running_communes_stop_and_starts_no_other(tmp_path,
                                                                     fresh_interrupt):
    started: list[str] = []

    def action(entry, log, connect) -> OperationResult:
        # Stands for an install: its step runs, Ctrl-C arrives meanwhile, it stops at the
        # next step boundary as deploy does.
        started.append(entry.slug)
        with interrupt.section(entry.slug, str(entry.path)):
            interrupt.request()
            interrupt.check("taches", entry.slug)
        return OperationResult()

    entries = _entries(tmp_path, 3)
    results = runner.run(entries, action, opener=lambda e: None, workers=1, log_dir=None,
                         on_step=lambda slug, text: None)
    assert started == [entries[0].slug]  # the others were never started
    assert [r.status for r in results] == [runner.INTERRUPTED] * 3
    assert "kit-collab install" in results[0].message and "non commencée" in results[1].message
    assert runner.exit_code(results) == 130
    assert {r.as_dict()["resultat"] for r in results} == {"interrompu"}
