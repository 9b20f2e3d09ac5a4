"""The recovery sheet ("fiche de secours"): one A4 page for the town hall's safe with the
backup destination, the repository password and the three commands that bring the commune
back on a new server, and who to call.

Written beside the agents' sheets, in the same private folder (0700, file 0600); never
printed to the terminal or logged (the password is registered with the redaction first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit_collab.errors import RenderError
from kit_collab.handover.sheets import _environment, _private_folder, _write_private
from kit_collab.i18n import tr
from kit_collab.profile.backup_model import CREDENTIALS
from kit_collab.profile.model import Profile
from kit_collab.redact import remember

RECOVERY = "fiche-de-secours.html"


def _context(profile: Profile, password: str) -> dict[str, Any]:
    section = profile.sauvegardes
    if section is None:
        raise RenderError(tr("pas de section « sauvegardes: » : pas de fiche de secours",
                             "no 'sauvegardes:' section: no recovery sheet"))
    commune = profile.commune
    return {
        "commune": {"nom": commune.nom, "code": commune.code, "domaine": commune.domaine,
                    "email_contact": commune.email_contact},
        "serveur": {"hote": profile.serveur.hote},
        "sauvegarde": {"type": section.type, "adresse": section.adresse,
                       "mot_de_passe": password,
                       "identifiants": list(CREDENTIALS.get(section.type, ()))},
        "assistance": profile.assistance.model_dump() if profile.assistance else None,
    }


def render_recovery(profile: Profile, password: str) -> str:
    """The sheet's HTML."""
    if not password:
        raise RenderError(tr("mot de passe du dépôt de sauvegarde inconnu : pas de fiche de "
                             "secours", "backup repository password unknown: no recovery "
                             "sheet"))
    remember([password])
    return _environment().get_template("secours.html.j2").render(_context(profile, password))


def write_recovery(profile: Profile, password: str, folder: Path) -> Path:
    """Write the sheet into ``folder`` (0700; the file 0600). Prints nothing."""
    text = render_recovery(profile, password)
    _private_folder(folder)
    path = folder / RECOVERY
    _write_private(path, text)
    return path
