"""Run POSIX sh scripts on the server: over SSH (paramiko) or on this machine.

- One SSH connection per server, reused: each ``run`` opens one exec channel, which is one
  round trip (``round_trips`` counts them, so tests can hold the deploy to its budget).
- A non-root user runs scripts as ``sudo -n sh -c '<script>'``. Whether sudo works without a
  password is checked once, *folded into the first sudo command* (a guard in front of it), so
  ``connect()`` itself costs no command round trip; a refusal raises ConnectError (exit 3).
- A timeout is enforced on the server by coreutils ``timeout`` (the command and its children
  are stopped there too), with a local watchdog a few seconds later in case the server is gone.
- stdin is streamed in chunks (a release is uploaded as one tar stream) while stdout and stderr
  are drained by two threads, so neither side can fill the other's window.
- Nothing from stdin or from command output is ever logged; commands are logged redacted.
- Over SSH, every script starts with a guard that stops it on the server when the connection
  ends before it does (kill -9, a second Ctrl-C, a cut): nothing is left running alone there.
"""

from __future__ import annotations

import io
import logging
import os
import pwd
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import paramiko

from kit_collab.apply import interrupt
from kit_collab.apply.connect_errors import connect_error, key_file
from kit_collab.apply.hostkeys import ConfirmHostKey, HostKeyVerifier, preferred_key_types
from kit_collab.apply.scripts import hangup
from kit_collab.apply.scripts.sudo import command_line, sudo_refusal
from kit_collab.apply.streams import (
    CHUNK,
    SEND_ERRORS,
    Drain,
    Output,
    Progress,
    Stdin,
    Watchdog,
    chunks,
    close_quietly,
    feed,
    kill_group,
)
from kit_collab.errors import ConnectError, DeployError, KitCollabError
from kit_collab.i18n import tr
from kit_collab.redact import redact

if TYPE_CHECKING:
    from kit_collab.profile.model import Serveur

__all__ = ["CHUNK", "KEEPALIVE", "CommandResult", "CommandTimeout", "LocalTransport",
           "SshTransport", "Transport", "command_line", "connect"]

log = logging.getLogger(__name__)
# paramiko logs transport errors with tracebacks; without a handler Python would print them.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

KEEPALIVE = 15
_TIMEOUT_CODES = (124, 137)  # coreutils timeout: TERM worked / KILL was needed


@dataclass(frozen=True)
class CommandResult:
    code: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.code == 0


