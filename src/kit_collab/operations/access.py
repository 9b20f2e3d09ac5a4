"""``kit-collab acces``: from "the host sent me an IP and a root password" to a key-based
connection, with password login closed only once the key is proven to work.

1. an ed25519 key on this machine (made when there is none, 0600; its path recorded in the
   profile, ``serveur.cle_ssh``);
2. one connection with the password typed by the user (never stored, logged or on a command
   line); the host key shown, confirmed, recorded (known_hosts and ``serveur.empreinte_hote``);
3. the public key installed for the profile's account (created with passwordless sudo when
   asked), then a NEW connection with the key proves it works, sudo included;
4. only then SSH password login is turned off (apply/scripts/first_contact.py), and two NEW
   connections prove the result: the key still gets in, the password is refused. If the key
   no longer got in, the change is undone through the password session still open.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kit_collab.apply import first_contact as fc
from kit_collab.apply.hostkeys import ConfirmHostKey
from kit_collab.apply.scripts.first_contact import DEFAULT_CONFIG, Answer
from kit_collab.apply.transport import connect
from kit_collab.errors import ConnectError, DeployError, InputError, KitCollabError
from kit_collab.i18n import tr
from kit_collab.profile.edit import set_section_value
from kit_collab.profile.load import load_profile
from kit_collab.profile.model import Profile, Serveur

DEFAULT_KEY = "~/.ssh/id_ed25519"
SSHD_CONFIG_ENV = "KIT_COLLAB_SSHD_CONFIG"  # another sshd configuration (tests, odd servers)


class Dialog(Protocol):
    """What the first contact asks and tells (a terminal, or the options of a script)."""

    def password(self, question: str) -> fc.Password: ...

    def confirm(self, question: str, default: bool) -> bool: ...

    def tell(self, text: str) -> None: ...

    host_key: ConfirmHostKey | None


@dataclass(frozen=True)
class Options:
    account: str = "root"  # the account the hosting provider gave, with its password
    create_account: bool | None = None  # None: ask when the profile's account is missing
    keep_password_login: bool = False
    accept_host_key: str | None = None
    known_hosts_file: Path | None = None
    timeout: float = 15
    sshd_config: str = field(
        default_factory=lambda: os.environ.get(SSHD_CONFIG_ENV) or DEFAULT_CONFIG)


@dataclass
class Outcome:
    key_path: Path
    key_created: bool = False
    fingerprint: str = ""
    account: str = ""
    password_login_closed: bool = False
    done: list[str] = field(default_factory=list)


# --- the key on this machine ---------------------------------------------------------------


def ensure_key(chosen: str | None) -> tuple[Path, str, bool]:
    """(private key path, public key line, created now): the profile's key, else
    ~/.ssh/id_ed25519; a new ed25519 key without passphrase when the file is absent."""
    path = Path(chosen or DEFAULT_KEY).expanduser()
    if path.is_file():
        return path, _public_line(path), False
    return path, _generate(path), True


def _generate(path: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode("ascii")
    line = f"{public} kit-collab@{socket.gethostname() or 'poste'}"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    pub = path.with_name(path.name + ".pub")
    pub.write_text(line + "\n", encoding="ascii")
    pub.chmod(0o644)
    return line


def _public_line(path: Path) -> str:
    pub = path.with_name(path.name + ".pub")
    if pub.is_file():
        fields = pub.read_text(encoding="utf-8", errors="replace").split()
        if len(fields) >= 2:
            return " ".join(fields[:3])
    import paramiko

    try:
        key = paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        raise InputError(tr(f"la clé {path} est protégée par une phrase de passe et son "
                            f"fichier {pub.name} manque",
                            f"key {path} is protected by a passphrase and its file "
                            f"{pub.name} is missing"),
                         hint=tr("remettez le fichier .pub à côté de la clé",
                                 "put the .pub file back beside the key")) from None
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise InputError(tr(f"clé SSH illisible : {path} ({type(exc).__name__})",
                            f"unreadable SSH key: {path} ({type(exc).__name__})")) from None
    return f"{key.get_name()} {key.get_base64()}"


def profile_form(path: Path) -> str:
    """The key's path as written in the profile: ``~/…`` under the home folder."""
    home = Path.home()
    try:
        return "~/" + str(path.resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path)


# --- the profile -----------------------------------------------------------------------------


def record(profile_path: Path, key: str, value: str) -> None:
    """``serveur.<key>: value`` written into the profile, the rest of the file untouched
    (same mode; replaced atomically)."""
    text = profile_path.read_text(encoding="utf-8")
    try:
        edited = set_section_value(text, "serveur", key, value)
    except ValueError as exc:
        raise InputError(tr(f"{profile_path} : impossible d'y écrire serveur.{key} ({exc})",
                            f"{profile_path}: cannot write serveur.{key} into it ({exc})"),
                         hint=tr(f"ajoutez la ligne « {key}: {value} » sous « serveur: »",
                                 f"add the line '{key}: {value}' under 'serveur:'")) from None
    if edited == text:
        return
    tmp = profile_path.with_name(f".{profile_path.name}.acces")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 profile_path.stat().st_mode & 0o777)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(edited)
    os.replace(tmp, profile_path)


