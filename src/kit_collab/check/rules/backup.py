"""Backups in ``check``: from the server's ``derniere.json`` and ``verification.json`` (written
by ``sauvegarder.sh``) to findings. Pure: ``now`` is an argument.

An error, each with its fix: the last backup older than 36 hours, failed, or interrupted;
the destination unreachable; the last integrity check failed. A warning: no ``sauvegardes``
section (nothing is saved), or no integrity check for more than 8 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kit_collab.check.findings import ERROR, OK, SERVER, WARNING, Finding
from kit_collab.i18n import tr

MAX_AGE_H = 36
CHECK_MAX_DAYS = 8
RUNNING_MAX_H = 8  # a run this young may still be going ("en-cours-ou-interrompue")
CHECK = "sauvegardes"
UNREACHABLE_WORDS = ("injoignable", "connection refused", "no route to host", "timeout",
                     "no such host", "dial tcp", "unreachable", "connection reset")


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _hours(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else (now - since).total_seconds() / 3600


def _finding(level: Any, message: str, fix: str = "") -> Finding:
    return Finding(level, SERVER, CHECK, message, fix)


def no_section() -> Finding:
    return _finding(WARNING, tr("aucune sauvegarde configurée : les données de la commune ne "
                                "survivraient pas à la perte du serveur",
                                "no backups configured: the commune's data would not survive "
                                "the loss of its server"),
                    tr("ajoutez une section « sauvegardes » au profil (voir examples/"
                       "petite-commune.yaml), puis « kit-collab install »",
                       "add a 'sauvegardes' section to the profile (see examples/"
                       "petite-commune.yaml), then run 'kit-collab install'"))


def backup_findings(last: Mapping[str, Any] | None, checked: Mapping[str, Any] | None,
                    now: datetime) -> list[Finding]:
    """The findings of the last backup and of the last integrity check, and of an alert
    e-mail about either that could not be sent."""
    return [_last_finding(last, now), *_check_findings(checked, now),
            *_alert_findings(last, checked)]


def _alert_findings(*records: Mapping[str, Any] | None) -> list[Finding]:
    """A failure whose e-mail to the commune's contact did not leave (``alerte_envoyee``
    false, curl's code in ``alerte_code``; apply/scripts/backup_notify.py)."""
    codes = [str(r.get("alerte_code", "?")) for r in records
             if r and r.get("alerte_envoyee") is False]
    if not codes:
        return []
    return [_finding(WARNING, tr(
        f"l'alerte par e-mail d'un échec de sauvegarde n'a pas pu partir (code curl {codes[0]})",
        f"the e-mail alert of a backup failure could not be sent (curl code {codes[0]})"),
        tr("vérifiez le relais : kit-collab check commune.yaml --envoyer-test votre@adresse",
           "check the relay: kit-collab check commune.yaml --envoyer-test your@address"))]


def _last_finding(last: Mapping[str, Any] | None, now: datetime) -> Finding:
    rerun = tr("lancez « kit-collab backup » et lisez son message",
               "run 'kit-collab backup' and read its message")
    if not last:
        return _finding(ERROR, tr("aucune sauvegarde n'a encore été faite",
                                  "no backup has been made yet"), rerun)
    ok_at = _when(last.get("derniere_reussie")) or (
        _when(last.get("fin")) if last.get("ok") else None)
    age = _hours(ok_at, now)
    error = str(last.get("erreur") or "")
    if not last.get("ok"):
        started = _hours(_when(last.get("debut")), now)
        if error == "en-cours-ou-interrompue" and started is not None and \
                started < RUNNING_MAX_H and age is not None and age < MAX_AGE_H:
            return _finding(OK, tr("sauvegarde en cours", "backup running"))
        if any(w in error.lower() for w in UNREACHABLE_WORDS):
            return _finding(ERROR, tr(f"destination des sauvegardes injoignable : {error}",
                                      f"backup destination unreachable: {error}"),
                            tr("vérifiez l'adresse et le réseau de la destination et ses "
                               "identifiants, puis " + "lancez « kit-collab backup »",
                               "check the destination's address, network and credentials, "
                               "then run 'kit-collab backup'"))
        return _finding(ERROR, tr(f"la dernière sauvegarde a échoué : {error or '?'}",
                                  f"the last backup failed: {error or '?'}"), rerun)
    if age is None or age > MAX_AGE_H:
        shown = "?" if age is None else f"{age:.0f} h"
        return _finding(ERROR, tr(f"dernière sauvegarde réussie il y a {shown} (plus de "
                                  f"{MAX_AGE_H} h)", f"last successful backup {shown} ago "
                                  f"(more than {MAX_AGE_H} h)"),
                        tr("vérifiez la minuterie sur le serveur (systemctl list-timers "
                           "'kit-collab-sauvegarde-*'), puis lancez « kit-collab backup »",
                           "check the timer on the server (systemctl list-timers "
                           "'kit-collab-sauvegarde-*'), then run 'kit-collab backup'"))
    return _finding(OK, tr(f"dernière sauvegarde il y a {age:.0f} h ({last.get('snapshot')})",
                           f"last backup {age:.0f} h ago ({last.get('snapshot')})"))


def _check_findings(checked: Mapping[str, Any] | None, now: datetime) -> list[Finding]:
    if not checked:
        return []
    if not checked.get("ok"):
        return [_finding(ERROR, tr(f"la vérification d'intégrité des sauvegardes a échoué : "
                                   f"{checked.get('erreur') or '?'}", "the backups' integrity "
                                   f"check failed: {checked.get('erreur') or '?'}"),
                         tr("les sauvegardes peuvent être abîmées : faites-en une nouvelle "
                            "(« kit-collab backup ») et prévenez la personne qui gère la "
                            "destination", "backups may be damaged: take a new one "
                            "('kit-collab backup') and tell whoever runs the destination"))]
    age = _hours(_when(checked.get("date")), now)
    if age is None or age > CHECK_MAX_DAYS * 24:
        return [_finding(WARNING, tr(f"aucune vérification d'intégrité depuis plus de "
                                     f"{CHECK_MAX_DAYS} jours", f"no integrity check for "
                                     f"more than {CHECK_MAX_DAYS} days"),
                         tr("vérifiez la minuterie de vérification sur le serveur",
                            "check the verification timer on the server"))]
    return []


def destination_finding(failure: tuple[str, str] | None) -> list[Finding]:
    """The destination probed now (``sauvegarder.sh sonder``): an error when it does not
    answer, nothing when it does."""
    if failure is None:
        return []
    kind, detail = failure
    if kind == "mot-de-passe":
        return [_finding(ERROR, tr(f"mot de passe du dépôt de sauvegarde refusé : {detail}",
                                   f"backup repository password refused: {detail}"),
                         tr("remettez secrets/restic.pass depuis la fiche de secours",
                            "put secrets/restic.pass back from the recovery sheet"))]
    return [_finding(ERROR, tr(f"destination des sauvegardes injoignable : {detail}",
                               f"backup destination unreachable: {detail}"),
                     tr("vérifiez l'adresse, le réseau et les identifiants de la destination, "
                        "puis lancez « kit-collab backup »", "check the destination's address, "
                        "network and credentials, then run 'kit-collab backup'"))]
