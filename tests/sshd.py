"""A real OpenSSH server on 127.0.0.1 for tests: its own host key, config, users and keys.

Use the fixtures (``sshd_server``, ``sudo_users``) by importing them into a test module, or
the context managers ``running_sshd()`` and ``sudo_test_users()`` directly. Everything lives
in a temporary directory (0755, so that sshd, reading authorized keys as the user, gets in);
sshd is stopped by its PID. Needs root and /usr/sbin/sshd; the sudo users need sudo. The sudo
users are named after the test run (conftest.RUN_ID) and deleted, with their home and sudoers
file, at the end: two runs at once never share them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import RUN_ID

SSHD = "/usr/sbin/sshd"
HOST = "127.0.0.1"
SUDO_USER = f"kcsudo-{RUN_ID}"  # passwordless sudo
PROMPT_USER = f"kcpass-{RUN_ID}"  # sudo wants a password
SUDOERS_DIR = Path("/etc/sudoers.d")

CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {root}/ssh_host_ed25519_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
LoginGraceTime 15
MaxStartups 50
LogLevel VERBOSE
"""


def free_port(host: str = HOST) -> int:
    """A loopback TCP port nobody listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, comment: str = "kit-collab-test") -> Path:
    """A new ed25519 key pair without passphrase at ``path`` (and ``path.pub``)."""
    for old in (path, path.with_suffix(".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], check=True, capture_output=True)
    return path


def ssh_fingerprint(public_key: Path) -> str:
    """The fingerprint as OpenSSH prints it: ``SHA256:...``."""
    out = subprocess.run(["ssh-keygen", "-lf", str(public_key)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


@dataclass
class Sshd:
    """One throwaway sshd: ``start``, ``stop``, ``restart(new_host_key=True)``."""

    root: Path
    port: int
    host: str = HOST
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # the sshd_config template: OPEN_LOGIN_CONFIG, or None for the module's CONFIG as it is when
    # the server starts (a test may extend it, e.g. with the SFTP subsystem)
    config: str | None = None

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.root / "client_ed25519"

    @property
    def fingerprint(self) -> str:
        return ssh_fingerprint(self.host_key.with_suffix(".pub"))

    @property
    def log_file(self) -> Path:
        return self.root / "sshd.log"

    def authorize(self, user: str, key: Path | None = None) -> None:
        """Let ``user`` log in with ``key`` (the client key by default)."""
        pub = (key or self.client_key).with_suffix(".pub").read_text()
        target = self.root / "authorized_keys" / user
        with target.open("a") as out:
            out.write(pub)
        target.chmod(0o644)

    def serveur(self, user: str = "root", **fields: Any) -> Any:
        """A profile ``Serveur`` pointing at this sshd, with the client key."""
        from kit_collab.profile.model import Serveur

        values: dict[str, Any] = {"hote": self.host, "port_ssh": self.port,
                                  "utilisateur": user, "cle_ssh": str(self.client_key),
                                  "hebergeur": "test", "pays": "FR"}
        values.update(fields)
        return Serveur(**values)

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        conf = self.root / "sshd_config"
        conf.write_text((self.config or CONFIG).format(port=self.port, host=self.host,
                                                     root=self.root))
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(conf)],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self._wait_ready(deadline=time.monotonic() + 10)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self, *, new_host_key: bool = False) -> None:
        """Stop, optionally replace the host key, start again on the same port."""
        self.stop()
        if new_host_key:
            keygen(self.host_key, "kit-collab-test-host")
        self.start()

    def _wait_ready(self, deadline: float) -> None:
        """Until the port accepts and the SSH banner is read."""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"sshd stopped: {self.log_file.read_text()[-2000:]}")
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sshd not ready on {self.host}:{self.port}")


def require_sshd() -> None:
    if not Path(SSHD).exists():
        pytest.skip(f"{SSHD} absent (apt-get install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd test servers need root")


@contextlib.contextmanager
def running_sshd(host: str = HOST) -> Iterator[Sshd]:
    """A started sshd on a free port of ``host`` (a loopback address), with a client key
    authorized for root."""
    require_sshd()
    root = Path(tempfile.mkdtemp(prefix="kc-sshd-"))
    root.chmod(0o755)
    (root / "authorized_keys").mkdir(mode=0o755)
    server = Sshd(root=root, port=free_port(host), host=host)
    keygen(server.host_key, "kit-collab-test-host")
    keygen(server.client_key)
    server.authorize("root")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- local users for the sudo paths --------------------------------------------------------


def _accounts(*argv: str, check: bool = True) -> None:
    """useradd/usermod/userdel, again while another run holds the lock of /etc/passwd."""
    for _ in range(40):
        done = subprocess.run(list(argv), capture_output=True, text=True)
        if done.returncode == 0 or "lock" not in done.stderr:
            break
        time.sleep(0.25)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def ensure_user(name: str) -> bool:
    """Create ``name`` if absent, with a shell and an unlocked (but unusable) password;
    True when created here."""
    created = subprocess.run(["id", "-u", name], capture_output=True).returncode != 0
    if created:
        _accounts("useradd", "-m", "-s", "/bin/sh", name)
    # "!" (locked) would make sshd refuse key logins without PAM; "*" matches no password.
    _accounts("usermod", "-p", "*", name)
    return created


def delete_user(name: str) -> None:
    """Remove a user created by ``ensure_user``, with its home (``-f``: even if a session of
    the test is still closing)."""
    _accounts("userdel", "-r", "-f", name, check=False)


def _write_sudoers(name: str, rule: str) -> Path:
    path = SUDOERS_DIR / name
    path.write_text(f"# kit-collab tests, removed at teardown\n{rule}\n")
    path.chmod(0o440)
    subprocess.run(["visudo", "-cqf", str(path)], check=True, capture_output=True)
    return path


@contextlib.contextmanager
def sudo_test_users() -> Iterator[tuple[str, str]]:
    """(user with passwordless sudo, user whose sudo wants a password); sudoers cleaned up."""
    if not shutil.which("sudo") or not shutil.which("useradd") or os.geteuid() != 0:
        pytest.skip("sudo, useradd and root are needed for the sudo users")
    SUDOERS_DIR.mkdir(mode=0o750, exist_ok=True)
    added: list[Path] = []
    created: list[str] = []
    try:
        for user in (SUDO_USER, PROMPT_USER):
            if ensure_user(user):
                created.append(user)
        added.append(_write_sudoers(SUDO_USER, f"{SUDO_USER} ALL=(ALL) NOPASSWD:ALL"))
        added.append(_write_sudoers(PROMPT_USER, f"{PROMPT_USER} ALL=(ALL) ALL"))
        yield SUDO_USER, PROMPT_USER
    finally:
        for path in added:
            path.unlink(missing_ok=True)
        for user in created:
            delete_user(user)


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[Sshd]:
    """One sshd shared by a test module."""
    with running_sshd() as server:
        yield server


@pytest.fixture(scope="module")
def sudo_users(sshd_server: Sshd) -> Iterator[tuple[str, str]]:
    """The two sudo users, allowed to log in to ``sshd_server`` with its client key."""
    with sudo_test_users() as users:
        for user in users:
            sshd_server.authorize(user)
        yield users


# --- a server as a hosting provider delivers it: password login open ---------------------------

# Laid out as Debian's /etc/ssh/sshd_config (openssh-server 1:9.2p1): the drop-in folder
# included FIRST, and the drop-in of cloud images (50-cloud-init.conf) turning passwords on.
# Real accounts of this machine log in (their home's ~/.ssh/authorized_keys, their password
# in /etc/shadow, checked by sshd itself without PAM).
OPEN_LOGIN_CONFIG = """\
Include {root}/sshd_config.d/*.conf
Port {port}
ListenAddress {host}
HostKey {root}/ssh_host_ed25519_key
PidFile {root}/sshd.pid
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
UseDNS no
PrintMotd no
LoginGraceTime 15
MaxStartups 50
LogLevel VERBOSE
"""
CLOUD_INIT_DROPIN = "PasswordAuthentication yes\n"
PROVIDER_USER = f"kcfirst-{RUN_ID}"  # the account and password the provider sends
AGENT_USER = f"kcacces-{RUN_ID}"  # the profile's account, created by kit-collab acces


@dataclass
class ProviderServer:
    """A password-accepting sshd, the provider's account with its password (passwordless
    sudo, as OVHcloud's ``debian``), and the account kit-collab is to create."""

    sshd: Sshd
    user: str
    password: str
    agent: str

    @property
    def config(self) -> Path:
        return self.sshd.root / "sshd_config"

    @property
    def dropins(self) -> Path:
        return self.sshd.root / "sshd_config.d"


def set_password(user: str, password: str) -> None:
    """The password through chpasswd's standard input, never on a command line."""
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True,
                   capture_output=True)


def remove_account(user: str) -> None:
    """An account kit-collab may have created (user, home, sudoers drop-in)."""
    delete_user(user)
    (SUDOERS_DIR / f"kit-collab-{user}").unlink(missing_ok=True)


@contextlib.contextmanager
def provider_server(host: str = HOST) -> Iterator[ProviderServer]:
    """A fresh server as the provider hands it over; everything removed at the end."""
    require_sshd()
    if not shutil.which("sudo") or not shutil.which("useradd") or not shutil.which("chpasswd"):
        pytest.skip("sudo, useradd and chpasswd are needed for the provider's account")
    import secrets

    root = Path(tempfile.mkdtemp(prefix="kc-sshd-pw-"))
    root.chmod(0o755)
    (root / "sshd_config.d").mkdir(mode=0o755)
    (root / "sshd_config.d" / "50-cloud-init.conf").write_text(CLOUD_INIT_DROPIN)
    server = Sshd(root=root, port=free_port(host), host=host, config=OPEN_LOGIN_CONFIG)
    keygen(server.host_key, "kit-collab-test-host")
    password = "Pw-" + secrets.token_urlsafe(18)
    sudoers: Path | None = None
    try:
        ensure_user(PROVIDER_USER)
        set_password(PROVIDER_USER, password)
        SUDOERS_DIR.mkdir(mode=0o750, exist_ok=True)
        sudoers = _write_sudoers(PROVIDER_USER, f"{PROVIDER_USER} ALL=(ALL) NOPASSWD:ALL")
        server.start()
        yield ProviderServer(server, PROVIDER_USER, password, AGENT_USER)
    finally:
        server.stop()
        if sudoers is not None:
            sudoers.unlink(missing_ok=True)
        delete_user(PROVIDER_USER)
        remove_account(AGENT_USER)
        shutil.rmtree(root, ignore_errors=True)
