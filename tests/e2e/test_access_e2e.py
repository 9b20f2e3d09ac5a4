"""``kit-collab acces`` on the bed's fresh Debian 13 server (systemd as PID 1, Debian's own
/etc/ssh/sshd_config and ssh.service), delivered as a hosting provider does: a root password
and a cloud-init drop-in that turns password login on. kit-collab makes its key, installs it
for an account it creates, proves it, closes password login with Debian's real files and
``systemctl reload ssh``, and Debian's sshd then refuses the password. The password is on no
process command line of this machine (the container's processes included) and in no output.

Needs the image ``kce2e/server`` (python3 tests/e2e/build_images.py); one container, named
``kce2e-<run>-acces`` and removed at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from kit_collab.apply.transport import connect
from kit_collab.profile.load import load_profile
from tests.e2e import bed as bed_mod
from tests.test_access import CommandLines

pytestmark = pytest.mark.e2e
SRC = Path(__file__).resolve().parent.parent.parent / "src"
IMAGE = f"{bed_mod.PREFIX}server"
AGENT = "mairie"
DROPIN = "/etc/ssh/sshd_config.d/00-kit-collab-sans-mot-de-passe.conf"


class Server:
    def __init__(self, name: str, ip: str, password: str, fingerprint: str) -> None:
        self.name, self.ip, self.password, self.fingerprint = name, ip, password, fingerprint

    def sh(self, script: str, stdin: str | None = None) -> str:
        return bed_mod.docker("exec", "-i", self.name, "sh", "-c", script, stdin=stdin).stdout


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    if bed_mod.docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail(f"{IMAGE} is missing: run python3 tests/e2e/build_images.py first")
    run = secrets.token_hex(3)
    name = f"kce2e-{run}-acces"
    flags, command = bed_mod.systemd_flags_and_command()
    started = time.monotonic()
    bed_mod.docker("run", "-d", "--name", name, "--hostname", "srv-acces",
                   "--label", f"org.kce2e.run={run}", *flags, IMAGE, *command)
    try:
        ip = bed_mod.docker("inspect", "--format",
                            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                            name).stdout.strip()
        srv = Server(name, ip, "Pw-" + secrets.token_urlsafe(18),
                     bed_mod.host_fingerprint(IMAGE))
        _wait_booted(srv)
        _as_delivered(srv)
        print(f"[kce2e] acces: Debian 13 server up in {time.monotonic() - started:.1f} s")
        yield srv
    finally:
        bed_mod.docker("rm", "-f", "-v", name, check=False)


def _wait_booted(srv: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = bed_mod.docker("exec", srv.name, "systemctl", "is-system-running",
                               check=False).stdout.strip()
        if state in ("running", "degraded") and bed_mod._ssh_banner(srv.ip):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{srv.name}: not booted after {timeout:.0f} s")


def _as_delivered(srv: Server) -> None:
    """Root's password (through chpasswd's stdin) and a cloud image's sshd drop-in."""
    srv.sh("chpasswd", stdin=f"root:{srv.password}\n")
    srv.sh("rm -f /etc/ssh/sshd_config.d/kce2e.conf && printf 'PasswordAuthentication yes\\n"
           "PermitRootLogin yes\\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf && "
           "systemctl reload ssh")
    # sshd re-executes itself on reload (SIGHUP): its port is closed for a moment, which a
    # loaded machine hits; connection errors are retried, an authentication answer is not.
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = _password_login(srv)
            break
        except (OSError, paramiko.SSHException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert answer == "accepted"


def _password_login(srv: Server) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 (test probe)
    try:
        client.connect(srv.ip, username="root", password=srv.password, allow_agent=False,
                       look_for_keys=False, timeout=10)
    except paramiko.BadAuthenticationType as exc:
        return "refused, methods: " + ",".join(exc.allowed_types)
    except paramiko.AuthenticationException:
        return "refused"
    finally:
        client.close()
    return "accepted"


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(SRC)}
    full.pop("SSH_AUTH_SOCK", None)
    full.pop("KIT_COLLAB_SSHD_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "kit_collab", *args], env=full, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def test_a_debian13_server_from_its_root_password_to_key_only_login(
        server: Server, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"),
           "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs"), "KIT_COLLAB_LANG": "fr"}
    path = tmp_path / "commune.yaml"
    made = _cli(["init", str(path), "--non-interactif", "--nom", "Saint-Essai", "--domaine",
                 "saint-essai.fr", "--hote", server.ip, "--hebergeur", "test",
                 "--utilisateur-ssh", AGENT], env)
    assert made.returncode == 0, made.stdout + made.stderr
    watch = CommandLines()
    watch.start()
    started = time.monotonic()
    try:
        done = _cli(["acces", str(path), "--creer-compte", "--mot-de-passe-stdin",
                     "--accept-host-key", server.fingerprint], env, stdin=server.password + "\n")
    finally:
        watch.stop()
    print(f"[kce2e] acces: kit-collab acces took {time.monotonic() - started:.1f} s")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Debian's sshd, reloaded by systemd, reads the drop-in first and refuses passwords
    assert _password_login(server) == "refused, methods: publickey"
    effective = server.sh("sshd -T | grep -E '^(passwordauthentication|kbdinteractive)'")
    assert sorted(effective.split("\n")) == ["", "kbdinteractiveauthentication no",
                                             "passwordauthentication no"]
    assert server.sh(f"cat {DROPIN}").startswith("# kit-collab")
    assert server.sh("systemctl is-active ssh.service").strip() == "active"
    assert server.sh(f"id -u {AGENT} && cat /etc/sudoers.d/kit-collab-{AGENT}").endswith(
        f"{AGENT} ALL=(ALL) NOPASSWD:ALL\n")
    # every later command connects with the key and acts as root
    keyed = load_profile(path).serveur.model_copy(
        update={"cle_ssh": str(home / ".ssh" / "id_ed25519")})
    with connect(keyed, known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"])) as transport:
        assert transport.run("id -u").stdout.strip() == b"0"
    # the password: nowhere
    assert watch.sweeps > 20
    assert not [line for line in watch.seen if server.password.encode() in line]
    assert server.password not in output
    for file in (tmp_path / "logs").rglob("*"):
        assert server.password.encode() not in file.read_bytes()
