"""Supported servers (issue 14): Debian 13 and Ubuntu 24.04, with Docker and compose v2 from
the distribution's own packages. Debian 12 ships compose v1 only (1.29.2): the preflight and
the bootstrap refuse it with one French sentence that names the supported systems.

The bootstrap's package part runs here for real with POSIX sh, in a folder of stand-in
commands (apt-get, docker, systemctl...) that record what they are asked: apt, Docker and
systemd are the edge this machine cannot play. Its os-release and systemd folder are the
test's own files (the script's absolute paths are swapped in its text, nothing else is)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit_collab.apply.scripts import bootstrap
from kit_collab.check.findings import ERROR, OK
from kit_collab.check.rules import server as rules
from kit_collab.plan.facts import Facts

OS_RELEASE = {
    "debian 12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "debian 13": 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n',
    "ubuntu 24.04": 'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nID=ubuntu\nID_LIKE=debian\n'
                    'VERSION_ID="24.04"\n',
    "ubuntu 22.04": 'ID=ubuntu\nVERSION_ID="22.04"\n',
}

# docker: absent until apt-get "installs" it; then the engine answers and `docker compose
# version --short` prints $COMPOSE (empty: no compose v2 plugin, as with Debian 12's v1).
DOCKER = """#!/bin/sh
echo "docker $*" >> "$LOG"
case "$1 $2" in
  "compose version") [ -n "$COMPOSE" ] || exit 1; echo "$COMPOSE" ;;
  info*) exit 0 ;;
esac
"""
APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$LOG"
case "$1" in install) cp "$BIN/.docker" "$BIN/docker"; chmod +x "$BIN/docker" ;; esac
"""
RECORD = """#!/bin/sh
echo "$(basename "$0") $*" >> "$LOG"
"""
DPKG = """#!/bin/sh
echo "dpkg $*" >> "$LOG"
exit 1
"""


@dataclass
class Ran:
    code: int
    out: str
    calls: list[str]