@runtime_checkable
class Transport(Protocol):
    round_trips: int

    def run(self, script: str, *, stdin: Stdin = None, sudo: bool = True,
            timeout: float | None = None, progress: Progress | None = None,
            on_stderr: Output | None = None) -> CommandResult:
        """Run ``script`` with POSIX sh on the server; as root when ``sudo``. ``on_stderr``
        receives the error stream as it comes (e.g. image pull progress)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Transport: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class CommandTimeout(DeployError):
    """A command ran longer than its timeout and was stopped."""


def _describe(script: str, stdin: Stdin, sudo: bool) -> str:
    first = script.strip().splitlines()[0] if script.strip() else ""
    size = f", stdin {len(stdin)} o" if isinstance(stdin, bytes | bytearray) else ""
    size = size or (", stdin en flux" if stdin is not None else "")
    return redact(f"{'sudo ' if sudo else ''}sh: {first[:120]}{size}")


# --- transports --------------------------------------------------------------------------


class _BaseTransport:
    """What both transports share: sudo wrapping and its one-time check, counting, closing."""

    def __init__(self, *, user: str, where: str, root: bool) -> None:
        self.round_trips = 0
        self.user = user
        self.where = where
        self._root = root
        self._sudo_checked = root
        self._lock = threading.Lock()

    def run(self, script: str, *, stdin: Stdin = None, sudo: bool = True,
            timeout: float | None = None, progress: Progress | None = None,
            on_stderr: Output | None = None) -> CommandResult:
        # Commands may run concurrently on one connection (several communes of one server,
        # each on its own channel); only the first sudo command, which carries the sudo
        # check, is run alone.
        with self._lock:
            self.round_trips += 1
            if sudo and not self._sudo_checked:
                return self._execute_checked(script, stdin, sudo, timeout, progress, True,
                                             on_stderr)
        return self._execute_checked(script, stdin, sudo, timeout, progress, False, on_stderr)

    def _execute_checked(self, script: str, stdin: Stdin, sudo: bool, timeout: float | None,
                         progress: Progress | None, check: bool,
                         on_stderr: Output | None = None) -> CommandResult:
        command = command_line(self._guarded(script), sudo=sudo, root=self._root,
                               check_sudo=check, timeout=timeout)
        log.debug("%s: %s", self.where, _describe(script, stdin, sudo))
        started = time.monotonic()
        result = self._execute(command, chunks(stdin), timeout, progress, on_stderr)
        if check:
            self._sudo_result(result)
        if timeout and result.code in _TIMEOUT_CODES and \
                time.monotonic() - started >= timeout:
            raise self._timed_out(timeout)
        if result.code != 0:
            log.debug("%s: code de sortie %d", self.where, result.code)
        return result

    def _sudo_result(self, result: CommandResult) -> None:
        refusal = sudo_refusal(result.code, result.stderr)
        if refusal == "absent":
            raise ConnectError(
                tr(f"sudo n'est pas installé sur {self.where} : l'utilisateur « {self.user} » "
                   "ne peut pas agir en root",
                   f"sudo is not installed on {self.where}: user '{self.user}' cannot act as root"),
                hint=tr("installez sudo (apt-get install sudo) ou utilisez « utilisateur: root »",
                        "install sudo (apt-get install sudo) or use 'utilisateur: root'"))
        if refusal == "password":
            line = f"{self.user} ALL=(ALL) NOPASSWD:ALL"
            raise ConnectError(
                tr(f"sudo demande un mot de passe à l'utilisateur « {self.user} » sur "
                   f"{self.where} : kit-collab a besoin de sudo sans mot de passe",
                   f"sudo asks user '{self.user}' on {self.where} for a password: kit-collab "
                   "needs passwordless sudo"),
                hint=tr(f"en root sur le serveur, ajoutez la ligne « {line} » dans "
                        "/etc/sudoers.d/kit-collab (visudo -f /etc/sudoers.d/kit-collab)",
                        f"as root on the server, add the line '{line}' to "
                        "/etc/sudoers.d/kit-collab (visudo -f /etc/sudoers.d/kit-collab)"))
        self._sudo_checked = True

    def _guarded(self, script: str) -> str:
        """The script as sent: over SSH, behind the guard that stops it on the server when
        the connection ends first (apply/scripts/hangup.py)."""
        return script

    def _execute(self, command: str, chunks: Iterator[bytes], timeout: float | None,
                 progress: Progress | None, on_stderr: Output | None = None) -> CommandResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; idempotent."""

    def __enter__(self) -> _BaseTransport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _timed_out(self, timeout: float | None) -> CommandTimeout:
        return CommandTimeout(tr(
            f"la commande sur {self.where} n'a pas fini en {timeout:g} s : elle a été arrêtée",
            f"the command on {self.where} did not finish within {timeout:g} s: it was stopped"))


class LocalTransport(_BaseTransport):
    """Runs scripts on this machine (``serveur.hote: local``); sudo only when not root."""

    def __init__(self) -> None:
        user = _local_user()
        super().__init__(user=user, where=tr("cette machine", "this machine"),
                         root=os.geteuid() == 0)

    def _execute(self, command: str, chunks: Iterator[bytes], timeout: float | None,
                 progress: Progress | None, on_stderr: Output | None = None) -> CommandResult:
        proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        assert proc.stdin and proc.stdout and proc.stderr
        # A second Ctrl-C stops kit-collab at once: the command (its own session, so that the
        # terminal's first Ctrl-C does not reach it) is stopped with it.
        interrupt.on_hard_stop(proc.pid, lambda: kill_group(proc.pid))
        with Watchdog(timeout, lambda: kill_group(proc.pid)) as dog:
            # Popen's pipes are buffered readers: read1 returns what has arrived.
            pipe_out = cast(io.BufferedReader, proc.stdout)
            pipe_err = cast(io.BufferedReader, proc.stderr)
            out, err = Drain(pipe_out.read1), Drain(pipe_err.read1, on_stderr)
            out.start()
            err.start()
            try:
                feed(proc.stdin.write, chunks, progress)
            finally:
                close_quietly(proc.stdin.close)
            code = proc.wait()
            interrupt.on_hard_stop(proc.pid, None)
            stdout, stderr = out.data(), err.data()
        if dog.fired:
            raise self._timed_out(timeout)
        return CommandResult(code, stdout, stderr)


