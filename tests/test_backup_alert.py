"""A failed nightly backup is e-mailed to the commune's contact (issue 16).

For real: ``sauvegarder.sh`` as the server runs it (``sh``, this machine's restic on a disk
repository in the test's own folder), made to fail (a wrong repository password, a corrupted
pack for the weekly check, TERM while restic uploads), and a real SMTP relay on loopback
(aiosmtpd with STARTTLS and AUTH, tests/test_mail_relay.py's ``relay``). The relay's curl
config is written by the install's own step (apply/backup_mail.store_sender) through the local
transport. Shown: one French message with the right subject, the error sentence and what to
do, no secret in it nor on any command line; a relay that does not answer changes neither the
exit code nor the backup's outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from kit_collab.apply import backup_mail
from kit_collab.apply.scripts import backup as script
from kit_collab.apply.scripts import backup_notify, mail
from kit_collab.apply.transport import LocalTransport
from kit_collab.plan import backup
from kit_collab.profile.model import Profile

from .conftest import base_profile, require_tool
from .sshd import free_port
from .test_mail_relay import LOGIN, PASSWORD, SENDER, relay
from .test_privilege import CommandLines

GOLDEN = Path(__file__).resolve().parent / "golden" / "scripts" / "backup"
ROOT = "/opt/kit-collab"
SLUG = "saint-essai-fr"
TO = "secretariat@saint-essai.fr"
REPO_PASSWORD = "mot-de-passe-du-depot-0123456789"  # noqa: S105 (a test value)
ALERT = backup_notify.Alert(SENDER, TO, "Saint-Essai", "Europe/Paris")


def _profile(root: Path, port: int) -> Profile:
    data = base_profile()
    data["commune"] = {**data["commune"], "email_contact": TO}
    data["serveur"] = {**data["serveur"], "racine": str(root)}
    data["messagerie"] = {"relais": "127.0.0.1", "port": port, "identifiant": LOGIN,
                          "expediteur": SENDER}
    return Profile.model_validate(data)


# --- the script text: goldens, sh -n, shellcheck ------------------------------------------------

PLAN = backup.plan(SLUG, f"{ROOT}/communes/{SLUG}", {}, {})
CASES = {
    "sauvegarder-alerte": lambda: script.backup_script(
        ROOT, PLAN, None, backup_notify.functions(ROOT, SLUG, ALERT)),
    "alerte-configurer": lambda: backup_notify.write_config(ROOT, SLUG),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_alert_script_matches_its_golden_and_passes_shellcheck(case: str) -> None:
    text = CASES[case]()
    path = GOLDEN / f"{case}.sh"
    if os.environ.get("KIT_COLLAB_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    done = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    done = subprocess.run([shellcheck, "--shell=sh", "--norc", "--exclude=SC2016", "-"],
                          input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_without_messagerie_the_script_sends_nothing() -> None:
    text = script.backup_script(ROOT, PLAN)
    assert "alerte() { :; }" in text and "curl" not in text


# --- for real --------------------------------------------------------------------------------


def _commune(tmp: Path, port: int) -> Path:
    """A commune's folder as install leaves it (a release, secrets, the backup settings to a
    disk repository), the relay's curl config written by install's step, the script."""
    require_tool("restic")
    root = tmp / "srv"
    c = root / "communes" / SLUG
    (c / "releases" / "r-1").mkdir(parents=True)
    (c / "releases" / "r-1" / "compose.yaml").write_text("services: {}\n")
    (c / "current").symlink_to("releases/r-1")
    (c / "state.json").write_text("{}\n")
    secrets = c / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "restic.pass").write_text(REPO_PASSWORD + "\n")
    (secrets / "sauvegarde.env").write_text(script.env_file(
        str(secrets), "disque", str(tmp / "depot"), {}))
    profile = _profile(root, port)
    assert backup_mail.store_sender(LocalTransport(), profile,
                                    {"messagerie": {"mot_de_passe": PASSWORD}})
    plan = backup.plan(SLUG, str(c), {}, {})
    (c / "sauvegarde").mkdir(mode=0o700)
    body = script.backup_script(str(root), plan, None, backup_mail.functions(profile))
    (c / "sauvegarde" / "sauvegarder.sh").write_text(body)
    return c


def _run(c: Path, cafile: str, action: str = "sauvegarder"
         ) -> tuple[subprocess.CompletedProcess[str], CommandLines]:
    watcher = CommandLines()
    watcher.start()
    try:
        done = subprocess.run(["sh", str(c / "sauvegarde" / "sauvegarder.sh"), action],
                              env={**os.environ, "CURL_CA_BUNDLE": cafile,
                                   "RESTIC_CACHE_DIR": str(c.parent / "cache")},
                              capture_output=True, text=True, timeout=300, check=False)
    finally:
        watcher.stop()
    return done, watcher


def _restic(tmp: Path, *args: str) -> None:
    subprocess.run(["restic", "--repo", str(tmp / "depot"), *args], check=True, timeout=120,
                   capture_output=True, env={**os.environ, "RESTIC_PASSWORD": "autre-mot-de-passe",
                                             "RESTIC_CACHE_DIR": str(tmp / "cache")})


def _text(envelope: Any) -> tuple[str, Message, str]:
    message = message_from_bytes(envelope.original_content)
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode().replace("\r\n", "\n")
    print(text)  # shown with -s: the message as the secretary reads it
    return str(make_header(decode_header(message["Subject"]))), message, text


def test_the_config_is_written_0600_and_the_password_is_never_shown(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the server side writes the relay's config as root in a 0700 folder, "
                    "which only root can read back: run as root (as .ci/run does)")
    profile = _profile(tmp_path / "srv", 587)
    watcher = CommandLines()
    watcher.start()
    try:
        assert backup_mail.store_sender(LocalTransport(), profile,
                                        {"messagerie": {"mot_de_passe": PASSWORD}})
    finally:
        watcher.stop()
    config = Path(mail.config_path(str(tmp_path / "srv"), profile.commune.code))
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert oct(config.parent.stat().st_mode & 0o777) == "0o700"
    assert 'mail-from = "ne-pas-repondre@saint-essai.fr"' in config.read_text()
    assert not [line for line in watcher.seen if PASSWORD.encode() in line]
    # Without the password at hand (a restore), the stored config stays; without messagerie,
    # it goes.
    assert backup_mail.store_sender(LocalTransport(), profile, None) and config.exists()
    gone = profile.model_copy(update={"messagerie": None})
    assert not backup_mail.store_sender(LocalTransport(), gone, {}) and not config.exists()


def test_wrong_repository_password_mails_the_contact_one_french_report_without_secrets(
        tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        c = _commune(tmp_path, r.port)
        _restic(tmp_path, "init")  # made with another password than the one kept
        done, watcher = _run(c, r.cafile)
    assert done.returncode == script.WRONG_PASSWORD_EXIT, done.stderr
    assert done.stderr.splitlines()[-1].startswith("erreur depot"), done.stderr
    (envelope,) = r.received
    assert envelope.rcpt_tos == [TO] and envelope.mail_from == SENDER
    subject, message, body = _text(envelope)
    assert subject == "Échec de la sauvegarde : Saint-Essai"
    assert message["To"] == TO
    assert "La sauvegarde automatique de la commune Saint-Essai a échoué" in body
    assert "Ce qui a échoué : le mot de passe du dépôt de sauvegarde a été refusé" in body
    assert "Erreur : depot:" in body and "wrong password" in body
    assert "    kit-collab check commune.yaml\n" in body and "restent intactes" in body
    raw = envelope.original_content.decode("utf-8", "replace")
    for secret in (PASSWORD, REPO_PASSWORD, LOGIN + ":"):
        assert secret not in raw
        assert not [line for line in watcher.seen if secret.encode() in line]
    last = json.loads((c / "sauvegarde" / "derniere.json").read_text())
    assert last["ok"] is False and last["erreur"].startswith("depot:")
    assert last["alerte_envoyee"] is True


def test_a_relay_that_does_not_answer_changes_neither_the_exit_code_nor_the_outcome(
        tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    c = _commune(tmp_path, dead)
    _restic(tmp_path, "init")
    done, _watcher = _run(c, "/nonexistent")
    assert done.returncode == script.WRONG_PASSWORD_EXIT, done.stderr
    assert done.stderr.splitlines()[-1].startswith("erreur depot"), done.stderr
    assert "curl" not in done.stdout + done.stderr
    last = json.loads((c / "sauvegarde" / "derniere.json").read_text())
    assert last["ok"] is False and last["erreur"].startswith("depot:")
    assert last["alerte_envoyee"] is False and last["alerte_code"] == 7  # curl: no connection


def test_a_failed_weekly_integrity_check_is_mailed_and_a_good_backup_is_not(
        tmp_path: Path) -> None:
    with relay(tmp_path, "starttls") as r:
        c = _commune(tmp_path, r.port)
        done, _watcher = _run(c, r.cafile)
        assert done.returncode == 0, done.stderr
        assert r.received == []  # a backup that worked sends nothing
        packs = sorted((tmp_path / "depot" / "data").rglob("*"), key=lambda p: p.stat().st_size
                       if p.is_file() else -1)
        pack = packs[-1]
        pack.chmod(0o600)
        data = bytearray(pack.read_bytes())
        data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64
        pack.write_bytes(bytes(data))
        done, _watcher = _run(c, r.cafile, "verifier")
    assert done.returncode != 0 and "verification-echec" in done.stdout
    (envelope,) = r.received
    subject, _message, body = _text(envelope)
    assert subject == "Échec de la vérification des sauvegardes : Saint-Essai"
    assert "La vérification hebdomadaire des sauvegardes de la commune Saint-Essai" in body
    assert "Ce qui a échoué : le contrôle d'intégrité a trouvé des erreurs" in body
    assert "Erreur : " in body and "restent intactes" not in body
    checked = json.loads((c / "sauvegarde" / "verification.json").read_text())
    assert checked["ok"] is False and checked["alerte_envoyee"] is True


def test_a_backup_stopped_by_term_is_mailed_as_interrupted(tmp_path: Path) -> None:
    """As systemd or the connection's guard stops a run: TERM to its process group while
    restic uploads; the script's own trap says "interrompue" and the contact is told."""
    with relay(tmp_path, "starttls") as r:
        c = _commune(tmp_path, r.port)
        for i in range(40):
            (c / "releases" / "r-1" / f"scan-{i}.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        env = {**os.environ, "CURL_CA_BUNDLE": r.cafile,
               "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
        proc = subprocess.Popen(["sh", str(c / "sauvegarde" / "sauvegarder.sh")], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _restic_backup_running(c):
                time.sleep(0.05)
            time.sleep(0.3)  # restic is reading and uploading
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    assert proc.returncode == 130
    (envelope,) = r.received
    subject, _message, body = _text(envelope)
    assert subject == "Échec de la sauvegarde : Saint-Essai"
    assert "Ce qui a échoué : la sauvegarde a été interrompue" in body
    last = json.loads((c / "sauvegarde" / "derniere.json").read_text())
    assert last["erreur"] == script.INTERRUPTED and last["alerte_envoyee"] is True


def _restic_backup_running(c: Path) -> bool:
    """restic backing up this test's own commune folder (other tests' runs are not it)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if line[0].endswith(b"restic") and b"backup" in line and any(
                        str(c).encode() in arg for arg in line):
                    return True
    return False
