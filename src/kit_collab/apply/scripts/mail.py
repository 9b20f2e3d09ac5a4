"""The mail relay seen from the server: connect, STARTTLS or TLS, AUTH, and optionally send.

One script runs curl (the distribution's package) on the server, as Nextcloud and Synapse
will reach the relay from there. curl's SMTP support (curl(1), curl 7.88 in Debian 12, 8.14
in Debian 13, 8.5 in Ubuntu 24.04: ``smtp://`` with ``--ssl-reqd`` demands STARTTLS,
``smtps://`` is TLS from the first byte, ``--mail-from``/``--mail-rcpt``/``--upload-file``
send a message, ``--crlf`` ends its lines as SMTP wants, ``--request`` replaces the final
command) gives one exit code per failure.
The login and password reach curl only through its standard input, as a config file
(``--config -``, curl(1) "-K, --config"): never on a command line, never verbose (-v would
print the AUTH exchange). Pure: builders return text, the parser reads curl's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from kit_collab.apply.scripts.common import q

CONNECT_TIMEOUT = 10
MAX_TIME = 40
NO_CURL = 90  # the script's own code: curl is not installed on the server

# curl(1) "EXIT CODES" -> what went wrong, in kit-collab's words (check/rules/mail.py).
CURL_CODES = {
    6: "resolution",  # Couldn't resolve host
    7: "connexion",  # Failed to connect to host
    28: "delai",  # Operation timeout
    35: "tls",  # SSL connect error (handshake)
    60: "certificat",  # Peer certificate cannot be authenticated with known CA certificates
    64: "starttls",  # Requested SSL level failed (--ssl-reqd: no STARTTLS offered)
    67: "authentification",  # The user name, password, or similar was not accepted
    55: "envoi",  # Failed sending network data (a refused sender or recipient)
    8: "reponse",  # Weird server reply
    56: "reception",  # Failure in receiving network data
    NO_CURL: "curl-absent",
}


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    implicit_tls: bool  # smtps:// (TLS from the first byte) rather than STARTTLS
    login: str


def curl_quote(value: str) -> str:
    """A double-quoted curl config value (curl(1) "-K, --config": within quotes, \\\\, \\",
    \\t, \\n, \\r and \\v are escapes)."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace("\v", "\\v")
    return f'"{out}"'


def credentials(relay: Relay, password: str) -> bytes:
    """curl's config on its standard input: the only place the password goes."""
    return f"user = {curl_quote(relay.login + ':' + password)}\n".encode()


def _url(relay: Relay) -> str:
    scheme = "smtps" if relay.implicit_tls else "smtp"
    return f"{scheme}://{relay.host}:{int(relay.port)}"


def _curl(relay: Relay, cafile: str | None, extra: str) -> str:
    options = [f"--connect-timeout {CONNECT_TIMEOUT}", f"--max-time {MAX_TIME}", "-sS"]
    if not relay.implicit_tls:
        options.append("--ssl-reqd")  # STARTTLS or nothing: never a password in clear
    if cafile:
        options.append(f"--cacert {q(cafile)}")
    return f"curl {' '.join(options)} --config - {extra}{q(_url(relay))}"


def probe(relay: Relay, *, cafile: str | None = None) -> str:
    """Connect, secure, authenticate, then NOOP: nothing is sent. Run with ``credentials``
    on stdin; prints ``curl-exit=N``."""
    return f"""command -v curl >/dev/null 2>&1 || {{ echo "curl-exit={NO_CURL}"; exit 0; }}
code=0
{_curl(relay, cafile, "--request NOOP ")} 2>&1 || code=$?
echo "curl-exit=$code\""""


