"""Backups for real: restic (Debian's, on this machine), a real sshd on loopback, this
machine's Docker engine with a REAL PostgreSQL (the ``registre`` stand-in recipe of the
snapshot tests: its database and its volume), to a local disk repository and to a real
restic REST server (``rclone serve restic`` on loopback, with a password file).

Faults: wrong repository password, a full destination (a small tmpfs), an unreachable
server, a backup killed mid-run; each time the previous snapshots stay intact, ``restic
check`` passes and the next run completes. No secret in any output nor in any process's
command line while the backup runs.

restic here is 0.14 (Debian 12): everything used also exists in 0.16 and 0.18 (see
apply/scripts/backup.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# ruff: noqa: F811  (fixtures imported by name)
from kit_collab.apply import backup as apply_backup
from kit_collab.apply import deploy
from kit_collab.operations import backup as backup_op
from kit_collab.operations.report import QuietReporter
from kit_collab.plan import changes
from kit_collab.profile.backup_model import Sauvegardes
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .conftest import require_tool
from .sshd import keygen
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _connect,
    images,
    profile_for,
    server_root,
    sshd,
)
from .test_snapshot import data_root, pg_images  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("restic")
NOTE = "délibération du conseil municipal n°42"
INSERT_NOTE = "INSERT INTO notes VALUES ('délibération du conseil municipal n°42')"


@pytest.fixture(scope="module")
def restic() -> str:
    return require_tool("restic")


def _with_backups(profile: Profile, section: dict[str, Any]) -> Profile:
    return profile.model_copy(update={"sauvegardes": Sauvegardes.model_validate(section)})


def _commune(server_root: Path) -> Path:
    return server_root / "communes" / SLUG


def _installed(sshd, server_root, data_root, tmp_path, section) -> tuple[Profile, Any]:
    profile = _with_backups(profile_for(sshd, server_root), section)
    recipes = load_recipes(data_root)
    with _connect(sshd, profile, tmp_path) as transport:
        outcome = deploy.install(transport, profile, recipes, wait_seconds=60)
        versions = dict(outcome.bundle.recipes)
        data = {r: d for r, d in changes.data_of(recipes).items() if r in versions}
        plan = apply_backup.plan_for(profile, data, versions)
        apply_backup.setup(transport, profile, plan, None)
    _sql(INSERT_NOTE)
    return profile, plan


def _sql(query: str) -> str:
    db = dockerbed.container_ids(SLUG)["registre-db"]
    return dockerbed.docker("exec", db, "psql", "-X", "-tA", "-U", "registre", "-d", "registre",
                            "-c", query).stdout.strip()


def _volume(name: str) -> Path:
    out = dockerbed.docker("volume", "inspect", "--format", "{{.Mountpoint}}",
                           f"{SLUG}_{name}").stdout.strip()
    return Path(out)


def _restic(server_root: Path, repo: str, *args: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESTIC_REPOSITORY": repo,
           "RESTIC_PASSWORD_FILE": str(_commune(server_root) / "secrets" / "restic.pass"),
           "RESTIC_CACHE_DIR": str(server_root / "restic-cache")}
    result = subprocess.run(["restic", *args], capture_output=True, text=True, env=env,
                            timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _backup(sshd, profile, tmp_path, progress: list[tuple[int, int]] | None = None
            ) -> dict[str, Any]:
    with _connect(sshd, profile, tmp_path) as transport:
        return apply_backup.backup_now(
            transport, profile, (lambda d, t: progress.append((d, t))) if progress is not None
            else None)


def _last(server_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_commune(server_root) / "sauvegarde" / "derniere.json")
                                      .read_text())
    return data


def test_backup_to_a_disk_holds_the_dump_the_volume_the_secrets_and_the_release(
        sshd, server_root, data_root, tmp_path):
    repo = tmp_path / "depot"
    profile, plan = _installed(sshd, server_root, data_root, tmp_path,
                               {"type": "disque", "adresse": str(repo)})
    secrets = _commune(server_root) / "secrets"
    assert oct((secrets / "restic.pass").stat().st_mode & 0o777) == "0o600"
    assert len((secrets / "restic.pass").read_text().strip()) == 32
    (_volume("registre_fichiers") / "compte-rendu.txt").write_text("séance du 3 décembre")
    progress: list[tuple[int, int]] = []
    first = _backup(sshd, profile, tmp_path, progress)
    assert first["ok"] is True and first["erreur"] is None and first["snapshot"]
    assert first["release"] == os.readlink(_commune(server_root) / "current").split("/")[1]
    assert progress and progress[-1][1] > 0  # restic's JSON status reached the callback
    audit = (server_root / "log" / "audit.log").read_text()
    assert f" commande sauvegarde {first['release']} ok {first['snapshot']}\n" in audit

    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    assert len(snaps) == 1 and snaps[0]["hostname"] == SLUG
    assert {"kit-collab", f"commune={SLUG}", f"release={first['release']}",
            "recette=registre@1.0.0+1"} <= set(snaps[0]["tags"])
    dump = _restic(server_root, str(repo), "dump", "latest",
                   f"{plan.staging}/postgres/registre-db.sql").stdout
    assert NOTE in dump
    listing = _restic(server_root, str(repo), "ls", "latest").stdout
    assert f"{SLUG}_registre_fichiers/_data/compte-rendu.txt" in listing
    assert f"{_commune(server_root)}/secrets/restic.pass" in listing
    assert f"{_commune(server_root)}/state.json" in listing
    assert f"{_commune(server_root)}/releases/{first['release']}/compose.yaml" in listing

    # Nothing changed: the second run adds a small fraction of the first.
    second = _backup(sshd, profile, tmp_path)
    assert second["ok"] and second["snapshot"] != first["snapshot"]
    assert second["octets_ajoutes"] < first["octets_ajoutes"]
    with _connect(sshd, profile, tmp_path) as transport:
        listed = apply_backup.snapshots(transport, profile)
        checked = apply_backup.verify_now(transport, profile)
    # forget --keep-daily: of two snapshots of one day, the latest is kept.
    assert [s["id"] for s in listed] == [second["snapshot"]]
    assert all(s["release"] == first["release"] and s["taille"] for s in listed)
    assert checked["ok"] is True and checked["partie"] == "10%"
    _restic(server_root, str(repo), "check")

    # A damaged pack (same size, other bytes: only reading the data finds it) fails the
    # check loudly: an error, written where `check` reads it.
    for pack in (repo / "data").glob("*/*"):
        pack.chmod(0o600)
        raw = bytearray(pack.read_bytes())
        middle = len(raw) // 2
        raw[middle:middle + 64] = bytes(b ^ 0xFF for b in raw[middle:middle + 64])
        pack.write_bytes(bytes(raw))
    with _connect(sshd, profile, tmp_path) as transport, \
            pytest.raises(apply_backup.BackupError) as info:
        apply_backup.verify_now(transport, profile)
    assert "vérification des sauvegardes" in info.value.message
    with _connect(sshd, profile, tmp_path) as transport:
        found = backup_op.findings(transport, profile)
    assert found[1].level == "erreur" and "intégrité" in found[1].message, found


def test_wrong_password_is_said_in_french_and_the_next_run_with_the_right_one_completes(
        sshd, server_root, data_root, tmp_path):
    repo = tmp_path / "depot"
    profile, _plan = _installed(sshd, server_root, data_root, tmp_path,
                                {"type": "disque", "adresse": str(repo)})
    assert _backup(sshd, profile, tmp_path)["ok"]
    password = _commune(server_root) / "secrets" / "restic.pass"
    right = password.read_text()
    password.write_text("pas-le-bon-mot-de-passe\n")
    with pytest.raises(apply_backup.BackupError) as info:
        _backup(sshd, profile, tmp_path)
    assert info.value.kind == "mot-de-passe"
    assert "mot de passe du dépôt de sauvegarde refusé" in info.value.message
    assert "fiche de secours" in (info.value.hint or "")
    assert _last(server_root)["ok"] is False
    password.write_text(right)
    again = _backup(sshd, profile, tmp_path)
    assert again["ok"]
    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    assert [s["short_id"] for s in snaps] == [again["snapshot"]]  # one a day is kept


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "petit-disque"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_destination_keeps_earlier_snapshots_and_the_next_run_completes(
        sshd, server_root, data_root, tmp_path, small_disk):
    repo = small_disk / "depot"
    profile, _plan = _installed(sshd, server_root, data_root, tmp_path,
                                {"type": "disque", "adresse": str(repo)})
    first = _backup(sshd, profile, tmp_path)
    assert first["ok"]
    big = _volume("registre_fichiers") / "gros.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # incompressible, twice the free space
    with pytest.raises(apply_backup.BackupError) as info:
        _backup(sshd, profile, tmp_path)
    assert info.value.kind == "pleine", info.value.message
    assert "destination des sauvegardes pleine" in info.value.message
    assert "intactes" in (info.value.hint or "")
    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    assert [s["short_id"] for s in snaps] == [first["snapshot"]]
    big.unlink()
    subprocess.run(["sh", "-c", f"rm -f {repo}/data/*/*.tmp*"], check=False)
    assert _backup(sshd, profile, tmp_path)["ok"]
    assert "no errors were found" in _restic(server_root, str(repo), "check").stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _rest_server(folder: Path, user: str, password: str) -> Iterator[str]:
    """``rclone serve restic`` on loopback; its users in an htpasswd file ({SHA} form, read
    by rclone's go-http-auth), so no password is on its command line either."""
    rclone = require_tool("rclone")
    folder.mkdir(exist_ok=True)
    htpasswd = folder.parent / "htpasswd"
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    htpasswd.write_text(f"{user}:{{SHA}}{digest}\n")
    port = _free_port()
    proc = subprocess.Popen([rclone, "serve", "restic", "--addr", f"127.0.0.1:{port}",
                             "--htpasswd", str(htpasswd), str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/{SLUG}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cmdlines() -> str:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                           .decode("utf-8", "replace"))
    return "\n".join(out)


@contextlib.contextmanager
def _watching_cmdlines() -> Iterator[list[str]]:
    """Every process's command line, read every 50 ms while the block runs."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(_cmdlines())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


def test_rest_server_with_credentials_typed_once_never_shown_then_unreachable(
        sshd, server_root, data_root, tmp_path, monkeypatch):
    for name in ("KIT_COLLAB_REST_USER", "KIT_COLLAB_REST_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    user, password = "mairie", "Mot-De-Passe-REST-9f3k"
    with _rest_server(tmp_path / "rest", user, password) as url:
        profile = _with_backups(profile_for(sshd, server_root),
                                {"type": "rest", "adresse": url, "pays": "FR"})
        recipes = load_recipes(data_root)
        with _connect(sshd, profile, tmp_path) as transport:
            outcome = deploy.install(transport, profile, recipes, wait_seconds=60)
            versions = dict(outcome.bundle.recipes)
            data = {r: d for r, d in changes.data_of(recipes).items() if r in versions}
            plan = apply_backup.plan_for(profile, data, versions)
            # Neither the environment nor the server has them: an error finding naming the
            # variables; then typed once at the prompt.
            [missing] = backup_op.ensure(transport, profile, recipes, outcome.bundle,
                                         QuietReporter())
            assert "identifiants de la destination des sauvegardes absents" in missing.message
            assert "KIT_COLLAB_REST_USER et KIT_COLLAB_REST_PASSWORD" in missing.fix
            typed = {"KIT_COLLAB_REST_USER": user, "KIT_COLLAB_REST_PASSWORD": password}
            asked: list[str] = []
            assert backup_op.ensure(transport, profile, recipes, outcome.bundle,
                                    QuietReporter(),
                                    ask=lambda name: asked.append(name) or typed[name]) == []
            assert asked == list(typed)
        repo_password = (_commune(server_root) / "secrets" / "restic.pass").read_text().strip()
        with _watching_cmdlines() as seen:
            result = _backup(sshd, profile, tmp_path)
        assert result["ok"], result
        assert any(f"--host {SLUG}" in s for s in seen)  # the watch did see restic run
        for text in [*seen, json.dumps(result)]:
            assert password not in text and repo_password not in text
        env = (_commune(server_root) / "secrets" / "sauvegarde.env").read_text()
        assert password in env  # kept on the server, 0600, for the timer's runs
        assert oct((_commune(server_root) / "secrets" / "sauvegarde.env").stat().st_mode
                   & 0o777) == "0o600"
        # Without credentials, set-up keeps the ones on the server (same destination).
        with _connect(sshd, profile, tmp_path) as transport:
            apply_backup.setup(transport, profile, plan, None)
    # The REST server is gone: unreachable, exit 3, in French, no password in the message.
    with pytest.raises(apply_backup.UnreachableError) as info:
        _backup(sshd, profile, tmp_path)
    assert info.value.exit_code == 3
    assert "destination des sauvegardes injoignable" in info.value.message
    assert password not in info.value.message + (info.value.hint or "")
    last = _last(server_root)
    assert last["ok"] is False and password not in json.dumps(last)
    with _connect(sshd, profile, tmp_path) as transport:
        found = backup_op.findings(transport, profile)
    assert found[0].level == "erreur" and "injoignable" in found[0].message
    assert password not in " ".join(f.message + f.fix for f in found)


def _pids_of(word: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if word in Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace"):
                    pids.append(int(pid))
    return pids


@pytest.mark.parametrize(("how", "left"), [("kill", "en-cours-ou-interrompue"),
                                           ("term", "interrompue")])
def test_backup_killed_mid_run_keeps_earlier_snapshots_and_the_next_run_completes(
        sshd, server_root, data_root, tmp_path, how, left):
    """kill: the machine stops dead (SIGKILL to the script and restic); term: the
    connection's guard or systemd stops the run (TERM to its process group): the script
    says "interrompue" itself."""
    repo = tmp_path / "depot"
    profile, _plan = _installed(sshd, server_root, data_root, tmp_path,
                                {"type": "disque", "adresse": str(repo)})
    first = _backup(sshd, profile, tmp_path)
    files = _volume("registre_fichiers")
    for i in range(40):
        (files / f"scan-{i}.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    failed: list[BaseException] = []

    def run() -> None:
        try:
            _backup(sshd, profile, tmp_path)
        except Exception as exc:  # the killed run's error, looked at below
            failed.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    script = str(_commune(server_root) / "sauvegarde" / "sauvegarder.sh")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            "backup" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
            for p in _pids_of(f"--host\0{SLUG}")):
        time.sleep(0.05)
    time.sleep(0.5)  # restic is uploading
    if how == "term":
        os.killpg(os.getpgid(_pids_of(script)[0]), signal.SIGTERM)
    else:
        for pid in _pids_of(script) + _pids_of(f"--host\0{SLUG}"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    runner.join(timeout=120)
    assert failed, "the killed backup must not be reported as done"
    if how == "term":
        error = failed[0]
        assert isinstance(error, apply_backup.BackupError) and error.kind == "interrompue"
        assert "sauvegarde interrompue" in error.message and "intactes" in (error.hint or "")
    assert _last(server_root)["erreur"] == left
    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    assert [s["short_id"] for s in snaps] == [first["snapshot"]]
    again = _backup(sshd, profile, tmp_path)
    assert again["ok"] and again["erreur"] is None
    snaps = json.loads(_restic(server_root, str(repo), "snapshots", "--json").stdout)
    assert [s["short_id"] for s in snaps] == [again["snapshot"]]  # one a day is kept
    _restic(server_root, str(repo), "check")


def _profile_with_backups(tmp_path: Path, sshd, server_root, repo: Path) -> Path:
    import yaml

    from .test_deploy import _profile_file

    path = _profile_file(tmp_path, sshd, server_root)
    data = yaml.safe_load(path.read_text("utf-8"))
    data["sauvegardes"] = {"type": "disque", "adresse": str(repo), "heure": "03:15"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_install_sets_backups_up_then_backup_backups_status_and_check_through_the_cli(
        sshd, server_root, data_root, tmp_path, cli):
    from datetime import UTC, datetime, timedelta

    repo = tmp_path / "depot"
    path = _profile_with_backups(tmp_path, sshd, server_root, repo)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "COLUMNS": "200"}
    installed = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                    env=env)
    assert installed.code == 0, installed.text
    assert "Sauvegardes : préparation sur le serveur" in installed.out
    script = _commune(server_root) / "sauvegarde" / "sauvegarder.sh"
    assert script.stat().st_mode & 0o777 == 0o700

    done = cli("backup", path, env=env)
    assert done.code == 0, done.text
    assert "✓ sauvegarde " in done.out and "ajoutés en" in done.out
    listed = cli("backups", path, env=env)
    assert listed.code == 0 and "Sauvegardes" in listed.out and "Version" in listed.out
    as_json = json.loads(cli("backups", path, "--json", env=env).out)
    entry = as_json["communes"][0]
    assert as_json["commande"] == "backups" and entry["resultat"] == "ok"
    [snap] = entry["rapport"]["sauvegardes"]
    assert snap["release"] and snap["taille"] > 0 and snap["date"].endswith("Z")
    status = cli("status", path, env=env)
    assert "Dernière sauvegarde : " in status.out, status.out
    fleet_status = json.loads(cli("status", path, "--json", env=env).out)
    assert fleet_status["communes"][0]["rapport"]["derniere_sauvegarde"]["ok"] is True

    profile = _with_backups(profile_for(sshd, server_root),
                            {"type": "disque", "adresse": str(repo)})
    with _connect(sshd, profile, tmp_path) as transport:
        fresh = backup_op.findings(transport, profile)
        later = backup_op.findings(transport, profile, datetime.now(UTC) + timedelta(hours=40))
    assert [f.level for f in fresh] == ["ok"], fresh
    assert later[0].level == "erreur" and "plus de 36 h" in later[0].message
    assert "list-timers" in later[0].fix

    # The destination disappears (the disk is gone): the backup fails in French, and check
    # says the last backup failed.
    repo.rename(tmp_path / "ailleurs")
    repo.write_text("pas un dépôt")
    failed = cli("backup", path, env=env)
    assert failed.code != 0 and "sauvegarde" in failed.err, failed.text
    with _connect(sshd, profile, tmp_path) as transport:
        after = backup_op.findings(transport, profile)
    assert [f.level for f in after] == ["erreur", "erreur"], after
    assert "destination des sauvegardes injoignable" in after[0].message  # probed now
    assert "la dernière sauvegarde a échoué" in after[1].message


@pytest.fixture
def sftp_destination(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A second real OpenSSH server (the intercommunal NAS), with the SFTP subsystem on."""
    from . import sshd as sshd_module

    monkeypatch.setattr(sshd_module, "CONFIG",
                        sshd_module.CONFIG + "Subsystem sftp internal-sftp\n")
    with sshd_module.running_sshd() as destination:
        yield destination


def test_sftp_destination_with_the_servers_own_key_and_the_recorded_host_key(
        sshd, server_root, data_root, tmp_path, sftp_destination):
    folder = tmp_path / "nas" / "depot"
    folder.parent.mkdir()
    address = f"root@127.0.0.1:{sftp_destination.port}:{folder}"
    profile = _with_backups(profile_for(sshd, server_root),
                            {"type": "sftp", "adresse": address, "pays": "FR"})
    recipes = load_recipes(data_root)
    with _connect(sshd, profile, tmp_path) as transport:
        outcome = deploy.install(transport, profile, recipes, wait_seconds=60)
        versions = dict(outcome.bundle.recipes)
        data = {r: d for r, d in changes.data_of(recipes).items() if r in versions}
        done = apply_backup.setup(transport, profile, apply_backup.plan_for(
            profile, data, versions), None)
    secrets = _commune(server_root) / "secrets"
    assert done.public_key == (secrets / "sauvegarde_ssh.pub").read_text().strip()
    known = (secrets / "sauvegarde_known_hosts").read_text()
    assert sftp_destination.host_key.with_suffix(".pub").read_text().split()[1] in known
    # Not yet authorized on the NAS: unreachable, said in French.
    with pytest.raises(apply_backup.UnreachableError):
        _backup(sshd, profile, tmp_path)
    sftp_destination.authorize("root", secrets / "sauvegarde_ssh")
    result = _backup(sshd, profile, tmp_path)
    assert result["ok"], result
    assert (folder / "config").exists()
    with _connect(sshd, profile, tmp_path) as transport:
        assert [s["id"] for s in apply_backup.snapshots(transport, profile)] == [
            result["snapshot"]]
    # The NAS's host key changes (a reinstalled machine, or someone in between): refused.
    sftp_destination.stop()
    keygen(sftp_destination.host_key, "autre-cle")
    sftp_destination.start()
    with pytest.raises(apply_backup.UnreachableError):
        _backup(sshd, profile, tmp_path)


FAKE_OCC = """#!/bin/sh
# A stand-in for Nextcloud's `php occ maintenance:mode --on|--off` (nextcloud/server,
# core/Command/Maintenance/Mode.php): records each switch with the time it happened.
echo "$3 $(date +%s.%N)" >> /tmp/maintenance.log
"""


def test_maintenance_mode_wraps_the_quiet_part_and_is_turned_off_even_on_failure(
        sshd, server_root, data_root, tmp_path, monkeypatch):
    """The registre stand-in plays Nextcloud's part (its recipe marked quiet, a `php` that
    records the switches); Nextcloud's own occ is exercised by the e2e bed."""
    from kit_collab.plan import backup as plan_backup

    monkeypatch.setitem(plan_backup.QUIET, "registre", "registre-app")
    repo = tmp_path / "depot"
    profile, plan = _installed(sshd, server_root, data_root, tmp_path,
                               {"type": "disque", "adresse": str(repo)})
    assert plan.maintenance == ("registre-app",) and plan.quiet_dumps
    app = dockerbed.container_ids(SLUG)["registre-app"]
    subprocess.run(["docker", "exec", "-u", "0", "-i", app, "sh", "-c",
                    "cat > /usr/local/bin/php && chmod 755 /usr/local/bin/php"],
                   input=FAKE_OCC, text=True, check=True, timeout=60)

    def switches() -> list[str]:
        log = dockerbed.docker("exec", app, "cat", "/tmp/maintenance.log", check=False)
        return [line.split()[0] for line in log.stdout.splitlines()]

    assert _backup(sshd, profile, tmp_path)["ok"]
    assert switches() == ["--on", "--off"]
    # The database is gone while maintenance mode is on (its dump is in the quiet part):
    # the backup fails, and maintenance mode is turned off all the same.
    db = dockerbed.container_ids(SLUG)["registre-db"]
    dockerbed.docker("stop", "-t", "1", db)
    try:
        with pytest.raises(apply_backup.BackupError) as info:
            _backup(sshd, profile, tmp_path)
    finally:
        dockerbed.docker("start", db)
    assert "dump registre-db" in info.value.message
    assert switches() == ["--on", "--off", "--on", "--off"]


@pytest.fixture
def s3_emulator() -> Iterator[str]:
    """An S3 EMULATOR (moto's server, from PyPI `moto[server]`), not a real object store:
    it exercises the S3 code path (repository string, keys in the environment), nothing
    more. Skipped when moto is not installed."""
    server_module = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}/kit-collab-essai/{SLUG}"
    finally:
        server.stop()


def test_s3_code_path_against_an_emulator_with_keys_from_the_environment(
        sshd, server_root, data_root, tmp_path, monkeypatch, s3_emulator):
    private = "Cle-Secrete-S3-7c1d9e"
    monkeypatch.setenv("KIT_COLLAB_S3_ACCESS_KEY", "AKIAESSAI")
    monkeypatch.setenv("KIT_COLLAB_S3_SECRET_KEY", private)
    profile = _with_backups(profile_for(sshd, server_root),
                            {"type": "s3", "adresse": s3_emulator, "pays": "FR"})
    recipes = load_recipes(data_root)
    with _connect(sshd, profile, tmp_path) as transport:
        outcome = deploy.install(transport, profile, recipes, wait_seconds=60)
        assert backup_op.ensure(transport, profile, recipes, outcome.bundle,
                                QuietReporter()) == []
    env = (_commune(server_root) / "secrets" / "sauvegarde.env").read_text()
    assert f"RESTIC_REPOSITORY=s3:{s3_emulator}" in env and private in env
    result = _backup(sshd, profile, tmp_path)
    assert result["ok"], result
    with _connect(sshd, profile, tmp_path) as transport:
        assert [s["id"] for s in apply_backup.snapshots(transport, profile)] == [
            result["snapshot"]]
    assert private not in json.dumps(result)
