"""Secrets the operator gives (the mail relay's password): read from the environment, or
typed once at a prompt that does not echo. Asked only when the server (or the local secrets
file) does not have it yet; then kept with the other secrets, never in the profile, output,
logs or any command line."""

from __future__ import annotations

import getpass
import os
import sys
import threading

from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.profile.mail_model import PASSWORD_ENV, SECRET_NAME
from kit_collab.redact import remember

_ENV = {SECRET_NAME: PASSWORD_ENV}
_LOCK = threading.Lock()  # a fleet asks from several threads: one prompt at a time


def ask(name: str) -> str:
    """The value of the secret ``name``: its environment variable, else a prompt (a
    terminal only), else an input error naming the variable."""
    variable = _ENV.get(name, "")
    value = os.environ.get(variable, "") if variable else ""
    if not value and sys.stdin.isatty():
        with _LOCK:
            value = getpass.getpass(tr(
                f"Mot de passe du relais d'envoi des e-mails ({name}, rien ne s'affiche) : ",
                f"Mail relay password ({name}, nothing is shown): "))
    if not value:
        raise InputError(
            tr(f"mot de passe du relais d'envoi des e-mails inconnu ({name})",
               f"mail relay password unknown ({name})"),
            hint=tr(f"mettez-le dans la variable d'environnement {variable} (ou lancez la "
                    "commande dans un terminal pour le taper) ; il sera gardé avec les "
                    "secrets du serveur",
                    f"put it in the environment variable {variable} (or run the command in a "
                    "terminal to type it); it is kept with the server's secrets"))
    remember([value])
    return value


def replaced(name: str) -> str:
    """A new value the operator gives for a secret kept on the server: its environment
    variable when set ("" otherwise). Changing the relay's password is setting it."""
    value = os.environ.get(_ENV.get(name, ""), "") if name in _ENV else ""
    if value:
        remember([value])
    return value


def install() -> None:
    from kit_collab.bundle.secrets import set_asker

    set_asker(ask, replaced)
