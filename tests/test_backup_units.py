"""The systemd units of a commune's backups, rendered and checked by systemd's own
``systemd-analyze verify``; their install script's golden; and ``check``'s backup rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit_collab.apply.scripts import backup_units
from kit_collab.check.rules import backup as rules

SLUG = "saint-essai-fr"
GOLDEN = Path(__file__).resolve().parent / "golden" / "scripts" / "backup"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_units_run_nightly_spread_over_two_hours_catch_up_after_a_reboot_and_check_weekly(
        ) -> None:
    units = backup_units.units("/opt/kit-collab", SLUG, "03:15")
    timer = units[f"kit-collab-sauvegarde-{SLUG}.timer"]
    assert "OnCalendar=*-*-* 03:15:00\n" in timer and "RandomizedDelaySec=2h\n" in timer
    assert "Persistent=true\n" in timer and "WantedBy=timers.target" in timer
    check = units[f"kit-collab-sauvegarde-{SLUG}-verification.timer"]
    assert "OnCalendar=Sun *-*-* 05:00:00\n" in check and "Persistent=true" in check
    service = units[f"kit-collab-sauvegarde-{SLUG}.service"]
    assert (f"ExecStart=/opt/kit-collab/communes/{SLUG}/sauvegarde/sauvegarder.sh "
            "sauvegarder\n") in service and "Type=oneshot" in service
    assert "verifier" in units[f"kit-collab-sauvegarde-{SLUG}-verification.service"]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    root = tmp_path / "srv"
    script = root / "communes" / SLUG / "sauvegarde" / "sauvegarder.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o700)
    units = tmp_path / "units"
    units.mkdir()
    for name, text in backup_units.units(str(root), SLUG, "02:30").items():
        (units / name).write_text(text)
    names = sorted(str(p) for p in units.iterdir())
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "notice"}
    result = subprocess.run([analyze, "verify", *names], capture_output=True, text=True,
                            timeout=120, env=env)
    # Lines about the host's own units (this machine boots no systemd) are not ours.
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "kit-collab-sauvegarde" in line]
    assert ours == [], "\n".join(ours)
    broken = units / "kit-collab-sauvegarde-casse.timer"
    broken.write_text("[Timer]\nOnCalendar=jamais\n")
    bad = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert "jamais" in bad.stdout + bad.stderr  # the check does look at our files


@pytest.mark.parametrize("case", ["install", "remove"])
def test_units_scripts_match_their_golden_and_shellcheck(case: str) -> None:
    text = (backup_units.install("/opt/kit-collab", SLUG, "02:30") if case == "install"
            else backup_units.remove(SLUG))
    path = GOLDEN / f"units-{case}.sh"
    if os.environ.get("KIT_COLLAB_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert subprocess.run(["sh", "-n"], input=text, text=True, timeout=30).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        result = subprocess.run([shellcheck, "--shell=sh", "--norc", "-"], input=text,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout


# --- check's rules, pure -----------------------------------------------------------------------

def _last(**values: object) -> dict[str, object]:
    return {"debut": "2026-12-03T02:40:00Z", "fin": "2026-12-03T02:45:00Z", "ok": True,
            "erreur": None, "snapshot": "ab12cd34", "derniere_reussie": "2026-12-03T02:45:00Z",
            **values}


def test_a_fresh_backup_and_check_are_ok() -> None:
    found = rules.backup_findings(_last(), {"date": "2026-12-01T05:00:00Z", "ok": True}, NOW)
    assert [f.level for f in found] == ["ok"] and "ab12cd34" in found[0].message


def test_a_backup_older_than_36_hours_is_an_error_with_its_fix() -> None:
    old = "2026-12-01T10:00:00Z"
    [f] = rules.backup_findings(_last(fin=old, derniere_reussie=old), None, NOW)
    assert f.level == "erreur" and "il y a 50 h (plus de 36 h)" in f.message
    assert "kit-collab backup" in f.fix


def test_a_failed_backup_and_an_unreachable_destination_are_errors() -> None:
    [f] = rules.backup_findings(_last(ok=False, erreur="backup: wrong password"), None, NOW)
    assert f.level == "erreur" and "a échoué : backup: wrong password" in f.message
    [g] = rules.backup_findings(_last(ok=False, erreur="depot: dial tcp: connection refused"),
                                None, NOW)
    assert g.level == "erreur" and "injoignable" in g.message and "réseau" in g.fix


def test_a_run_under_way_is_not_an_error_but_one_left_interrupted_long_ago_is() -> None:
    running = _last(ok=False, erreur="en-cours-ou-interrompue", debut="2026-12-03T11:30:00Z")
    assert rules.backup_findings(running, None, NOW)[0].level == "ok"
    stale = _last(ok=False, erreur="en-cours-ou-interrompue", debut="2026-12-02T11:30:00Z")
    assert rules.backup_findings(stale, None, NOW)[0].level == "erreur"


def test_a_failed_integrity_check_is_an_error_and_an_old_one_a_warning() -> None:
    found = rules.backup_findings(_last(), {"date": "2026-12-01T05:00:00Z", "ok": False,
                                            "erreur": "pack 1234 damaged"}, NOW)
    assert found[1].level == "erreur" and "pack 1234 damaged" in found[1].message
    old = rules.backup_findings(_last(), {"date": "2026-11-01T05:00:00Z", "ok": True}, NOW)
    assert old[1].level == "avertissement"


def test_no_backup_yet_and_no_section() -> None:
    assert rules.backup_findings(None, None, NOW)[0].level == "erreur"
    assert rules.no_section().level == "avertissement"
    assert "sauvegardes" in rules.no_section().fix


# --- on a real systemd (Debian 13's, the e2e bed's server image) -------------------------------

SERVER_IMAGE = "kce2e/server"  # built by tests/e2e/build_images.py


def _docker(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, input=stdin,
                          timeout=120, check=False)


@pytest.fixture
def systemd_server() -> Iterator[str]:
    """A Debian 13 container booted with systemd as PID 1 (TESTBED.md's flags); skipped when
    the e2e bed's server image was not built on this machine."""
    from .conftest import RUN_ID
    from .e2e.bed import systemd_flags_and_command

    if shutil.which("docker") is None or _docker("image", "inspect", SERVER_IMAGE).returncode:
        pytest.skip(f"{SERVER_IMAGE} not built (python3 tests/e2e/build_images.py)")
    flags, command = systemd_flags_and_command()
    started = _docker("run", "-d", "--name", f"kcbackup-{RUN_ID}-systemd", "--cap-add", "ALL",
                      "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
                      "--security-opt", "apparmor=unconfined", "--security-opt",
                      "systempaths=unconfined", "--stop-signal", "SIGRTMIN+3", *flags,
                      SERVER_IMAGE, *command)
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        for _ in range(100):
            state = _docker("exec", cid, "systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.2)
        yield cid
    finally:
        _docker("rm", "-f", "-v", cid)


def test_timers_are_enabled_the_service_runs_the_script_and_remove_takes_them_away(
        systemd_server: str) -> None:
    cid = systemd_server
    root = "/opt/kit-collab"
    script = f"{root}/communes/{SLUG}/sauvegarde/sauvegarder.sh"
    fake = f"#!/bin/sh\necho \"$1 $(id -u)\" > {root}/lance-par-systemd\n"
    made = _docker("exec", "-i", cid, "sh", "-c",
                   f"mkdir -p {script.rsplit('/', 1)[0]} && cat > {script} && chmod 700 {script}",
                   stdin=fake)
    assert made.returncode == 0, made.stderr
    installed = _docker("exec", "-i", cid, "sh", stdin=backup_units.install(root, SLUG, "02:30"))
    assert installed.returncode == 0 and "units-installed" in installed.stdout, installed.stderr
    timers = _docker("exec", cid, "systemctl", "list-timers", "--all", "--no-pager").stdout
    assert f"kit-collab-sauvegarde-{SLUG}.timer" in timers
    assert f"kit-collab-sauvegarde-{SLUG}-verification.timer" in timers
    for unit in (f"kit-collab-sauvegarde-{SLUG}.timer",
                 f"kit-collab-sauvegarde-{SLUG}-verification.timer"):
        enabled = _docker("exec", cid, "systemctl", "is-enabled", unit).stdout.strip()
        assert enabled == "enabled", unit
    # The nightly service, started as the timer would start it, runs the script as root.
    fired = _docker("exec", "-i", cid, "sh", stdin=backup_units.trigger(SLUG))
    assert fired.returncode == 0, fired.stderr
    ran = _docker("exec", cid, "cat", f"{root}/lance-par-systemd").stdout
    assert ran == "sauvegarder 0\n"
    removed = _docker("exec", "-i", cid, "sh", stdin=backup_units.remove(SLUG))
    assert removed.returncode == 0 and "units-removed" in removed.stdout
    timers = _docker("exec", cid, "systemctl", "list-timers", "--all", "--no-pager").stdout
    assert "kit-collab-sauvegarde" not in timers


def test_a_destination_probed_now_that_does_not_answer_is_an_error() -> None:
    from kit_collab.apply.scripts import backup as script

    probe = script.parse_probe("destination-echec 21 dial tcp 127.0.0.1:9: connection refused")
    assert probe == ("injoignable", "dial tcp 127.0.0.1:9: connection refused")
    assert script.parse_probe("destination-ok\n") is None
    [f] = rules.destination_finding(probe)
    assert f.level == "erreur" and "injoignable : dial tcp" in f.message and "réseau" in f.fix
    [g] = rules.destination_finding(("mot-de-passe", "wrong password"))
    assert "fiche de secours" in g.fix
    assert rules.destination_finding(None) == []


def test_a_failure_alert_that_could_not_be_sent_is_a_warning_naming_the_relay_test() -> None:
    found = rules.backup_findings(_last(ok=False, erreur="backup: wrong password",
                                        alerte_envoyee=False, alerte_code=7), None, NOW)
    assert [f.level for f in found] == ["erreur", "avertissement"]
    assert "code curl 7" in found[1].message and "--envoyer-test" in found[1].fix
    sent = rules.backup_findings(_last(ok=False, erreur="x", alerte_envoyee=True), None, NOW)
    assert [f.level for f in sent] == ["erreur"]
