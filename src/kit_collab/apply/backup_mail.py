"""The backups' failure e-mail on the server: who is told (the ``alerte`` function baked into
``sauvegarder.sh``) and the relay's curl config beside the backup settings.

The config holds the relay's password: it travels on stdin only (the transport logs no
stdin), is stored 0600 in the commune's 0700 secrets folder and is never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit_collab.apply.runner import run
from kit_collab.apply.scripts import backup_notify, mail
from kit_collab.apply.scripts.backup import NO_ALERT
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.profile.mail_model import SECRET_BUCKET, SECRET_KEY
from kit_collab.profile.model import Profile
from kit_collab.redact import redact, remember


def alert(profile: Profile) -> backup_notify.Alert | None:
    m = profile.messagerie
    if m is None:
        return None
    c = profile.commune
    return backup_notify.Alert(m.expediteur, c.email_contact, c.nom, c.fuseau_horaire)


def functions(profile: Profile) -> str:
    """The ``alerte`` function of the commune's ``sauvegarder.sh``."""
    found = alert(profile)
    if found is None:
        return NO_ALERT
    return backup_notify.functions(profile.serveur.racine, profile.commune.code, found)


def store_sender(transport: Any, profile: Profile,
                 secrets: Mapping[str, Mapping[str, str]] | None) -> bool:
    """Write the relay's curl config (or remove it without ``messagerie``). Without the
    relay's password in ``secrets`` (None: not known here), the one on the server stays.
    Returns whether a failure will be e-mailed. Raises DeployError."""
    m = profile.messagerie
    password = (secrets or {}).get(SECRET_BUCKET, {}).get(SECRET_KEY, "")
    if m is not None and not password:
        return True  # kept as it is on the server (alerte() checks it is there)
    config = b""
    if m is not None:
        remember([password])
        relay = mail.Relay(m.relais, m.port, m.tls_implicite, m.identifiant)
        config = mail.sender_config(relay, password, m.expediteur)
    root, slug = profile.serveur.racine, profile.commune.code
    out = run(transport, backup_notify.write_config(root, slug), stdin=config, timeout=60)
    if out.code != 0:
        text = redact((out.stdout + out.stderr).decode("utf-8", "replace")).strip()
        raise DeployError(tr(f"configuration de l'alerte des sauvegardes impossible : {text}",
                             f"backup alert set-up failed: {text}"))
    return m is not None
