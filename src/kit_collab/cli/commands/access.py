"""``kit-collab acces``: prepare the key-based SSH connection to a new server from the password
the hosting provider sent (operations/access.py does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.i18n import tr

HELP = tr(
    "Prépare la connexion au serveur à partir du mot de passe envoyé par l'hébergeur : crée "
    "une clé SSH sur ce poste s'il n'y en a pas (serveur.cle_ssh), se connecte une fois avec "
    "le mot de passe (tapé, jamais enregistré), fait vérifier l'empreinte du serveur, installe "
    "la clé pour le compte du profil (serveur.utilisateur ; créé si besoin avec sudo sans mot "
    "de passe, car kit-collab agit en root par « sudo -n » et ne peut pas taper de mot de "
    "passe), vérifie que la clé fonctionne, puis seulement ferme la connexion par mot de passe.",
    "Prepare the connection to the server from the password the hosting provider sent: "
    "creates an SSH key on this machine when there is none (serveur.cle_ssh), connects once "
    "with the password (typed, never stored), has the server's fingerprint checked, installs "
    "the key for the profile's account (serveur.utilisateur; created if needed with "
    "passwordless sudo, since kit-collab acts as root through 'sudo -n' and cannot type a "
    "password), checks that the key works, and only then closes password login.")


def register(app: typer.Typer) -> None:
    @app.command("acces", help=HELP)
    def acces(
        profile: Annotated[Path, options.profile_argument()],
        compte: Annotated[str, typer.Option("--compte", help=tr(
            "Compte dont l'hébergeur a donné le mot de passe.",
            "Account whose password the hosting provider gave."))] = "root",
        creer_compte: Annotated[bool | None, typer.Option(
            "--creer-compte/--sans-creer-compte", show_default=False, help=tr(
                "Créer le compte du profil s'il manque, ou lui donner sudo sans mot de passe "
                "s'il ne l'a pas (sinon la question est posée).",
                "Create the profile's account when missing, or give it passwordless sudo "
                "when it has not (else it is asked)."))] = None,
        garder: Annotated[bool, typer.Option("--garder-mot-de-passe", help=tr(
            "Laisser la connexion SSH par mot de passe ouverte.",
            "Leave SSH password login open."))] = False,
        stdin: Annotated[bool, typer.Option("--mot-de-passe-stdin", help=tr(
            "Lire le mot de passe sur l'entrée standard (scripts), pas au clavier.",
            "Read the password from standard input (scripts), not the keyboard."))] = False,
        accept_host_key: Annotated[str | None, options.host_key_option()] = None,
    ) -> None:
        raise typer.Exit(run(profile, account=compte, create_account=creer_compte,
                             keep_password_login=garder, password_stdin=stdin,
                             accept_host_key=accept_host_key))


class TerminalDialog:
    """The questions on the terminal; without one, the options' answers."""

    def __init__(self, *, interactive: bool, password_stdin: bool) -> None:
        from kit_collab.cli.session import _confirm_host_key

        self.interactive = interactive
        self.password_stdin = password_stdin
        self.host_key: Any = _confirm_host_key if interactive else None

    def password(self, question: str) -> Any:
        import getpass
        import sys

        from kit_collab.apply.first_contact import Password
        from kit_collab.errors import InputError

        if self.password_stdin:
            text = sys.stdin.readline().rstrip("\r\n")
        elif self.interactive:
            text = getpass.getpass(f"{question}{tr(' : ', ': ')}")
        else:
            raise InputError(tr("pas de terminal pour taper le mot de passe",
                                "no terminal to type the password on"),
                             hint=tr("utilisez --mot-de-passe-stdin", "use --mot-de-passe-stdin"))
        if not text:
            raise InputError(tr("mot de passe vide", "empty password"))
        return Password(text)

    def confirm(self, question: str, default: bool) -> bool:
        from kit_collab.cli.output import esc, out
        from kit_collab.cli.prompts import yes_no

        if not self.interactive:
            return default
        return yes_no(f"[bold]{esc(question)}[/]", default=default, console=out)

    def tell(self, text: str) -> None:
        from kit_collab.cli.output import esc, out

        out.print(f"[green]✓[/] {esc(text)}")


def run(profile_path: Path, *, account: str = "root", create_account: bool | None = None,
        keep_password_login: bool = False, password_stdin: bool = False,
        accept_host_key: str | None = None) -> int:
    from kit_collab import constants
    from kit_collab.cli import session
    from kit_collab.cli.output import esc, out
    from kit_collab.operations import access

    dialog = TerminalDialog(interactive=session.interactive() and not password_stdin,
                            password_stdin=password_stdin)
    opts = access.Options(account=account, create_account=create_account,
                          keep_password_login=keep_password_login,
                          accept_host_key=accept_host_key)
    outcome = access.first_contact(profile_path, dialog, opts)
    if not outcome.password_login_closed:
        out.print(tr("La connexion par mot de passe reste ouverte (fermez-la en relançant "
                     "« kit-collab acces » sans --garder-mot-de-passe).",
                     "Password login stays open (close it by running 'kit-collab acces' "
                     "again without --garder-mot-de-passe)."))
    out.print(tr(f"Ensuite : kit-collab install {esc(profile_path)} --dry-run",
                 f"Next: kit-collab install {esc(profile_path)} --dry-run"))
    return constants.EXIT_OK


def offer_after_init(profile_path: Path, hote: str) -> int:
    """The end of ``kit-collab init`` on a terminal: prepare the connection now, or say how
    later. The profile is written already; a failure here is told and its code returned."""
    from kit_collab import constants
    from kit_collab.cli.output import esc, out, report_error
    from kit_collab.cli.prompts import yes_no
    from kit_collab.errors import KitCollabError

    later = tr(f"  Plus tard : kit-collab acces {esc(profile_path)}",
               f"  Later: kit-collab acces {esc(profile_path)}")
    if hote == "local":
        return constants.EXIT_OK
    out.print(tr("\n[bold]Connexion au serveur[/] : kit-collab se connecte par clé SSH. Avec le "
                 "mot de passe envoyé par l'hébergeur, il peut créer la clé, l'installer, puis "
                 "fermer la connexion par mot de passe.",
                 "\n[bold]Connection to the server[/]: kit-collab connects with an SSH key. "
                 "With the password the hosting provider sent, it can create the key, install "
                 "it, then close password login."))
    if not yes_no(tr("[bold]Préparer la connexion maintenant ?[/]",
                     "[bold]Prepare the connection now?[/]"), default=True, console=out):
        out.print(later)
        return constants.EXIT_OK
    from kit_collab.cli.init_dialog import RichDialog

    account = RichDialog(out).ask(tr("Compte dont l'hébergeur a envoyé le mot de passe",
                                     "Account whose password the hosting provider sent"), "root")
    try:
        return run(profile_path, account=account.strip() or "root")
    except KitCollabError as exc:
        report_error(exc)
        out.print(later)
        return exc.exit_code
