"""Nextcloud's apps: every app a recipe's task installs or enables is enabled on the server
(Calendar and Contacts are promised by the agents' sheets and not shipped with Nextcloud)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from kit_collab.bundle.model import Task
from kit_collab.check.findings import ERROR, OK, WARNING, Finding
from kit_collab.i18n import tr

SERVICE = "nextcloud"
_OCC_APP = re.compile(r"^app:(install|enable)$")
NAMES = {"calendar": "Agenda", "contacts": "Contacts", "deck": "Deck",
         "groupfolders": "Dossiers partagés", "richdocuments": "Nextcloud Office"}


def _words(argv: Iterable[str]) -> list[str]:
    """The words of a task, those of an `sh -c` script included."""
    out: list[str] = []
    for arg in argv:
        try:
            out += shlex.split(arg) if " " in arg else [arg]
        except ValueError:
            out.append(arg)
    return out


def expected_apps(tasks: Iterable[Task]) -> list[str]:
    """The apps the tasks of the Nextcloud container install or enable, in task order."""
    out: list[str] = []
    for task in tasks:
        if task.service != SERVICE:
            continue
        words = _words(task.argv)
        for i, word in enumerate(words[:-1]):
            app = words[i + 1]
            if _OCC_APP.match(word) and re.fullmatch(r"[a-z0-9_]+", app) and app not in out:
                out.append(app)
    return out


def app_findings(expected: list[str], enabled: set[str] | None) -> list[Finding]:
    if not expected:
        return []
    if enabled is None:
        return [Finding(WARNING, SERVICE, "applications", tr(
            "liste des applications de Nextcloud illisible (occ app:list)",
            "Nextcloud's app list could not be read (occ app:list)"), tr(
            "vérifiez que Nextcloud est installé et démarré (kit-collab status)",
            "check that Nextcloud is installed and running (kit-collab status)"))]
    missing = [a for a in expected if a not in enabled]
    out = [Finding(ERROR, SERVICE, f"application {app}", tr(
        f"l'application {NAMES.get(app, app)} ({app}) n'est pas activée dans Nextcloud",
        f"the {NAMES.get(app, app)} app ({app}) is not enabled in Nextcloud"), tr(
        "relancez kit-collab install : sa tâche l'installe depuis le magasin d'applications de "
        "Nextcloud, que le serveur doit pouvoir joindre en HTTPS",
        "run kit-collab install again: its task installs it from Nextcloud's app store, "
        "which the server must reach over HTTPS")) for app in missing]
    if not missing:
        out.append(Finding(OK, SERVICE, "applications", tr(
            f"applications activées : {', '.join(expected)}",
            f"apps enabled: {', '.join(expected)}")))
    return out
