"""The transport against a real OpenSSH server on 127.0.0.1, and on this machine."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from kit_collab import constants
from kit_collab.apply import hostkeys
from kit_collab.apply.transport import (
    CommandResult,
    CommandTimeout,
    LocalTransport,
    SshTransport,
    Transport,
    command_line,
    connect,
)
from kit_collab.errors import ConnectError
from kit_collab.redact import remember

from .sshd import Sshd, free_port, keygen, running_sshd, ssh_fingerprint
from .sshd import sshd_server as sshd_server  # noqa: PLC0414 - a fixture, re-exported here
from .sshd import sudo_users as sudo_users  # noqa: PLC0414

SCRIPT = 'printf "out:%s" "$(id -u)"; printf "err" >&2; exit 3'
# Kill the script's nearest sshd ancestor, the process serving this connection: the link drops.
CUT_CONNECTION = ("p=$$; while [ \"$(cat /proc/$p/comm)\" != sshd ]; do "
                  "p=$(cut -d' ' -f4 /proc/$p/stat); done; kill -9 $p; sleep 5")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real ~/.ssh/known_hosts, no SSH agent, French messages."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return tmp_path / "kit-collab-known_hosts"


def open_pinned(server: Sshd, known: Path, user: str = "root") -> Transport:
    return connect(server.serveur(user), accept_host_key=server.fingerprint,
                   known_hosts_file=known, timeout=5)


def full_text(exc: ConnectError) -> str:
    return f"{exc.message} {exc.hint or ''}"


# --- pure parts ----------------------------------------------------------------------------


def test_command_lines() -> None:
    assert command_line("echo 'a'", sudo=True, root=True) == "sh -c 'echo '\"'\"'a'\"'\"''"
    assert command_line("id", sudo=False, root=False) == "sh -c id"
    assert command_line("id", sudo=True, root=False) == "sudo -n sh -c id"
    guarded = command_line("id", sudo=True, root=False, check_sudo=True)
    assert guarded.startswith("sh -c ") and "sudo -n true" in guarded
    assert "exec sudo -n sh -c id" in guarded
    assert command_line("id", sudo=True, root=False, timeout=2) == \
        "sudo -n timeout -k 5 2.000 sh -c id"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None,
                    reason="ssh-keygen absent (Debian package openssh-client)")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key = keygen(tmp_path / "k")
    pub = key.with_suffix(".pub")
    expected = ssh_fingerprint(pub)
    assert hostkeys.fingerprint_of(pub.read_text()) == expected
    assert hostkeys.fingerprint_of("[h]:22 " + pub.read_text()) == expected
    assert hostkeys.fingerprint(paramiko.Ed25519Key(filename=str(key))) == expected
    assert hostkeys.normalize_fingerprint(expected + "=") == expected
    with pytest.raises(ValueError, match="illisible"):
        hostkeys.fingerprint_of("ssh-ed25519 pas-du-base64")


# --- running commands ----------------------------------------------------------------------


def test_run_as_root_code_stdout_stderr(sshd_server: Sshd, known: Path) -> None:
    with open_pinned(sshd_server, known) as transport:
        assert isinstance(transport, SshTransport)
        assert transport.run(SCRIPT) == CommandResult(3, b"out:0", b"err")
        assert transport.run("cat", stdin=b"abc").stdout == b"abc"
        assert transport.run("cat").stdout == b""  # no stdin: EOF at once, no hang


def test_stdin_streams_5_mb_with_progress(sshd_server: Sshd, known: Path) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 123)
    seen: list[int] = []
    with open_pinned(sshd_server, known) as transport:
        parts = (payload[i:i + 300_000] for i in range(0, len(payload), 300_000))
        result = transport.run("sha256sum | cut -d' ' -f1", stdin=parts, progress=seen.append)
    assert result.ok
    assert result.stdout.decode().strip() == hashlib.sha256(payload).hexdigest()
    assert seen == sorted(seen) and len(seen) > 10 and seen[-1] == len(payload)


def test_round_trips_count_commands_on_one_connection(sshd_server: Sshd, known: Path) -> None:
    with open_pinned(sshd_server, known) as transport:
        assert transport.round_trips == 0  # connecting runs no command
        pids = {transport.run("echo $PPID").stdout for _ in range(3)}
        transport.run("true", sudo=False)
        assert transport.round_trips == 4
    assert len(pids) == 1  # every command's parent is the same sshd session: one connection


def test_command_timeout_stops_it_on_the_server(sshd_server: Sshd, known: Path,
                                                tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with open_pinned(sshd_server, known) as transport:
        start = time.monotonic()
        with pytest.raises(CommandTimeout, match=r"n'a pas fini en 0\.5 s") as caught:
            transport.run(f"sleep 1 & wait; touch {marker}", timeout=0.5)
        assert caught.value.exit_code == constants.EXIT_FAILURE
        assert time.monotonic() - start < 3
        assert transport.run("echo encore", timeout=5).stdout == b"encore\n"
    time.sleep(1)
    assert not marker.exists()  # the script and its child were stopped on the server


def test_lost_connection_is_a_connect_error(sshd_server: Sshd, known: Path) -> None:
    with open_pinned(sshd_server, known) as transport:
        with pytest.raises(ConnectError, match="connexion SSH perdue") as caught:
            transport.run(CUT_CONNECTION, timeout=20)
        assert caught.value.exit_code == constants.EXIT_CONNECT


# --- sudo ----------------------------------------------------------------------------------


def test_passwordless_sudo_runs_as_root(sshd_server: Sshd, sudo_users: tuple[str, str],
                                        known: Path) -> None:
    with open_pinned(sshd_server, known, sudo_users[0]) as transport:
        assert transport.round_trips == 0
        assert transport.run("id -u").stdout == b"0\n"  # the sudo check rides along
        assert transport.run("id -u", sudo=False).stdout != b"0\n"
        assert transport.run("id -un").stdout == b"root\n"
        assert transport.round_trips == 3


def test_sudo_wanting_a_password_is_refused(sshd_server: Sshd, sudo_users: tuple[str, str],
                                            known: Path) -> None:
    user = sudo_users[1]
    with open_pinned(sshd_server, known, user) as transport:
        assert transport.run("id -un", sudo=False).stdout == f"{user}\n".encode()
        with pytest.raises(ConnectError) as caught:
            transport.run("cat >/root/kc-should-not-exist", stdin=os.urandom(1 << 20))
    error = caught.value
    assert error.exit_code == constants.EXIT_CONNECT
    assert "sudo demande un mot de passe" in error.message
    assert f"{user} ALL=(ALL) NOPASSWD:ALL" in (error.hint or "")
    assert "/etc/sudoers.d/kit-collab" in (error.hint or "")
    assert not Path("/root/kc-should-not-exist").exists()


# --- host keys -----------------------------------------------------------------------------


def test_unknown_host_key_non_interactive_is_refused_and_nothing_runs(
        sshd_server: Sshd, known: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(ConnectError) as caught, \
            connect(sshd_server.serveur(), known_hosts_file=known, timeout=5) as transport:
        transport.run(f"touch {marker}")
    error = caught.value
    assert error.exit_code == constants.EXIT_CONNECT
    assert isinstance(error, hostkeys.HostKeyError)
    text = full_text(error)
    assert "clé d'hôte inconnue" in text and sshd_server.fingerprint in text
    assert f"--accept-host-key {sshd_server.fingerprint}" in text
    assert "empreinte_hote" in text
    assert not marker.exists() and not known.exists()


def test_unknown_host_key_confirmed_is_recorded(sshd_server: Sshd, known: Path) -> None:
    asked: list[tuple[str, str, str]] = []

    def confirm(host: str, key_type: str, fingerprint: str) -> bool:
        asked.append((host, key_type, fingerprint))
        return True

    with connect(sshd_server.serveur(), confirm=confirm, known_hosts_file=known) as transport:
        assert transport.run("echo ok").stdout == b"ok\n"
    assert asked == [(f"127.0.0.1:{sshd_server.port}", "ssh-ed25519", sshd_server.fingerprint)]
    assert known.read_text().startswith(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 ")
    assert known.stat().st_mode & 0o777 == 0o600

    def never(*_: str) -> bool:
        raise AssertionError("no second question")

    with connect(sshd_server.serveur(), confirm=never, known_hosts_file=known) as transport:
        assert transport.run("echo ok").ok
    with connect(sshd_server.serveur(), known_hosts_file=known) as transport:  # non-interactive
        assert transport.run("echo ok").ok


def test_unknown_host_key_declined(sshd_server: Sshd, known: Path) -> None:
    with pytest.raises(hostkeys.HostKeyError, match="refusée"):
        connect(sshd_server.serveur(), confirm=lambda *_: False, known_hosts_file=known)
    assert not known.exists()


def test_known_in_users_known_hosts_hashed(sshd_server: Sshd, known: Path) -> None:
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(parents=True)
    name = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{sshd_server.port}")
    pub = sshd_server.host_key.with_suffix(".pub").read_text().split()
    (ssh_dir / "known_hosts").write_text(f"{name} {pub[0]} {pub[1]}\n")
    with connect(sshd_server.serveur(), known_hosts_file=known) as transport:
        assert transport.run("echo ok").ok
    assert not known.exists()  # already known: nothing to record


def test_pinned_fingerprint(sshd_server: Sshd, known: Path) -> None:
    pinned = sshd_server.serveur(empreinte_hote=sshd_server.fingerprint)
    with connect(pinned, known_hosts_file=known) as transport:
        assert transport.run("echo ok").ok
    assert known.exists()


def test_pinned_fingerprint_mismatch_is_refused(sshd_server: Sshd, known: Path,
                                                tmp_path: Path) -> None:
    other = ssh_fingerprint(keygen(tmp_path / "other").with_suffix(".pub"))
    for kwargs in ({"accept_host_key": other}, {}):
        serveur = sshd_server.serveur(empreinte_hote=other) if not kwargs else \
            sshd_server.serveur()
        with pytest.raises(hostkeys.HostKeyError) as caught:
            connect(serveur, known_hosts_file=known, **kwargs)
        assert caught.value.exit_code == constants.EXIT_CONNECT
        assert "ne correspond pas à l'empreinte épinglée" in caught.value.message
        assert other in caught.value.message and sshd_server.fingerprint in caught.value.message
    assert not known.exists()


def test_changed_host_key_is_always_refused(known: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with running_sshd() as server:
        old = server.fingerprint
        with open_pinned(server, known) as transport:
            assert transport.run("echo ok").ok
        server.restart(new_host_key=True)
        new = server.fingerprint
        assert new != old
        for kwargs in ({}, {"accept_host_key": new}, {"confirm": lambda *_: True}):
            with pytest.raises(hostkeys.HostKeyError) as caught, \
                    connect(server.serveur(), known_hosts_file=known, **kwargs) as transport:
                transport.run(f"touch {marker}")
            error = caught.value
            assert error.exit_code == constants.EXIT_CONNECT
            assert "a CHANGÉ" in error.message and old in error.message and new in error.message
            assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {known}" in (error.hint or "")
        assert not marker.exists()


# --- connection failures -------------------------------------------------------------------


def test_wrong_key_is_an_authentication_error(sshd_server: Sshd, known: Path,
                                              tmp_path: Path) -> None:
    wrong = keygen(tmp_path / "wrong")
    serveur = sshd_server.serveur(cle_ssh=str(wrong))
    with pytest.raises(ConnectError) as caught:
        connect(serveur, accept_host_key=sshd_server.fingerprint, known_hosts_file=known)
    error = caught.value
    assert error.exit_code == constants.EXIT_CONNECT
    assert error.message == f"authentification SSH refusée pour root@127.0.0.1:{sshd_server.port}"
    assert "ssh-copy-id -i" in (error.hint or "") and "serveur.cle_ssh" in (error.hint or "")


def test_no_key_at_all_is_said_in_french_with_the_commands_that_fix_it(
        sshd_server: Sshd, known: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Symptom (issue 15, item 2): "No authentication methods available → vérifiez serveur.hote
    # et serveur.port_ssh": English paramiko text, and a hint blaming the host and port.
    home = tmp_path / "home-sans-cle"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    serveur = sshd_server.serveur(cle_ssh=None)
    with pytest.raises(ConnectError) as caught:
        connect(serveur, accept_host_key=sshd_server.fingerprint, known_hosts_file=known)
    error = caught.value
    assert error.exit_code == constants.EXIT_CONNECT
    assert error.message.startswith("aucune clé SSH sur ce poste")
    assert "No authentication" not in error.message + (error.hint or "")
    assert "ssh-keygen -t ed25519" in (error.hint or "") and "ssh-copy-id" in (error.hint or "")
    assert "serveur.hote" not in (error.hint or "")


def test_missing_key_file(sshd_server: Sshd, known: Path) -> None:
    serveur = sshd_server.serveur(cle_ssh="~/absente")
    with pytest.raises(ConnectError, match="clé SSH introuvable"):
        connect(serveur, known_hosts_file=known)


def test_connection_refused_is_quick(sshd_server: Sshd, known: Path) -> None:
    port = free_port()
    serveur = sshd_server.serveur(port_ssh=port)
    start = time.monotonic()
    with pytest.raises(ConnectError) as caught:
        connect(serveur, known_hosts_file=known, timeout=5)
    assert time.monotonic() - start < 2
    assert caught.value.exit_code == constants.EXIT_CONNECT
    assert caught.value.message == f"connexion refusée par 127.0.0.1:{port} (utilisateur root)"
    assert "port_ssh" in (caught.value.hint or "")


def test_not_an_ssh_server(sshd_server: Sshd, known: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                time.sleep(0.5)

        threading.Thread(target=answer, daemon=True).start()
        serveur = sshd_server.serveur(port_ssh=port)
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
            connect(serveur, known_hosts_file=known, timeout=2)


# --- this machine --------------------------------------------------------------------------


def test_local_transport_runs_the_same_script() -> None:
    with LocalTransport() as transport:
        assert isinstance(transport, Transport)
        assert transport.run(SCRIPT) == CommandResult(3, b"out:0", b"err")
        payload = os.urandom(2 * 1024 * 1024)
        seen: list[int] = []
        result = transport.run("sha256sum | cut -d' ' -f1", stdin=payload, progress=seen.append)
        assert result.stdout.decode().strip() == hashlib.sha256(payload).hexdigest()
        assert seen[-1] == len(payload)
        start = time.monotonic()
        with pytest.raises(CommandTimeout):
            transport.run("sleep 20 & wait", timeout=0.3)
        assert time.monotonic() - start < 3
        assert transport.round_trips == 3


def test_local_profile_gives_local_transport(sshd_server: Sshd) -> None:
    with connect(sshd_server.serveur(hote="local")) as transport:
        assert isinstance(transport, LocalTransport)
        assert transport.run("echo $((6*7))").stdout == b"42\n"


# --- secrets -------------------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_no_secret_in_logs_or_errors(sshd_server: Sshd, known: Path,
                                     all_logs: pytest.LogCaptureFixture) -> None:
    secret = "mot-de-passe-tres-secret-0xC0FFEE"  # noqa: S105 - a fake one, to be hunted
    remember([secret])
    texts = []
    with open_pinned(sshd_server, known) as transport:
        result = transport.run("cat >/dev/null; exit 4", stdin=secret.encode())
        assert result.code == 4
        echoed = transport.run(f"echo {secret}")
        assert echoed.stdout == f"{secret}\n".encode()  # output is returned, never logged
        for script in ("cat; sleep 20", CUT_CONNECTION):
            with pytest.raises(ConnectError if "kill" in script else CommandTimeout) as caught:
                transport.run(script, stdin=[secret.encode()], timeout=1)
            texts.append(str(caught.value))
    assert all_logs.records, "commands are logged at DEBUG level"
    assert secret not in all_logs.text + " ".join(texts)


def test_unknown_server_name(sshd_server: Sshd, known: Path) -> None:
    serveur = sshd_server.serveur(hote="kc-test.invalid")  # reserved: never resolves
    with pytest.raises(ConnectError) as caught:
        connect(serveur, known_hosts_file=known, timeout=5)
    assert caught.value.message == "nom de serveur inconnu : kc-test.invalid (utilisateur root)"
    assert "DNS" in (caught.value.hint or "")


def test_stderr_streams_as_it_comes() -> None:
    """``on_stderr`` sees the error stream before the command ends (pull progress)."""
    from kit_collab.apply.transport import LocalTransport

    seen: list[tuple[float, bytes]] = []
    import time

    start = time.monotonic()
    result = LocalTransport().run("printf 'un\\n' >&2; sleep 1; printf 'deux\\n' >&2",
                                  sudo=False, on_stderr=lambda b: seen.append(
                                      (time.monotonic() - start, b)))
    assert result.code == 0 and result.stderr == b"un\ndeux\n"
    assert seen[0][1] == b"un\n" and seen[0][0] < 0.8


def test_own_known_hosts_file_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KIT_COLLAB_KNOWN_HOSTS", raising=False)
    assert hostkeys.default_known_hosts() == tmp_path / "config" / "kit-collab" / "known_hosts"
    monkeypatch.setenv("KIT_COLLAB_KNOWN_HOSTS", str(tmp_path / "kh"))
    assert hostkeys.default_known_hosts() == tmp_path / "kh"