# --- the whole path --------------------------------------------------------------------------


def first_contact(profile_path: Path, dialog: Dialog, options: Options) -> Outcome:
    profile = load_profile(profile_path)
    serveur = profile.serveur
    if serveur.hote == "local":
        raise InputError(tr("serveur.hote vaut « local » : il n'y a pas de connexion SSH à "
                            "préparer", "serveur.hote is 'local': there is no SSH connection "
                            "to prepare"))
    key_path, public, created = ensure_key(serveur.cle_ssh)
    outcome = Outcome(key_path, created, account=serveur.utilisateur)
    dialog.tell(tr(f"Clé SSH {'créée' if created else 'utilisée'} : {key_path}",
                   f"SSH key {'created' if created else 'used'}: {key_path}"))
    _record_key(profile_path, profile, key_path, dialog)
    asked: list[fc.Password] = []

    def password() -> fc.Password:
        asked.append(dialog.password(tr(
            f"Mot de passe du compte « {options.account} » sur {serveur.hote} (envoyé par "
            "l'hébergeur ; il n'est ni affiché ni enregistré)",
            f"Password of the account '{options.account}' on {serveur.hote} (sent by the "
            "hosting provider; neither shown nor stored)")))
        return asked[0]

    opened = fc.open_with_password(
        serveur, options.account, password, confirm=dialog.host_key,
        accept_host_key=options.accept_host_key, known_hosts_file=options.known_hosts_file,
        timeout=options.timeout)
    with opened.transport:
        outcome.fingerprint = opened.fingerprint
        _connected(profile_path, profile, opened, options, dialog)
        _install(opened, serveur.utilisateur, public, options, dialog)
        keyed = serveur.model_copy(update={"cle_ssh": str(key_path)})
        _prove_key(keyed, options, dialog, after=False)
        if not options.keep_password_login and _close_asked(dialog):
            _close_passwords(opened, keyed, asked[0], options, dialog)
            outcome.password_login_closed = True
    return outcome


def _record_key(profile_path: Path, profile: Profile, key_path: Path, dialog: Dialog) -> None:
    current = profile.serveur.cle_ssh
    if current and Path(current).expanduser() == key_path:
        return
    record(profile_path, "cle_ssh", profile_form(key_path))
    dialog.tell(tr(f"Profil : serveur.cle_ssh: {profile_form(key_path)}",
                   f"Profile: serveur.cle_ssh: {profile_form(key_path)}"))


def _connected(profile_path: Path, profile: Profile, opened: fc.Opened, options: Options,
               dialog: Dialog) -> None:
    dialog.tell(tr(f"Connecté avec le mot de passe ; clé d'hôte {opened.fingerprint}",
                   f"Connected with the password; host key {opened.fingerprint}"))
    if not profile.serveur.empreinte_hote and opened.fingerprint:
        record(profile_path, "empreinte_hote", opened.fingerprint)
        dialog.tell(tr(f"Profil : serveur.empreinte_hote: {opened.fingerprint}",
                       f"Profile: serveur.empreinte_hote: {opened.fingerprint}"))


def _install(opened: fc.Opened, user: str, public: str, options: Options,
             dialog: Dialog) -> None:
    create = sudo_rule = False
    if user != options.account:
        exists, nopasswd = fc.account_state(opened.transport, user)
        create = not exists and _create_asked(user, options, dialog)
        if not exists and not create:
            raise InputError(
                tr(f"le compte « {user} » (serveur.utilisateur) n'existe pas sur le serveur",
                   f"the account '{user}' (serveur.utilisateur) does not exist on the server"),
                hint=tr("relancez avec --creer-compte, ou mettez « utilisateur: root » dans "
                        "le profil", "run again with --creer-compte, or set 'utilisateur: "
                        "root' in the profile"))
        sudo_rule = exists and not nopasswd and _sudo_asked(user, options, dialog)
    answer = fc.install_key(opened.transport, user, public, create=create, sudo_rule=sudo_rule)
    if answer.values.get("user") == "created":
        dialog.tell(tr(f"Compte « {user} » créé, sudo sans mot de passe",
                       f"Account '{user}' created, passwordless sudo"))
    elif answer.values.get("sudo") == "added":
        dialog.tell(tr(f"sudo sans mot de passe donné au compte « {user} »",
                       f"passwordless sudo given to the account '{user}'"))
    added = answer.values["key"] == "added"
    dialog.tell(tr(f"Clé publique {'installée' if added else 'déjà installée'} pour « {user} »",
                   f"Public key {'installed' if added else 'already installed'} for '{user}'"))


def _sudo_asked(user: str, options: Options, dialog: Dialog) -> bool:
    if options.create_account is not None:
        return options.create_account
    return dialog.confirm(tr(
        f"Le compte « {user} » n'a pas sudo sans mot de passe : le lui donner (kit-collab en "
        "a besoin pour agir en root sans taper de mot de passe) ?",
        f"The account '{user}' has no passwordless sudo: give it (kit-collab needs it to act "
        "as root without typing a password)?"), True)


