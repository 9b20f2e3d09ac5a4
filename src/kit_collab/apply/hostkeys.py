"""SSH host keys: verified before anything is sent, never added blindly.

Known hosts are the operator's ``~/.ssh/known_hosts`` (read only) plus kit-collab's own file
(``~/.config/kit-collab/known_hosts`` by default), where keys the operator confirmed or pinned
are recorded as plain OpenSSH lines. The policy, in order:

1. a key listed for this host (in either file) is accepted; a listed host presenting a
   different key is always refused: the key has *changed*;
2. a pinned fingerprint (``serveur.empreinte_hote`` or ``--accept-host-key``) must be equal;
   a new host whose key matches its pin is accepted and recorded;
3. a new host without a pin is shown to ``confirm(host, key_type, fingerprint)``; without a
   callback (non-interactive) it is refused, with the option that accepts it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from kit_collab.errors import ConnectError
from kit_collab.i18n import tr

ConfirmHostKey = Callable[[str, str, str], bool]
PREFIX = "SHA256:"


class HostKeyError(ConnectError):
    """The server's host key is unknown, changed or does not match its pin."""


@dataclass(frozen=True)
class KnownKey:
    """One key listed for a host, and the file that lists it."""

    key: paramiko.PKey
    file: Path
    revoked: bool = False


# --- fingerprints ------------------------------------------------------------------------


def fingerprint_of_blob(blob: bytes) -> str:
    """``SHA256:<base64 without padding>``, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(blob).digest()
    return PREFIX + base64.b64encode(digest).decode("ascii").rstrip("=")


def fingerprint(key: paramiko.PKey) -> str:
    return fingerprint_of_blob(key.asbytes())


def fingerprint_of(public_key: str) -> str:
    """The fingerprint of a public key line: ``type base64 [comment]`` or a known_hosts line."""
    fields = public_key.split()
    for key_type, data in itertools.pairwise(fields):
        blob = _decode(data)
        if blob is not None and _blob_type(blob) == key_type:
            return fingerprint_of_blob(blob)
    raise ValueError(tr("clé publique SSH illisible", "unreadable SSH public key"))


def normalize_fingerprint(value: str) -> str:
    """``SHA256:abc=`` or ``abc`` → ``SHA256:abc``, the form compared and printed."""
    value = value.strip()
    if value.upper().startswith(PREFIX):
        value = value[len(PREFIX):]
    return PREFIX + value.rstrip("=")


def _decode(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _blob_type(blob: bytes) -> str | None:
    size = int.from_bytes(blob[:4], "big")
    if size > len(blob) - 4:
        return None
    return blob[4:4 + size].decode("ascii", "replace")


# --- known_hosts files -------------------------------------------------------------------


def host_id(host: str, port: int) -> str:
    """The name a host has in known_hosts: ``host``, or ``[host]:port`` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def default_known_hosts() -> Path:
    """kit-collab's own known_hosts file: ``KIT_COLLAB_KNOWN_HOSTS``, else under the user's
    configuration folder."""
    chosen = os.environ.get("KIT_COLLAB_KNOWN_HOSTS")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "kit-collab" / "known_hosts"


def user_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


def read_known(path: Path, hid: str) -> list[KnownKey]:
    """The keys ``path`` lists for ``hid`` (plain or hashed names); unreadable lines skipped."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        entry = _parse_line(line)
        if entry and _names_match(entry[0], hid):
            found.append(KnownKey(entry[1], path, entry[2]))
    return found


def _parse_line(line: str) -> tuple[list[str], paramiko.PKey, bool] | None:
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = fields.pop(0) if fields[0].startswith("@") else ""
    if marker not in ("", "@revoked") or len(fields) < 3:
        return None  # @cert-authority lines are not supported
    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(" ".join(fields[:3]))
    except Exception:  # a line paramiko cannot read is skipped, as ssh does
        return None
    if entry is None:
        return None
    return entry.hostnames, entry.key, marker == "@revoked"


def _names_match(names: Iterable[str], hid: str) -> bool:
    for name in names:
        if name.startswith("|1|"):
            try:
                if paramiko.HostKeys.hash_host(hid, name) == name:
                    return True
            except (binascii.Error, ValueError, AssertionError):
                continue
        elif name == hid:
            return True
    return False


def record(path: Path, hid: str, key: paramiko.PKey) -> None:
    """Add ``hid key`` to kit-collab's known_hosts (0600, in a 0700 directory)."""
    if any(_same(k.key, key) for k in read_known(path, hid)):
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(f"{hid} {key.get_name()} {key.get_base64()}\n")


def _same(a: paramiko.PKey, b: paramiko.PKey) -> bool:
    return a.asbytes() == b.asbytes()


def preferred_key_types(known: Iterable[KnownKey]) -> list[str]:
    """Host key algorithms to ask for first, so a known host shows the key we know."""
    types: list[str] = []
    for entry in known:
        name = entry.key.get_name()
        names = ["rsa-sha2-512", "rsa-sha2-256"] if name == "ssh-rsa" else [name]
        types += [n for n in names if n not in types and not entry.revoked]
    return types


# --- the policy --------------------------------------------------------------------------


