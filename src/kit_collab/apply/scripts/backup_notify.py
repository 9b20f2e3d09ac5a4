"""The nightly backup's failure report: one French e-mail to the commune's contact.

``sauvegarder.sh`` (apply/scripts/backup.py) calls ``alerte WHAT CODE SENTENCE FILE`` when a
run fails (any error kind, an interrupted run, the weekly integrity check). The message goes
through the relay of the profile's ``messagerie:`` section with the curl config kept on the
server (apply/scripts/mail.py ``sender_config``, a 0600 root file): the password is read by
curl from that file, never on a command line (curl(1) "-K, --config", curl 7.88 in Debian 12).
The mail never changes the backup's exit code nor its outcome: curl's code is only noted in the
status file (``"alerte_envoyee": true``, or ``false`` with ``"alerte_code"``); curl's own
words go to ``travail/alerte.err``, not to the run's error output. Pure: builders return text.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit_collab.apply.scripts import mail
from kit_collab.apply.scripts.backup import (
    CREDENTIALS_EXIT,
    FULL_EXIT,
    LOCKED_EXIT,
    UNREACHABLE_EXIT,
    WRONG_PASSWORD_EXIT,
)
from kit_collab.apply.scripts.common import commune_dir, q

ERR_FILE = "alerte.err"  # in sauvegarde/travail: curl's last words when the mail failed

# What failed, by sauvegarder.sh's exit code, as the secretary reads it.
WHAT = {
    WRONG_PASSWORD_EXIT: "le mot de passe du dépôt de sauvegarde a été refusé",
    UNREACHABLE_EXIT: "la destination des sauvegardes ne répond pas",
    FULL_EXIT: "la destination des sauvegardes est pleine",
    LOCKED_EXIT: "le dépôt de sauvegarde est occupé par une autre opération",
    CREDENTIALS_EXIT: "les identifiants de la destination des sauvegardes manquent",
    130: "la sauvegarde a été interrompue",
}
OTHER = "la sauvegarde n'a pas pu se terminer"
CHECK_FAILED = "le contrôle d'intégrité a trouvé des erreurs dans le dépôt de sauvegarde"
KEPT = ("Les sauvegardes précédentes restent intactes, mais tant que le problème n'est pas "
        "réglé, les nouvelles données ne sont plus mises à l'abri.")
DAMAGED = ("Tant que le dépôt n'est pas réparé, une restauration depuis ces sauvegardes "
           "pourrait être incomplète : traitez-le sans attendre.")


@dataclass(frozen=True)
class Alert:
    """Who is told, from where: the profile's ``messagerie`` and ``commune`` sections."""

    sender: str  # messagerie.expediteur
    to: str  # commune.email_contact
    commune: str  # commune.nom
    timezone: str  # commune.fuseau_horaire, for the date in the message


def subject(what: str, commune: str) -> str:
    if what == "verification":
        return f"Échec de la vérification des sauvegardes : {commune}"
    return f"Échec de la sauvegarde : {commune}"


_BODY = ("Bonjour,\\n\\n%s de la commune %s a échoué sur le serveur %s.\\n\\n"
         "Quand : %s\\nCe qui a échoué : %s\\nErreur : %s\\n\\n%s\\n\\n"
         "Que faire : sur l'ordinateur qui sert à administrer le serveur, lancez\\n\\n"
         "    kit-collab check commune.yaml\\n\\n"
         "(commune.yaml : le fichier de profil de la commune). Il dit la cause et la "
         "correction. Une fois corrigé, « kit-collab backup commune.yaml » refait une "
         "sauvegarde tout de suite.\\n\\n"
         "Ce message est envoyé automatiquement par kit-collab ; n'y répondez pas.\\n")


def _cases() -> str:
    return "".join(f"    {code}) al_quoi={q(text)} ;;\n" for code, text in WHAT.items())


def functions(root: str, slug: str, alert: Alert | None) -> str:
    """The ``alerte`` shell function of ``sauvegarder.sh`` (a no-op without ``messagerie``,
    or while the curl config is not on the server). Arguments: ``sauvegarde`` or
    ``verification``, the exit code, the error sentence, the status file to annotate."""
    if alert is None:
        return "alerte() { :; }\n"
    config = mail.config_path(root, slug)
    send = {what: mail.notify(config, alert.sender, alert.to, subject(what, alert.commune))
            for what in ("sauvegarde", "verification")}
    return f"""alerte() {{ # what code sentence status-file; never fails, never prints
  [ -s {q(config)} ] || return 0
  al_quand="$(TZ={q(alert.timezone)} date '+%d/%m/%Y à %H:%M (%Z)')"
  case "$2" in
{_cases()}    *) al_quoi={q(OTHER)} ;;
  esac
  al_titre="La sauvegarde automatique"; al_suite={q(KEPT)}
  if [ "$1" = verification ]; then
    al_titre="La vérification hebdomadaire des sauvegardes"
    if [ "$al_quoi" = {q(OTHER)} ]; then al_quoi={q(CHECK_FAILED)}; al_suite={q(DAMAGED)}; fi
  fi
  rapport=$(printf {q(_BODY)} "$al_titre" {q(alert.commune)} "$(uname -n)" "$al_quand" "$al_quoi" "$(printf '%s' "$3" | head -c 600)" "$al_suite")
  {{ if [ "$1" = verification ]; then
{send["verification"]}
  else
{send["sauvegarde"]}
  fi; }} </dev/null >/dev/null 2>"$W/{ERR_FILE}"
  al_note='"alerte_envoyee": true'
  if [ "$mail_code" != 0 ]; then al_note="\\"alerte_envoyee\\": false, \\"alerte_code\\": $mail_code"; fi
  if [ -f "$4" ]; then sed "s/}}\\$/, $al_note}}/" "$4" > "$4.alerte" && mv "$4.alerte" "$4"; fi
  return 0
}}
"""


def write_config(root: str, slug: str) -> str:
    """Store the relay's curl config (``mail.sender_config``) read from stdin: 0600, in the
    0700 secrets folder. An empty stdin removes it (no ``messagerie`` any more)."""
    path = mail.config_path(root, slug)
    return f"""set -eu
umask 077
K={q(commune_dir(root, slug) + "/secrets")}
mkdir -p "$K"; chmod 700 "$K"
cat > {q(path + ".new")}
if [ -s {q(path + ".new")} ]; then
  chmod 600 {q(path + ".new")}; mv {q(path + ".new")} {q(path)}; echo alerte-configuree
else
  rm -f {q(path + ".new")} {q(path)}; echo alerte-retiree
fi
"""
