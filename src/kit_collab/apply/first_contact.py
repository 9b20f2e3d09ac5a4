"""The first contact with a server: one SSH connection opened with the hosting provider's
password, the scripts of apply/scripts/first_contact.py run through it, and the proof from
outside that a password is then refused.

The password is handed to paramiko in this process and nowhere else: never on a command line
(no ``sshpass``, no ``ssh`` child), never sent to a script, never in a log line or an error
text. paramiko's own authentication errors carry no password either; they are replaced here by
French sentences all the same.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from kit_collab.apply.connect_errors import connect_error
from kit_collab.apply.hostkeys import ConfirmHostKey, HostKeyVerifier, preferred_key_types
from kit_collab.apply.scripts import first_contact as scripts
from kit_collab.apply.transport import SshTransport, _transport_factory
from kit_collab.errors import ConnectError, DeployError, KitCollabError
from kit_collab.i18n import tr
from kit_collab.profile.model import Serveur
from kit_collab.redact import remember

log = logging.getLogger(__name__)


class Password:
    """A password typed by a person: its text is never part of a repr, str or log line."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text
        remember([text])  # masked in any log line or error report that could still meet it

    def reveal(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return "Password(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class Opened:
    transport: SshTransport
    fingerprint: str  # the host key's SHA256, as confirmed or already known


def open_with_password(serveur: Serveur, user: str, password: Callable[[], Password], *,
                       confirm: ConfirmHostKey | None, accept_host_key: str | None = None,
                       known_hosts_file: Path | None = None, timeout: float = 15) -> Opened:
    """One SSH connection as ``user`` with the password ``password()`` returns. The host key
    is verified FIRST, on a connection of its own (an unknown key shown to ``confirm`` and
    recorded once confirmed), so that the password is asked for, and sent, only to a server
    whose key the user accepted."""
    pins = [p for p in (accept_host_key, serveur.empreinte_hote) if p]
    verifier = HostKeyVerifier(serveur.hote, serveur.port_ssh, pins=pins, confirm=confirm,
                               own_file=known_hosts_file)
    _guarded(lambda: _check_host_key(serveur, verifier, timeout), serveur, user, timeout)
    secret = password()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(verifier.policy())
    try:
        _guarded(lambda: _connect(client, serveur, user, secret, verifier, timeout), serveur,
                 user, timeout)
    except KitCollabError:
        client.close()
        raise
    where = f"{serveur.hote}:{serveur.port_ssh}"
    return Opened(SshTransport(client, user=user, where=where), verifier.approved or "")


def _guarded(attempt: Callable[[], None], serveur: Serveur, user: str,
             timeout: float) -> None:
    """paramiko's failures as French sentences (never holding the password)."""
    try:
        attempt()
    except paramiko.BadAuthenticationType as exc:
        raise _no_password_login(serveur, user, exc.allowed_types) from None
    except paramiko.AuthenticationException:
        raise _password_refused(serveur, user) from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise connect_error(exc, serveur, timeout) from None


def _check_host_key(serveur: Serveur, verifier: HostKeyVerifier, timeout: float) -> None:
    """Key exchange only: the server's host key checked by the verifier, nothing sent."""
    sock = socket.create_connection((serveur.hote, serveur.port_ssh), timeout=timeout)
    transport = _transport_factory(preferred_key_types(verifier.known()))(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        verifier.check(transport.get_remote_server_key())
    finally:
        transport.close()
        sock.close()


def _connect(client: paramiko.SSHClient, serveur: Serveur, user: str, password: Password,
             verifier: HostKeyVerifier, timeout: float) -> None:
    client.connect(
        serveur.hote, port=serveur.port_ssh, username=user, password=password.reveal(),
        allow_agent=False, look_for_keys=False, timeout=timeout, banner_timeout=timeout,
        auth_timeout=timeout, channel_timeout=timeout,
        transport_factory=_transport_factory(preferred_key_types(verifier.known())))
    transport = client.get_transport()
    if transport is None:
        raise paramiko.SSHException("no transport")
    verifier.verify_connected(transport.get_remote_server_key())


def password_refused(serveur: Serveur, user: str, password: Password, *,
                     known_hosts_file: Path | None = None, timeout: float = 15) -> bool:
    """A NEW connection with the password: True when the server refuses it (password login
    off, or the password no longer valid), False when it still lets the password in."""
    try:
        opened = open_with_password(serveur, user, lambda: password, confirm=None,
                                    known_hosts_file=known_hosts_file, timeout=timeout)
    except _PasswordRefused:
        return True
    opened.transport.close()
    return False


class _PasswordRefused(ConnectError):
    """The server refused the password, or offers no password login at all."""


def _password_refused(serveur: Serveur, user: str) -> ConnectError:
    return _PasswordRefused(
        tr(f"mot de passe refusé par {serveur.hote}:{serveur.port_ssh} pour le compte "
           f"« {user} »", f"password refused by {serveur.hote}:{serveur.port_ssh} for the "
           f"account '{user}'"),
        hint=tr("vérifiez le compte et le mot de passe envoyés par l'hébergeur (--compte "
                "pour un autre compte que root), puis relancez « kit-collab acces »",
                "check the account and the password sent by the hosting provider (--compte "
                "for another account than root), then run 'kit-collab acces' again"))


def _no_password_login(serveur: Serveur, user: str, allowed: list[str]) -> ConnectError:
    methods = ", ".join(allowed) or "?"
    return _PasswordRefused(
        tr(f"{serveur.hote}:{serveur.port_ssh} n'accepte pas de mot de passe pour « {user} » "
           f"(méthodes acceptées : {methods})",
           f"{serveur.hote}:{serveur.port_ssh} accepts no password for '{user}' (accepted "
           f"methods: {methods})"),
        hint=tr("la connexion par mot de passe est déjà fermée sur ce serveur : installez la "
                "clé depuis la console de l'hébergeur, ou depuis un poste qui se connecte déjà",
                "password login is already off on this server: install the key from the "
                "hosting provider's console, or from a machine that already connects"))


# --- the scripts, run as root over the password connection -----------------------------------


def account_state(transport: SshTransport, user: str) -> tuple[bool, bool]:
    """(the account exists, it has passwordless sudo or is root)."""
    result = transport.run(scripts.account(user), timeout=60)
    answer = scripts.parse(result.code, result.stdout.decode("utf-8", "replace"))
    if answer.values.get("account") not in ("present", "absent"):
        raise _script_failed(result.stderr)
    exists = answer.values["account"] == "present"
    return exists, exists and answer.values.get("sudo", "nopasswd") == "nopasswd"


def install_key(transport: SshTransport, user: str, public_key: str, *,
                create: bool, sudo_rule: bool = False) -> scripts.Answer:
    result = transport.run(scripts.install_key(user, public_key, create=create,
                                               sudo_rule=sudo_rule), timeout=120)
    answer = scripts.parse(result.code, result.stdout.decode("utf-8", "replace"))
    if result.code != 0 or answer.values.get("key") not in ("added", "present"):
        raise _script_failed(result.stderr, answer)
    return answer


def disable_passwords(transport: SshTransport, config: str) -> scripts.Answer:
    """The drop-in written and in effect, sshd reloaded; the Answer as is on failure (the
    caller tells the user: the drop-in has been removed again by the script)."""
    result = transport.run(scripts.disable_passwords(config), timeout=120)
    return scripts.parse(result.code, result.stdout.decode("utf-8", "replace"))


def enable_passwords(transport: SshTransport, config: str) -> scripts.Answer:
    result = transport.run(scripts.enable_passwords(config), timeout=120)
    return scripts.parse(result.code, result.stdout.decode("utf-8", "replace"))


def wait_for_sshd(serveur: Serveur, seconds: float = 10) -> bool:
    """After a reload (sshd re-executes itself on SIGHUP, its port closed for a moment):
    True once it answers with its banner again."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(
                (serveur.hote, serveur.port_ssh), timeout=2) as sock:
            sock.settimeout(2)
            if sock.recv(8).startswith(b"SSH-"):
                return True
        time.sleep(0.1)
    return False


def _script_failed(stderr: bytes, answer: scripts.Answer | None = None) -> DeployError:
    detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if answer is not None and answer.values.get("sudo") == "invalid":
        detail = [tr("la règle sudo n'a pas passé visudo", "the sudo rule failed visudo")]
    return DeployError(tr(f"préparation du compte impossible sur le serveur : {detail[0]}",
                          f"cannot prepare the account on the server: {detail[0]}"))