class HostKeyVerifier:
    """Decides whether the key a server presents may be trusted; records confirmed keys."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        pins: Iterable[str] = (),
        confirm: ConfirmHostKey | None = None,
        own_file: Path | None = None,
        user_file: Path | None = None,
    ) -> None:
        self.hid = host_id(host, port)
        self.display = f"{host}:{port}"
        self.pins = sorted({normalize_fingerprint(p) for p in pins if p})
        self.confirm = confirm
        self.own_file = own_file or default_known_hosts()
        self.user_file = user_file or user_known_hosts()
        self.approved: str | None = None

    def known(self) -> list[KnownKey]:
        return read_known(self.user_file, self.hid) + read_known(self.own_file, self.hid)

    def check(self, key: paramiko.PKey, *, interactive: bool = True) -> None:
        """Accept ``key`` or raise HostKeyError; called before authenticating."""
        fp = fingerprint(key)
        known = self.known()
        if any(k.revoked and _same(k.key, key) for k in known):
            raise self._revoked(fp)
        valid = [k for k in known if not k.revoked]
        if valid and not any(_same(k.key, key) for k in valid):
            raise self._changed(fp, valid)
        self._check_pins(fp)
        if not valid:
            self._accept_new(key, fp, interactive=interactive)
        self.approved = fp

    def verify_connected(self, key: paramiko.PKey) -> None:
        """After connecting: the key in use must be the one approved (or pass the checks)."""
        if self.approved != fingerprint(key):
            self.check(key, interactive=False)

    def policy(self) -> paramiko.MissingHostKeyPolicy:
        return _Policy(self)

    def _accept_new(self, key: paramiko.PKey, fp: str, *, interactive: bool) -> None:
        if not self.pins:
            asked = interactive and self.confirm is not None
            if not (asked and self.confirm(self.display, key.get_name(), fp)):  # type: ignore[misc]
                raise self._unknown(key.get_name(), fp, declined=asked)
        record(self.own_file, self.hid, key)

    def _check_pins(self, fp: str) -> None:
        for pin in self.pins:
            if pin != fp:
                raise self._mismatch(fp, pin)

    def _unknown(self, key_type: str, fp: str, *, declined: bool) -> HostKeyError:
        if declined:
            return HostKeyError(tr(
                f"clé d'hôte de {self.display} refusée ({key_type} {fp}) : rien n'a été exécuté",
                f"host key of {self.display} declined ({key_type} {fp}): nothing was run"))
        return HostKeyError(
            tr(f"clé d'hôte inconnue pour {self.display} ({key_type} {fp}) : connexion refusée "
               "sans confirmation, rien n'a été exécuté",
               f"unknown host key for {self.display} ({key_type} {fp}): connection refused "
               "without confirmation, nothing was run"),
            hint=tr(f"vérifiez cette empreinte auprès de l'hébergeur (sur le serveur : "
                    f"« ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub »), puis relancez avec "
                    f"« --accept-host-key {fp} » ou épinglez-la dans le profil : "
                    f"« serveur.empreinte_hote: {fp} »",
                    f"check this fingerprint with the hosting provider (on the server: "
                    f"'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'), then run again with "
                    f"'--accept-host-key {fp}' or pin it in the profile: "
                    f"'serveur.empreinte_hote: {fp}'"))

    def _mismatch(self, fp: str, pin: str) -> HostKeyError:
        return HostKeyError(
            tr(f"la clé d'hôte de {self.display} ({fp}) ne correspond pas à l'empreinte "
               f"épinglée ({pin}) : connexion refusée",
               f"the host key of {self.display} ({fp}) does not match the pinned fingerprint "
               f"({pin}): connection refused"),
            hint=tr("vérifiez serveur.empreinte_hote dans le profil (ou --accept-host-key) et "
                    "l'adresse du serveur",
                    "check serveur.empreinte_hote in the profile (or --accept-host-key) and the "
                    "server address"))

    def _changed(self, fp: str, valid: list[KnownKey]) -> HostKeyError:
        old = ", ".join(sorted({fingerprint(k.key) for k in valid}))
        fixes = " ; ".join(
            f"ssh-keygen -R {shlex.quote(self.hid)} -f {shlex.quote(str(f))}"
            for f in dict.fromkeys(k.file for k in valid))
        return HostKeyError(
            tr(f"la clé d'hôte de {self.display} a CHANGÉ : connue {old}, reçue {fp} ; "
               "connexion refusée (serveur réinstallé, ou interception possible)",
               f"the host key of {self.display} has CHANGED: known {old}, received {fp}; "
               "connection refused (server reinstalled, or possible interception)"),
            hint=tr(f"si le serveur a été réinstallé, vérifiez la nouvelle empreinte auprès de "
                    f"l'hébergeur, puis retirez l'ancienne clé : {fixes}",
                    f"if the server was reinstalled, check the new fingerprint with the hosting "
                    f"provider, then remove the old key: {fixes}"))

    def _revoked(self, fp: str) -> HostKeyError:
        return HostKeyError(tr(
            f"la clé d'hôte de {self.display} ({fp}) est révoquée (@revoked) : connexion refusée",
            f"the host key of {self.display} ({fp}) is revoked (@revoked): connection refused"))


class _Policy(paramiko.MissingHostKeyPolicy):
    """paramiko asks this policy about every key: kit-collab loads no keys into the client."""

    def __init__(self, verifier: HostKeyVerifier) -> None:
        self.verifier = verifier

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        self.verifier.check(key)