def _run_packages(tmp_path: Path, system: str, *, compose: str = "2.26.1",
                  systemd: bool = True) -> Ran:
    """The bootstrap's package part on a server whose /etc/os-release says ``system``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "sort", "seq", "sleep", "cp", "chmod", "basename", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    for name, text in {".docker": DOCKER, "apt-get": APT_GET, "systemctl": RECORD,
                       "service": RECORD, "dpkg": DPKG}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "ufw").symlink_to(bin_dir / "systemctl")  # present: not asked for
    os_release = tmp_path / "os-release"
    os_release.write_text(OS_RELEASE[system])
    run_systemd = tmp_path / "run-systemd-system"
    if systemd:
        run_systemd.mkdir()
    script = ("set -eu\n" + bootstrap._packages_block()
              .replace(". /etc/os-release", f". {os_release}")
              .replace("/run/systemd/system", str(run_systemd)))
    log = tmp_path / "calls.log"
    log.touch()
    env = {"PATH": str(bin_dir), "LOG": str(log), "BIN": str(bin_dir), "COMPOSE": compose,
           "LANG": "C.UTF-8"}
    result = subprocess.run([str(bin_dir / "sh"), "-c", script], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    return Ran(result.returncode, result.stdout + result.stderr,
               log.read_text().splitlines())


def _installed(calls: list[str]) -> list[str]:
    return [c.split(" ", 1)[1] for c in calls if c.startswith("apt-get install")]


# ---------------------------------------------------------------------------------------------
# The bootstrap


def test_bootstrap_stops_on_a_fresh_debian_12(tmp_path: Path) -> None:
    ran = _run_packages(tmp_path, "debian 12")
    assert ran.code == 3
    assert "unsupported-os=debian 12" in ran.out
    assert not [c for c in ran.calls if c.startswith("apt-get")]  # nothing installed
    fr, _en, fix_fr, _fix_en = bootstrap.failure(ran.code, ran.out) or ("", "", "", "")
    assert "debian 12" in fr and "Debian 13 ou Ubuntu 24.04" in fr
    assert "Docker Compose v1" in fr
    assert "panneau de l'hébergeur" in fix_fr and "quelques minutes" in fix_fr


def test_bootstrap_stops_on_compose_v1_only(tmp_path: Path) -> None:
    """A server whose compose is v1 (`docker-compose`, no `docker compose` plugin)."""
    ran = _run_packages(tmp_path, "debian 13", compose="")
    assert ran.code == 3 and "no-compose-v2" in ran.out
    known = bootstrap.failure(ran.code, ran.out)
    assert known is not None and "Compose v2 introuvable" in known[0]
    assert "docker-compose-plugin" not in known[2]  # no third-party repository


def test_bootstrap_stops_on_compose_older_than_2_20(tmp_path: Path) -> None:
    ran = _run_packages(tmp_path, "debian 13", compose="2.17.3")
    assert ran.code == 3 and "compose-too-old=2.17.3" in ran.out
    known = bootstrap.failure(ran.code, ran.out)
    assert known is not None
    assert known[0] == ("Docker Compose 2.17.3 trop ancien : kit-collab demande la version "
                        "2.20 ou plus récente")


@pytest.mark.parametrize("version", ["2.20.0", "v2.26.1", "2.40.3"])
def test_bootstrap_accepts_compose_2_20_and_newer(tmp_path: Path, version: str) -> None:
    ran = _run_packages(tmp_path, "debian 13", compose=version)
    assert ran.code == 0, ran.out


def test_bootstrap_installs_docker_and_compose_from_debian_13s_own_packages(
        tmp_path: Path) -> None:
    ran = _run_packages(tmp_path, "debian 13")
    assert ran.code == 0, ran.out
    assert _installed(ran.calls) == ["install -y -q docker.io docker-compose "
                                     "unattended-upgrades restic curl"]
    assert "apt-get update -q" in ran.calls
    assert "systemctl enable --now docker.service" in ran.calls  # systemd brings it back
    assert not [c for c in ran.calls if c.startswith("service ")]


def test_bootstrap_installs_compose_v2_package_on_ubuntu_24_04(tmp_path: Path) -> None:
    ran = _run_packages(tmp_path, "ubuntu 24.04")
    assert ran.code == 0, ran.out
    assert _installed(ran.calls) == ["install -y -q docker.io docker-compose-v2 "
                                     "unattended-upgrades restic curl"]


def test_bootstrap_refuses_other_ubuntu_releases(tmp_path: Path) -> None:
    ran = _run_packages(tmp_path, "ubuntu 22.04")
    assert ran.code == 3 and "unsupported-os=ubuntu 22.04" in ran.out


def test_bootstrap_without_systemd_starts_the_engine_once(tmp_path: Path) -> None:
    """A server without systemd (a container): `service docker start` when the engine does
    not answer; here it answers once installed, so nothing is started twice."""
    ran = _run_packages(tmp_path, "debian 13", systemd=False)
    assert ran.code == 0, ran.out
    assert not [c for c in ran.calls if c.startswith("systemctl")]


def test_bootstrap_script_names_no_third_party_repository() -> None:
    script = bootstrap.bootstrap("/opt/kit-collab", "1", 22, [], None)
    for word in ("docker-ce", "docker-compose-plugin", "download.docker", "pip", "| sh",
                 "curl -", "curl http"):
        assert word not in script
    # Debian's own curl package is installed (the mail relay probe), never used to fetch
    assert 'need="$need curl"' in script


# ---------------------------------------------------------------------------------------------
# The preflight


def _os_finding(os_id: str, version: str) -> tuple[str, str, str]:
    facts = Facts(os_id=os_id, os_version=version, arch="x86_64")
    (found,) = [f for f in rules._os_findings(facts) if f.check == "système"]
    return found.level, found.message, found.fix


def test_preflight_refuses_debian_12_in_one_french_sentence() -> None:
    level, message, fix = _os_finding("debian", "12")
    assert level == ERROR
    assert message == ("système debian 12 non pris en charge (Debian 12 n'a que Docker "
                       "Compose v1) : kit-collab s'installe sur Debian 13 ou Ubuntu 24.04 "
                       "seulement")
    assert fix == ("réinstallez le serveur en Debian 13 ou Ubuntu 24.04 depuis le panneau de "
                   "l'hébergeur : cela prend quelques minutes")


@pytest.mark.parametrize(("os_id", "version"), [("debian", "11"), ("centos", "9"),
                                                ("ubuntu", "22.04"), ("", "")])
def test_preflight_refuses_every_other_system(os_id: str, version: str) -> None:
    level, message, fix = _os_finding(os_id, version)
    assert level == ERROR and "Debian 13 ou Ubuntu 24.04" in message
    assert "panneau de l'hébergeur" in fix


@pytest.mark.parametrize(("os_id", "version"), [("debian", "13"), ("ubuntu", "24.04")])
def test_preflight_accepts_debian_13_and_ubuntu_24_04(os_id: str, version: str) -> None:
    level, message, _fix = _os_finding(os_id, version)
    assert level == OK and message == f"système {os_id} {version} pris en charge"


def test_install_stops_on_debian_12_with_exit_code_1() -> None:
    """The preflight's error stops install (DESIGN.md: 1, a deployment failure), unless
    --force; then the bootstrap refuses the same system with the same sentence."""
    from kit_collab.errors import DeployError
    from kit_collab.operations import diagnose

    facts = Facts(os_id="debian", os_version="12", arch="x86_64")
    with pytest.raises(DeployError) as caught:
        diagnose.gate(rules._os_findings(facts), force=False)
    assert caught.value.exit_code == 1
    refused = bootstrap.failure(3, "unsupported-os=debian 12")
    assert refused is not None
    assert refused[0] == _os_finding("debian", "12")[1]


def test_english_refusal_names_the_systems_too() -> None:
    from kit_collab.plan.facts import os_refusal

    _fr, en, _fix_fr, fix_en = os_refusal("debian 12")
    assert "Debian 13 or Ubuntu 24.04" in en and "hosting provider's panel" in fix_en


@pytest.mark.skipif(not os.path.exists("/etc/os-release"), reason="no /etc/os-release here")
def test_facts_script_reads_this_machines_os_release(tmp_path: Path) -> None:
    """The facts script's os-release lines, run here, as the parser reads them."""
    from kit_collab.apply.scripts import facts as facts_script

    out = subprocess.run(["sh", "-c", facts_script.script(str(tmp_path), "x")],
                         capture_output=True, text=True, timeout=60).stdout
    facts = facts_script.parse(out)
    expected = dict(line.split("=", 1) for line in
                    Path("/etc/os-release").read_text().splitlines() if "=" in line)
    assert facts.os_id == expected["ID"].strip('"')
    assert facts.os_version == expected.get("VERSION_ID", "").strip('"')