def message(sender: str, to: str, commune: str, relay_host: str, date: str) -> bytes:
    """The test message (French), as RFC 5322 bytes."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = date
    msg["Subject"] = f"Message d'essai de kit-collab ({commune})"
    msg.set_content(
        f"Bonjour,\n\nCe message d'essai a été envoyé par kit-collab depuis le serveur de "
        f"{commune}, par le relais {relay_host}.\n\nS'il vous parvient, Nextcloud (mot de "
        f"passe oublié, partages, invitations) et Matrix (notifications) peuvent envoyer "
        f"leurs e-mails.\n")
    return msg.as_bytes()


def send(relay: Relay, sender: str, to: str, body: bytes, *, cafile: str | None = None) -> str:
    """Send ``body`` from ``sender`` to ``to`` through the relay (credentials on stdin, the
    message in a temporary file); prints ``curl-exit=N``."""
    # --crlf: the lines go out ending in CRLF, as SMTP wants them (RFC 5321 2.3.8).
    extra = f"--mail-from {q(sender)} --mail-rcpt {q(to)} --crlf --upload-file \"$msg\" "
    return f"""command -v curl >/dev/null 2>&1 || {{ echo "curl-exit={NO_CURL}"; exit 0; }}
msg=$(mktemp)
trap 'rm -f "$msg"' EXIT
printf '%s' {q(body.decode("utf-8"))} > "$msg"
code=0
{_curl(relay, cafile, extra)} 2>&1 || code=$?
echo "curl-exit=$code\""""


@dataclass(frozen=True)
class Outcome:
    code: int  # curl's exit code (0: done)
    problem: str  # a key of CURL_CODES ("" when done, "autre" when unknown)
    detail: str  # curl's own error line, for the report


def parse(output: str) -> Outcome:
    """The outcome of ``probe`` or ``send`` from their output."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    code = -1
    for line in lines:
        if line.startswith("curl-exit="):
            value = line.removeprefix("curl-exit=")
            code = int(value) if value.isdigit() else -1
    detail = next((line for line in reversed(lines) if line.startswith("curl:")), "")
    problem = "" if code == 0 else CURL_CODES.get(code, "autre")
    return Outcome(code, problem, detail)


# --- a sender for scripts the server runs alone (the nightly backup's failure report) -------


def config_path(root: str, slug: str) -> str:
    """Where the server keeps the relay's curl config (beside secrets.json: 0700 folder, a
    0600 root file)."""
    return f"{root}/communes/{slug}/secrets/messagerie.curl"


def sender_config(relay: Relay, password: str, sender: str) -> bytes:
    """The curl config a server-side script sends with (``curl --config FILE``): relay,
    security, login and password, envelope sender. A secret: stored 0600, never printed."""
    lines = [f"url = {curl_quote(_url(relay))}", f"user = {curl_quote(relay.login + ':' + password)}",
             f"mail-from = {curl_quote(sender)}", f"connect-timeout = {CONNECT_TIMEOUT}",
             f"max-time = {MAX_TIME}", "silent", "show-error", "crlf"]
    if not relay.implicit_tls:
        lines.append("ssl-reqd")
    return ("\n".join(lines) + "\n").encode()


def _subject(text: str) -> str:
    """A Subject header value, RFC 2047-encoded when it is not ASCII."""
    from email.header import Header

    return Header(text, "utf-8").encode() if not text.isascii() else text


def notify(config: str, sender: str, to: str, subject: str, body_var: str = "rapport") -> str:
    """A shell snippet sending the text of ``$body_var`` to ``to`` with the stored ``config``
    (``sender_config``); curl's exit code in ``$mail_code``, never fatal to the caller."""
    if any(c in value for value in (sender, to, subject) for c in "\r\n"):
        raise ValueError("a mail header value cannot hold a line break")
    headers = (f"From: {sender}\nTo: {to}\nSubject: {_subject(subject)}\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
    return f"""mail_msg=$(mktemp)
printf '%s%s\\n' {q(headers)} "${body_var}" > "$mail_msg"
mail_code=0
curl --config {q(config)} --mail-rcpt {q(to)} --upload-file "$mail_msg" || mail_code=$?
rm -f "$mail_msg\""""
