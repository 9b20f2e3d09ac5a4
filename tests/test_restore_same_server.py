"""``kit-collab restore`` onto the SAME server, its data round for real: this machine's restic
and Docker engine, a real sshd on loopback, the ``registre`` stand-in recipe with a real
PostgreSQL (its database and its data volume), a disk repository.

1. Rows and files changed after a backup (one file deleted, one added) come back exactly as
   at the backup; a safety snapshot (tag ``avant-restauration``) holds what was replaced;
   ``status`` is green.
2. A restore killed (kill -9 of kit-collab and of the server-side script) once its data round
   has begun: the next ``restore`` converges to the same result, nothing is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# ruff: noqa: F811  (fixtures imported by name)
from . import dockerbed
from .conftest import Result
from .test_backup_restic import (  # noqa: F401  (fixtures)
    _commune,
    _pids_of,
    _profile_with_backups,
    _restic,
    _sql,
    _volume,
    restic,
)
from .test_deploy import SLUG, images, server_root, sshd  # noqa: F401  (fixtures)
from .test_interrupt import Run
from .test_snapshot import data_root, pg_images  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("restic")
ROWS = ("délibération n°41", "délibération n°42", "délibération n°43")
PV = "procès-verbal de la séance du 3 décembre\n"
ANNEXE = b"annexe budgetaire " * 4096
SAFETY = "avant-restauration"


def _env(tmp_path: Path, data_root: Path) -> dict[str, str]:
    return {"KIT_COLLAB_RECIPES": str(data_root),
            "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "COLUMNS": "200"}


def _rows() -> list[str]:
    return _sql("SELECT * FROM notes ORDER BY 1").splitlines()


def _files() -> dict[str, bytes]:
    root = _volume("registre_fichiers")
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _backed_up(sshd, server_root, data_root, tmp_path, cli) -> tuple[Path, Path, dict]:
    """Installed through the CLI, rows and files written, one backup taken: (profile, repo,
    the files as backed up)."""
    repo = tmp_path / "depot"
    path = _profile_with_backups(tmp_path, sshd, server_root, repo)
    env = _env(tmp_path, data_root)
    installed = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                    env=env)
    assert installed.code == 0, installed.text
    _sql("DELETE FROM notes")
    _sql("INSERT INTO notes VALUES ('délibération n°41'), ('délibération n°42'), "
         "('délibération n°43')")
    files = _volume("registre_fichiers")
    (files / "pv.txt").write_text(PV, encoding="utf-8")
    (files / "annexes").mkdir(exist_ok=True)
    (files / "annexes" / "budget.bin").write_bytes(ANNEXE)
    (files / "scan.bin").write_bytes(os.urandom(8 * 1024 * 1024))  # a data round that lasts
    before = _files()
    done = cli("backup", path, env=env)
    assert done.code == 0, done.text
    return path, repo, before


def _changed_after_the_backup() -> None:
    _sql("UPDATE notes SET texte = 'délibération annulée' WHERE texte = 'délibération n°42'")
    _sql("DELETE FROM notes WHERE texte = 'délibération n°41'")
    _sql("INSERT INTO notes VALUES ('écrit après la sauvegarde')")
    files = _volume("registre_fichiers")
    (files / "pv.txt").write_text("procès-verbal RÉÉCRIT après la sauvegarde\n")
    (files / "annexes" / "budget.bin").unlink()
    (files / "apres.txt").write_text("fichier créé après la sauvegarde")


def _assert_as_at_the_backup(before: dict[str, bytes]) -> None:
    assert _rows() == sorted(ROWS)
    assert _files() == before
    assert not (_volume("registre_fichiers") / "apres.txt").exists()


def _safety_snapshots(server_root: Path, repo: Path) -> list[dict[str, Any]]:
    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    return [s for s in snaps if SAFETY in (s.get("tags") or [])]


def _assert_safety_holds_the_changes(server_root: Path, repo: Path) -> None:
    [safety] = _safety_snapshots(server_root, repo)
    assert f"commune={SLUG}" in safety["tags"]
    volume = _volume("registre_fichiers")
    pv = _restic(server_root, str(repo), "dump", safety["id"], str(volume / "pv.txt")).stdout
    assert "RÉÉCRIT après la sauvegarde" in pv
    dump = _restic(server_root, str(repo), "dump", safety["id"],
                   f"{_commune(server_root)}/sauvegarde/staging/postgres/registre-db.sql"
                   ).stdout
    assert "écrit après la sauvegarde" in dump


def _healthy(cli: Callable[..., Result], path: Path, env: dict[str, str],
             server_root: Path) -> None:
    status = cli("status", path, env=env)
    assert status.code == 0, status.text
    assert not (_commune(server_root) / "restauration.json").exists()  # the restore is done


def test_restore_on_the_same_server_brings_rows_and_files_back_and_keeps_a_safety_snapshot(
        sshd, server_root, data_root, tmp_path, cli):
    path, repo, before = _backed_up(sshd, server_root, data_root, tmp_path, cli)
    env = _env(tmp_path, data_root)
    _changed_after_the_backup()
    assert _rows() != sorted(ROWS) and _files() != before
    restored = cli("restore", path, "--yes", env=env)
    assert restored.code == 0, restored.text
    _assert_as_at_the_backup(before)
    _assert_safety_holds_the_changes(server_root, repo)
    _healthy(cli, path, env, server_root)
    assert dockerbed.container_ids(SLUG)["registre-db"]  # the services run again


def _ours(word: str) -> list[int]:
    """This run's processes showing ``word`` (its commune's name is unique to the run)."""
    return [pid for pid in _pids_of(word) if SLUG in _cmdline(pid)]


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    return ""


def _staging(volume: str) -> Path:
    return _volume(volume).parent / ".kit-collab-restauration"


def _reached(run: Run, moment: str) -> Callable[[], bool]:
    """``volume``: restic is reading the data volume back (its folder beside ``_data``);
    ``bases``: the volume is refilled and the data round goes on (the database recreated
    and read from its dump, the services started)."""
    def reached() -> bool:
        if "Restauration des volumes" not in run.text or not _ours("data-restored"):
            return False
        if moment == "volume":
            return _staging("registre_fichiers").is_dir()
        pv = _volume("registre_fichiers") / "pv.txt"
        return (not _staging("registre_fichiers").exists() and pv.exists()
                and pv.read_text("utf-8") == PV)
    return reached


def _gone(pids: list[int], seconds: float = 60) -> float:
    """Seconds until none of ``pids`` runs any more."""
    start = time.monotonic()
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        assert time.monotonic() - start < seconds, f"still running: {pids}"
        time.sleep(0.05)
    return round(time.monotonic() - start, 2)


@pytest.mark.parametrize(("killed", "moment"), [("kit-collab", "volume"),
                                                ("kit-collab", "bases"),
                                                ("serveur", "volume")])
def test_restore_killed_during_its_data_round_converges_on_the_next_run(
        sshd, server_root, data_root, tmp_path, cli, killed, moment):
    """kit-collab: kill -9 of the CLI (the secretary's computer or connection lost): the
    server's guard stops the data round (TERM), which frees the commune's lock. serveur:
    kill -9 of the server-side script and of restic (what a crash leaves): the lock stays,
    and the next restore takes it over, its holder being a kit-collab of this machine that
    is gone (as install does). Either way the next restore converges."""
    path, repo, before = _backed_up(sshd, server_root, data_root, tmp_path, cli)
    env = _env(tmp_path, data_root)
    _changed_after_the_backup()
    run = Run(tmp_path, data_root, "restore", str(path), "--yes", env=env)
    try:
        run.wait_for(_reached(run, moment), 240)
        server_side = _ours("data-restored")
    finally:
        if killed == "serveur":
            for pid in _ours("data-restored") + _ours("restic\0restore\0"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        run.kill()
    assert server_side, "the server-side data round was not running when killed"
    stopped = _gone(server_side)
    print(f"killed ({killed}) at {moment}: data round stopped in {stopped} s, "
          f"volume holds {sorted(_files())}")
    assert (_commune(server_root) / "restauration.json").exists()  # the restore is unfinished
    assert len(_safety_snapshots(server_root, repo)) == 1

    lock = _commune(server_root) / ".lock"
    assert lock.exists() is (killed == "serveur")  # TERM from the guard frees it
    again = cli("restore", path, "--yes", env=env)
    audit = (server_root / "log" / "audit.log").read_text()
    assert (f" unlock {SLUG} " in audit and "abandonne" in audit) is (killed == "serveur")
    assert again.code == 0, again.text
    _assert_as_at_the_backup(before)
    _assert_safety_holds_the_changes(server_root, repo)  # still there, and only one
    _healthy(cli, path, env, server_root)
    assert not _staging("registre_fichiers").exists()
