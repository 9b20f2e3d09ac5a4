"""A failed SSH connection told as one sentence and its fix."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from kit_collab.errors import ConnectError
from kit_collab.i18n import tr

if TYPE_CHECKING:
    from kit_collab.profile.model import Serveur


def key_file(serveur: Serveur) -> str | None:
    if not serveur.cle_ssh:
        return None
    path = Path(serveur.cle_ssh).expanduser()
    if not path.is_file():
        raise ConnectError(
            tr(f"clé SSH introuvable : {path}", f"SSH key not found: {path}"),
            hint=tr("vérifiez serveur.cle_ssh dans le profil (chemin de la clé privée), ou "
                    "créez-la et installez-la avec « kit-collab acces PROFIL »",
                    "check serveur.cle_ssh in the profile (path of the private key), or "
                    "create and install it with 'kit-collab acces PROFILE'"))
    return str(path)


def connect_error(exc: BaseException, serveur: Serveur, timeout: float) -> ConnectError:
    where = f"{serveur.hote}:{serveur.port_ssh}"
    who = f"{serveur.utilisateur}@{where}"
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(
            tr(f"la clé SSH {serveur.cle_ssh} est protégée par une phrase de passe ({who})",
               f"SSH key {serveur.cle_ssh} is protected by a passphrase ({who})"),
            hint=tr("chargez-la dans l'agent SSH (ssh-add) puis relancez",
                    "load it into the SSH agent (ssh-add) and run again"))
    if isinstance(exc, paramiko.SSHException) and "No authentication methods" in str(exc):
        # paramiko found neither a key file, nor an SSH agent, nor a password to offer.
        return ConnectError(
            tr(f"aucune clé SSH sur ce poste pour se connecter à {who} (kit-collab se "
               "connecte par clé, jamais par mot de passe)",
               f"no SSH key on this machine to connect to {who} (kit-collab connects with a "
               "key, never with a password)"),
            hint=_key_hint(serveur))
    if isinstance(exc, paramiko.AuthenticationException):
        return ConnectError(
            tr(f"authentification SSH refusée pour {who}",
               f"SSH authentication refused for {who}"),
            hint=_key_hint(serveur))
    return _network_error(exc, serveur, timeout)


def _key_hint(serveur: Serveur) -> str:
    """How to get a key accepted: ``kit-collab acces`` does it all from the password the
    hosting provider sent (typed at its own prompt, never in a file); ssh-copy-id by hand."""
    target = f"{serveur.utilisateur}@{serveur.hote}"
    port = f" -p {serveur.port_ssh}" if serveur.port_ssh != 22 else ""
    key = serveur.cle_ssh or "~/.ssh/id_ed25519"
    return tr(f"lancez « kit-collab acces PROFIL » : avec le mot de passe de l'hébergeur, il "
              f"crée la clé SSH (ssh-keygen -t ed25519), l'installe sur le serveur et "
              f"l'indique dans le profil (serveur.cle_ssh) ; à la main : ssh-copy-id -i "
              f"{key}.pub{port} {target} ; vérifiez aussi serveur.utilisateur",
              f"run 'kit-collab acces PROFILE': with the hosting provider's password it "
              f"creates the SSH key (ssh-keygen -t ed25519), installs it on the server and "
              f"names it in the profile (serveur.cle_ssh); by hand: ssh-copy-id -i "
              f"{key}.pub{port} {target}; check serveur.utilisateur too")


def _network_error(exc: BaseException, serveur: Serveur, timeout: float) -> ConnectError:
    where = f"{serveur.hote}:{serveur.port_ssh}"
    user = serveur.utilisateur
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            tr(f"nom de serveur inconnu : {serveur.hote} (utilisateur {user})",
               f"unknown server name: {serveur.hote} (user {user})"),
            hint=tr("vérifiez serveur.hote dans le profil et la résolution DNS",
                    "check serveur.hote in the profile and DNS resolution"))
    if _refused(exc):
        return ConnectError(
            tr(f"connexion refusée par {where} (utilisateur {user})",
               f"connection refused by {where} (user {user})"),
            hint=tr("vérifiez que le serveur SSH tourne et le port (serveur.port_ssh)",
                    "check that the SSH server is running and the port (serveur.port_ssh)"))
    if isinstance(exc, TimeoutError):
        return ConnectError(
            tr(f"pas de réponse de {where} en {timeout:g} s (utilisateur {user})",
               f"no answer from {where} within {timeout:g} s (user {user})"),
            hint=tr("vérifiez l'adresse, le pare-feu et la connexion réseau",
                    "check the address, the firewall and the network connection"))
    reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160] or type(exc).__name__
    return ConnectError(
        tr(f"impossible d'ouvrir une session SSH avec {where} (utilisateur {user}) : {reason}",
           f"cannot open an SSH session with {where} (user {user}): {reason}"),
        hint=tr("vérifiez serveur.hote et serveur.port_ssh : le port doit être celui de sshd",
                "check serveur.hote and serveur.port_ssh: the port must be sshd's"))


def _refused(exc: BaseException) -> bool:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return all(isinstance(e, ConnectionRefusedError) for e in exc.errors.values())
    return isinstance(exc, ConnectionRefusedError)