def _create_asked(user: str, options: Options, dialog: Dialog) -> bool:
    if options.create_account is not None:
        return options.create_account
    return dialog.confirm(tr(
        f"Le compte « {user} » n'existe pas : le créer, avec sudo sans mot de passe (kit-collab "
        "en a besoin pour agir en root sans taper de mot de passe) ?",
        f"The account '{user}' does not exist: create it, with passwordless sudo (kit-collab "
        "needs it to act as root without typing a password)?"), True)


def _close_asked(dialog: Dialog) -> bool:
    return dialog.confirm(tr(
        "La clé fonctionne. Fermer la connexion SSH par mot de passe (recommandé : plus aucune "
        "tentative de mot de passe possible) ?",
        "The key works. Close SSH password login (recommended: no password guessing possible "
        "any more)?"), True)


def _prove_key(keyed: Serveur, options: Options, dialog: Dialog, *, after: bool) -> None:
    """A NEW connection with the key, and one command as root (sudo checked)."""
    with connect(keyed, known_hosts_file=options.known_hosts_file,
                 timeout=options.timeout) as transport:
        result = transport.run("true", timeout=60)
    if not result.ok:
        raise DeployError(tr("la commande de contrôle a échoué avec la clé",
                             "the check command failed with the key"))
    dialog.tell(tr(f"Connexion par clé vérifiée{' après le changement' if after else ''} "
                   f"({keyed.utilisateur}, sudo compris)",
                   f"Key login checked{' after the change' if after else ''} "
                   f"({keyed.utilisateur}, sudo included)"))


def _close_passwords(opened: fc.Opened, keyed: Serveur, password: fc.Password,
                     options: Options, dialog: Dialog) -> None:
    answer = fc.disable_passwords(opened.transport, options.sshd_config)
    if answer.code != 0:
        raise _not_closed(answer)
    fc.wait_for_sshd(keyed)
    try:
        _retry_while_reloading(lambda: _prove_key(keyed, options, dialog, after=True))
    except KitCollabError as exc:
        fc.enable_passwords(opened.transport, options.sshd_config)
        fc.wait_for_sshd(keyed)
        raise DeployError(tr(
            f"après le changement, la clé n'entrait plus ({exc.message}) : la connexion par "
            "mot de passe a été rouverte, rien n'est perdu",
            f"after the change the key no longer got in ({exc.message}): password login was "
            "opened again, nothing is lost")) from None
    if not fc.password_refused(keyed, options.account, password,
                               known_hosts_file=options.known_hosts_file,
                               timeout=options.timeout):
        raise DeployError(tr("le serveur accepte encore le mot de passe malgré le réglage",
                             "the server still accepts the password despite the setting"),
                          hint=tr("redémarrez le service SSH du serveur, puis relancez "
                                  "« kit-collab acces »", "restart the server's SSH service, "
                                  "then run 'kit-collab acces' again"))
    dialog.tell(tr("Connexion par mot de passe fermée : le serveur refuse désormais les mots "
                   "de passe (vérifié)", "Password login closed: the server now refuses "
                   "passwords (checked)"))


def _retry_while_reloading(attempt: Callable[[], None], seconds: float = 10) -> None:
    """sshd, reloading, stops listening for a moment (it re-executes itself on SIGHUP): a
    refused or cut connection is tried again until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            attempt()
            return
        except ConnectError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.3)


def _not_closed(answer: Answer) -> DeployError:
    kept = tr("la connexion par mot de passe reste ouverte et la clé fonctionne",
              "password login stays open and the key works")
    detail = " ; ".join(answer.lines[-3:])
    if answer.code == 4:
        whose = answer.values.get("sshd-t")
        cause = (tr("le réglage de kit-collab", "kit-collab's setting") if whose == "dropin"
                 else tr("la configuration SSH existante du serveur",
                         "the server's existing SSH configuration"))
        return DeployError(tr(f"« sshd -t » refuse la configuration ({cause}) : le fichier de "
                              f"kit-collab a été retiré, {kept}. {detail}",
                              f"'sshd -t' rejects the configuration ({cause}): kit-collab's "
                              f"file was removed, {kept}. {detail}"),
                           hint=tr("corrigez la configuration SSH du serveur (sshd -t la "
                                   "vérifie), puis relancez « kit-collab acces »",
                                   "fix the server's SSH configuration (sshd -t checks it), "
                                   "then run 'kit-collab acces' again"))
    return DeployError(tr(f"la connexion par mot de passe n'a pas pu être fermée ({_why(answer)}"
                          f") : {kept}", f"password login could not be closed "
                          f"({_why(answer)}): {kept}"))


def _why(answer: Answer) -> str:
    if answer.code == 5:
        return tr(f"un autre réglage l'emporte : {answer.values.get('effect', '').strip()}",
                  f"another setting wins: {answer.values.get('effect', '').strip()}")
    if answer.code == 6:
        return tr("le fichier sshd_config n'inclut pas sshd_config.d",
                  "sshd_config does not include sshd_config.d")
    return tr(f"code {answer.code}", f"code {answer.code}")

