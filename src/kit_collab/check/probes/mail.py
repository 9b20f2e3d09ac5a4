"""The mail relay probed from the server (``check``), and the test message
(``check --envoyer-test adresse``): one round trip each, the password on curl's stdin."""

from __future__ import annotations

import re
from email.utils import formatdate
from typing import Any

from kit_collab.apply.scripts import mail as script
from kit_collab.check.findings import OK, Finding
from kit_collab.check.rules.mail import no_section, relay_findings, test_message_findings
from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.profile.mail_model import SECRET_BUCKET, SECRET_KEY, Messagerie

_ADDRESS = re.compile(r"^[^@\s\"'<>,;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
TIMEOUT = script.MAX_TIME + 30


def relay(m: Messagerie) -> script.Relay:
    return script.Relay(m.relais, m.port, m.tls_implicite, m.identifiant)


def check_address(to: str, *, server: bool = True) -> str:
    """The address given to --envoyer-test, or an input error (exit 2): a bad address, or
    no server to send from (--no-server)."""
    if not server:
        raise InputError(tr("--envoyer-test envoie depuis le serveur : il ne va pas avec "
                            "--no-server", "--envoyer-test sends from the server: it does not "
                            "go with --no-server"))
    if not _ADDRESS.match(to.strip()):
        raise InputError(tr(f"« {to} » n'est pas une adresse e-mail",
                            f"'{to}' is not an e-mail address"),
                         hint=tr("ex. : --envoyer-test secretariat@mairie.fr",
                                 "e.g. --envoyer-test secretariat@town.fr"))
    return to.strip()


def _run(transport: Any, text: str, stdin: bytes) -> script.Outcome:
    result = transport.run(text, stdin=stdin, sudo=False, timeout=TIMEOUT)
    return script.parse(result.stdout.decode("utf-8", "replace"))


def mail_findings(transport: Any, m: Messagerie, secrets: dict[str, dict[str, str]], *,
                  send_to: str | None = None, commune: str = "",
                  cafile: str | None = None) -> list[Finding]:
    """The relay probe (connect, STARTTLS or TLS, AUTH); with ``send_to``, then a test
    message. ``cafile``: one more authority the server's curl trusts (tests)."""
    password = secrets.get(SECRET_BUCKET, {}).get(SECRET_KEY, "")
    target = relay(m)
    stdin = script.credentials(target, password)
    found = relay_findings(m, _run(transport, script.probe(target, cafile=cafile), stdin))
    if send_to is None or found[0].level != OK:
        return found
    body = script.message(m.expediteur, send_to, commune or m.expediteur_domaine, m.relais,
                          formatdate(localtime=False, usegmt=True))
    text = script.send(target, m.expediteur, send_to, body, cafile=cafile)
    return found + test_message_findings(m, send_to, _run(transport, text, stdin))


def mail_check(transport: Any, profile: Any, secrets: dict[str, dict[str, str]],
               send_to: str | None) -> list[Finding]:
    """``check``'s part: the relay of the profile's ``messagerie`` section (nothing without
    one), and the test message when asked; asked without a section, an error that says so."""
    if profile.messagerie is None:
        return [] if send_to is None else [no_section()]
    return mail_findings(transport, profile.messagerie, secrets, send_to=send_to,
                         commune=profile.commune.nom)
