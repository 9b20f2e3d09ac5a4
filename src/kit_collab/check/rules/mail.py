"""The mail relay (``messagerie:``) as the server sees it: one finding, in French, with its fix.

Pure: the outcome of apply/scripts/mail.py's probe (or test message) in, findings out.
"""

from __future__ import annotations

from kit_collab.apply.scripts.mail import Outcome
from kit_collab.check.findings import ERROR, OK, WARNING, Finding
from kit_collab.i18n import tr
from kit_collab.profile.mail_model import PASSWORD_ENV, Messagerie

SERVICE = "messagerie"


def _where(m: Messagerie) -> str:
    return f"{m.relais}:{m.port}"


def _other_mode(m: Messagerie) -> str:
    return tr("« securite: tls » et « port: 465 »" if not m.tls_implicite
              else "« securite: starttls » et « port: 587 »",
              "'securite: tls' and 'port: 465'" if not m.tls_implicite
              else "'securite: starttls' and 'port: 587'")


def _problem(m: Messagerie, problem: str) -> tuple[str, str]:
    """(what went wrong, the fix) for one of apply/scripts/mail.py's CURL_CODES."""
    where, other = _where(m), _other_mode(m)
    table = {
        "resolution": (tr(f"le nom du relais {m.relais} est inconnu du DNS",
                          f"the relay name {m.relais} is unknown to DNS"),
                       tr("corrigez messagerie.relais (nom donné par votre fournisseur)",
                          "fix messagerie.relais (the name your provider gave)")),
        "connexion": (tr(f"le relais {where} refuse la connexion ou ne répond pas",
                         f"the relay {where} refuses the connection or does not answer"),
                      tr(f"vérifiez messagerie.relais et messagerie.port ; beaucoup "
                         f"d'hébergeurs bloquent les envois sortants (ports 25, 465, 587) : "
                         f"demandez leur ouverture à {m.relais}",
                         f"check messagerie.relais and messagerie.port; many hosting "
                         f"providers block outgoing mail (ports 25, 465, 587): ask them to "
                         f"open it to {m.relais}")),
        "delai": (tr(f"le relais {where} ne répond pas à temps",
                     f"the relay {where} does not answer in time"),
                  tr(f"le pare-feu de l'hébergeur bloque sans doute ce port sortant ; ou "
                     f"essayez {other}",
                     f"the provider's firewall probably blocks this outgoing port; or try "
                     f"{other}")),
        "tls": (tr(f"la négociation TLS avec {where} a échoué",
                   f"the TLS handshake with {where} failed"),
                tr(f"le port ne parle sans doute pas ce mode : essayez {other}",
                   f"the port probably does not speak this mode: try {other}")),
        "certificat": (tr(f"le certificat du relais {m.relais} n'est pas valable (autorité "
                          "inconnue, expiré, ou pour un autre nom)",
                          f"the relay {m.relais}'s certificate is not valid (unknown "
                          "authority, expired, or for another name)"),
                       tr("utilisez le nom exact du relais donné par votre fournisseur (celui "
                          "de son certificat)", "use the relay's exact name from your "
                          "provider (the one in its certificate)")),
        "starttls": (tr(f"le relais {where} ne propose pas STARTTLS : le mot de passe "
                        "circulerait en clair, kit-collab refuse",
                        f"the relay {where} does not offer STARTTLS: the password would "
                        "travel in clear, kit-collab refuses"),
                     tr(f"utilisez le port chiffré du fournisseur : {other}",
                        f"use the provider's encrypted port: {other}")),
        "authentification": (tr(f"le relais {m.relais} refuse l'identifiant "
                                f"{m.identifiant} ou son mot de passe",
                                f"the relay {m.relais} refuses the login {m.identifiant} "
                                "or its password"),
                             tr(f"vérifiez messagerie.identifiant ; pour changer le mot de "
                                f"passe : mettez le bon dans la variable {PASSWORD_ENV} et "
                                "relancez kit-collab install (il remplace l'ancien sur le "
                                "serveur)", f"check messagerie.identifiant; to change the "
                                f"password: put the right one in the variable {PASSWORD_ENV} "
                                "and run kit-collab install again (it replaces the old one "
                                "on the server)")),
        "envoi": (tr(f"le relais {m.relais} refuse l'expéditeur {m.expediteur} ou le "
                     "destinataire", f"the relay {m.relais} refuses the sender "
                     f"{m.expediteur} or the recipient"),
                  tr("messagerie.expediteur doit être une adresse que ce compte a le droit "
                     "d'utiliser (souvent l'identifiant lui-même, ou le domaine de la commune "
                     "déclaré chez le fournisseur)", "messagerie.expediteur must be an "
                     "address this account may send as (often the login itself, or the "
                     "commune's domain declared at the provider)")),
        "curl-absent": (tr("curl n'est pas installé sur le serveur : relais non vérifié",
                           "curl is not installed on the server: relay not checked"),
                        tr("sur le serveur : apt-get install curl (paquet de la "
                           "distribution), puis relancez kit-collab check",
                           "on the server: apt-get install curl (the distribution's "
                           "package), then run kit-collab check again")),
    }
    return table.get(problem, (
        tr(f"échange inattendu avec le relais {where}", f"unexpected exchange with the "
           f"relay {where}"),
        tr("vérifiez messagerie.relais, port et securite auprès du fournisseur",
           "check messagerie.relais, port and securite with the provider")))


def relay_findings(m: Messagerie, outcome: Outcome) -> list[Finding]:
    """The probe (connect, STARTTLS or TLS, AUTH): ok, or what failed and its fix."""
    mode = "TLS" if m.tls_implicite else "STARTTLS"
    if outcome.code == 0:
        return [Finding(OK, SERVICE, "relais", tr(
            f"relais {_where(m)} joint depuis le serveur : {mode} et authentification "
            f"acceptés", f"relay {_where(m)} reached from the server: {mode} and "
            f"authentication accepted"))]
    message, fix = _problem(m, outcome.problem)
    detail = f" ({outcome.detail})" if outcome.detail else ""
    level = WARNING if outcome.problem == "curl-absent" else ERROR  # a server not set up yet
    return [Finding(level, SERVICE, "relais", message + detail, fix)]


def test_message_findings(m: Messagerie, to: str, outcome: Outcome) -> list[Finding]:
    """The test message: accepted by the relay, or why not."""
    if outcome.code == 0:
        return [Finding(OK, SERVICE, "message d'essai", tr(
            f"message d'essai remis au relais {m.relais} pour {to} : vérifiez sa réception "
            f"(et le dossier des indésirables)", f"test message handed to relay {m.relais} "
            f"for {to}: check that it arrives (and the spam folder)"))]
    message, fix = _problem(m, outcome.problem)
    detail = f" ({outcome.detail})" if outcome.detail else ""
    return [Finding(ERROR, SERVICE, "message d'essai", tr(
        f"message d'essai non envoyé : {message}", f"test message not sent: {message}")
        + detail, fix)]


def no_section() -> Finding:
    """--envoyer-test on a profile without ``messagerie``: nothing to send through."""
    return Finding(ERROR, SERVICE, "message d'essai", tr(
        "message d'essai non envoyé : le profil n'a pas de section messagerie (aucun relais "
        "d'envoi)", "test message not sent: the profile has no messagerie section (no relay)"),
        tr("ajoutez au profil la section messagerie (relais, port, securite, identifiant, "
           "expediteur), puis kit-collab install", "add the messagerie section to the profile "
           "(relais, port, securite, identifiant, expediteur), then kit-collab install"))