class SshTransport(_BaseTransport):
    """Runs scripts over one paramiko SSH connection, one exec channel per command."""

    def __init__(self, client: paramiko.SSHClient, *, user: str, where: str,
                 keepalive: int = KEEPALIVE) -> None:
        super().__init__(user=user, where=where, root=user == "root")
        self._client: paramiko.SSHClient | None = client
        transport = client.get_transport()
        if transport is not None and keepalive:
            transport.set_keepalive(keepalive)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _guarded(self, script: str) -> str:
        return hangup.guarded(script)

    def _execute(self, command: str, chunks: Iterator[bytes], timeout: float | None,
                 progress: Progress | None, on_stderr: Output | None = None) -> CommandResult:
        chan = self._open_channel()
        with Watchdog(timeout, chan.close) as dog:
            try:
                chan.exec_command(command)
                out, err = Drain(chan.recv), Drain(chan.recv_stderr, on_stderr)
                out.start()
                err.start()
                feed(chan.sendall, chunks, progress)
                close_quietly(chan.shutdown_write)
                code = chan.recv_exit_status()
                stdout, stderr = out.data(), err.data()
            except SEND_ERRORS as exc:
                raise (self._timed_out(timeout) if dog.fired else self._lost()) from exc
            finally:
                chan.close()
        if dog.fired:
            raise self._timed_out(timeout)
        if code == -1 and not self._active():
            raise self._lost()
        return CommandResult(code, stdout, stderr)

    def _open_channel(self) -> paramiko.Channel:
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            raise self._lost()
        try:
            return transport.open_session(timeout=30)
        except SEND_ERRORS as exc:
            raise self._lost() from exc

    def _active(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return transport is not None and transport.is_active()

    def _lost(self) -> ConnectError:
        return ConnectError(
            tr(f"connexion SSH perdue avec {self.where}", f"SSH connection to {self.where} lost"),
            hint=tr("vérifiez le réseau et relancez la commande : elle reprend là où il faut",
                    "check the network and run the command again"))


def _local_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


# --- connecting --------------------------------------------------------------------------


def connect(serveur: Serveur, *, accept_host_key: str | None = None,
            confirm: ConfirmHostKey | None = None, known_hosts_file: Path | None = None,
            timeout: float = 10) -> Transport:
    """A transport to the profile's server: local, or SSH with its host key verified.

    Costs one SSH connection (key exchange and authentication) and no command.
    """
    if serveur.hote == "local":
        return LocalTransport()
    pins = [p for p in (accept_host_key, serveur.empreinte_hote) if p]
    verifier = HostKeyVerifier(serveur.hote, serveur.port_ssh, pins=pins, confirm=confirm,
                               own_file=known_hosts_file)
    where = f"{serveur.hote}:{serveur.port_ssh}"
    client = _open_client(serveur, verifier, timeout)
    return SshTransport(client, user=serveur.utilisateur, where=where)


def _open_client(serveur: Serveur, verifier: HostKeyVerifier,
                 timeout: float) -> paramiko.SSHClient:
    key = key_file(serveur)
    client = paramiko.SSHClient()  # no keys loaded: the verifier's policy sees every key
    client.set_missing_host_key_policy(verifier.policy())
    try:
        client.connect(
            serveur.hote, port=serveur.port_ssh, username=serveur.utilisateur,
            key_filename=key, allow_agent=True, look_for_keys=key is None,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
            channel_timeout=timeout,
            transport_factory=_transport_factory(preferred_key_types(verifier.known())))
        transport = client.get_transport()
        if transport is None:
            raise paramiko.SSHException("no transport")
        verifier.verify_connected(transport.get_remote_server_key())
    except KitCollabError:
        client.close()
        raise
    except (OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        raise connect_error(exc, serveur, timeout) from exc
    return client


def _transport_factory(preferred: list[str]) -> Callable[..., paramiko.Transport]:
    """Ask first for the host key types known for this host, as OpenSSH does."""

    def make(sock: socket.socket, disabled_algorithms: dict[str, list[str]] | None = None
             ) -> paramiko.Transport:
        transport = paramiko.Transport(sock, disabled_algorithms=disabled_algorithms)
        options = transport.get_security_options()
        offered = list(options.key_types)
        first = [t for t in preferred if t in offered]
        options.key_types = first + [t for t in offered if t not in first]
        return transport

    return make


