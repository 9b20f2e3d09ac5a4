"""The questions of ``kit-collab init``, as data: what is asked, in which section, how the
answer is checked, its default and when it is asked at all."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from kit_collab.i18n import tr
from kit_collab.profile.answer_checks import (
    SERVICES,
    AnswerCheck,
    Answers,
    check_country,
    check_host,
    check_identifiant,
    check_municipal,
    check_role,
    check_services,
    check_ssh_user,
    check_user_email,
    check_user_services,
    field_check,
    field_checker,
    slugify,
)
from kit_collab.profile.model import RESERVED_IDS, Commune, Serveur, Utilisateur

DEFAULT_ADMIN = ("Secrétariat de mairie", "secretariat")


def _is_ip(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True


def _needs_public_ip(answers: Answers) -> bool:
    media = {"matrix", "jitsi"} & set(answers.get("services", ()))
    return bool(media) and not _is_ip(answers.get("hote"))


def _suggest_id(name: str, answers: Answers) -> str:
    if name == DEFAULT_ADMIN[0]:
        base = DEFAULT_ADMIN[1]
    else:
        words = slugify(name).split("-") or ["agent"]
        base = (words[0][:1] + words[-1]) if len(words) > 1 else words[0]
        base = re.sub(r"^[^a-z]+", "", base)[:28] or "agent"
        base = base if len(base) > 1 else f"{base}agent"
    taken = {u["identifiant"] for u in answers.get("utilisateurs", [])} | set(RESERVED_IDS)
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


@dataclass(frozen=True)
class Question:
    key: str  # answer key; the option is --<key with dashes>
    section: str
    fr: str
    en: str
    check: AnswerCheck
    default: Callable[[Answers], str | None] = lambda _a: None
    when: Callable[[Answers], bool] = lambda _a: True
    help_fr: str = ""
    help_en: str = ""

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def text(self) -> str:
        return tr(self.fr, self.en)


_COMMUNE, _SERVEUR, _MUNICIPAUX = ("commune", "serveur", "municipaux")

QUESTIONS: tuple[Question, ...] = (
    Question("nom", _COMMUNE, "Nom de la commune", "Name of the commune",
             field_checker(Commune, "nom"), help_fr="Tel qu'il s'affichera dans les services.",
             help_en="As the services will show it."),
    Question("domaine", _COMMUNE, "Domaine de la commune (ex. : mairie-exemple.fr)",
             "Domain of the commune (e.g. town-example.fr)", field_checker(Commune, "domaine"),
             help_fr="Les services en seront des sous-domaines : cloud.<domaine>, visio.<domaine>…",
             help_en="The services will be its sub-domains: cloud.<domain>, visio.<domain>…"),
    Question("email", _COMMUNE, "Adresse e-mail de contact de la mairie",
             "Contact e-mail address of the town hall", field_checker(Commune, "email_contact"),
             default=lambda a: f"mairie@{a['domaine']}"),
    Question("services", _COMMUNE, "Services à installer", "Services to install", check_services,
             default=lambda _a: ", ".join(SERVICES),
             help_fr="nextcloud : fichiers et agendas ; collabora : documents modifiés à "
             "plusieurs dans Nextcloud ; matrix : messagerie (Element) ; jitsi : visioconférence.",
             help_en="nextcloud: files and calendars; collabora: documents edited together in "
             "Nextcloud; matrix: chat (Element); jitsi: video meetings."),
    Question("hote", _SERVEUR, "Adresse du serveur (IP ou nom, ou « local »)",
             "Server address (IP or name, or 'local')", check_host,
             help_fr="Le serveur loué chez l'hébergeur, où tout sera installé par SSH.",
             help_en="The server rented from the host, where everything is installed over SSH."),
    Question("ip_publique", _SERVEUR, "Adresse IP publique du serveur (pour la vidéo)",
             "Public IP address of the server (for video)",
             lambda text, _a: field_check(Serveur, "ip_publique", text), when=_needs_public_ip),
    Question("utilisateur_ssh", _SERVEUR, "Compte SSH sur le serveur", "SSH account on the server",
             check_ssh_user, default=lambda _a: str(Serveur.model_fields["utilisateur"].default),
             help_fr="root, ou un compte qui peut utiliser sudo sans mot de passe.",
             help_en="root, or an account allowed to use sudo without a password."),
    Question("hebergeur", _SERVEUR, "Hébergeur du serveur (ex. : ovhcloud, scaleway)",
             "Hosting provider (e.g. ovhcloud, scaleway)", field_checker(Serveur, "hebergeur")),
    Question("pays", _SERVEUR, "Pays du centre de données (code à deux lettres)",
             "Country of the data centre (two-letter code)", check_country,
             default=lambda _a: "FR"),
    Question("services_municipaux", _MUNICIPAUX, "Services municipaux (séparés par des virgules)",
             "Municipal services (comma-separated)", check_municipal,
             default=lambda _a: "Accueil",
             help_fr="Chacun aura son dossier partagé et son salon de discussion. Écrivez "
             "« id=Nom » pour choisir l'identifiant, ou « aucun ».",
             help_en="Each gets a shared folder and a chat room. Write 'id=Name' to choose the "
             "id, or 'aucun' for none."),
)

# One agent: asked for the first agent (the administrator), then for each agent added.
# The options --admin-<key> answer them for the first agent.
USER_QUESTIONS: tuple[Question, ...] = (
    Question("nom", "agent", "Prénom et nom", "First and last name",
             field_checker(Utilisateur, "nom"),
             default=lambda a: DEFAULT_ADMIN[0] if not a.get("utilisateurs") else None),
    Question("identifiant", "agent", "Identifiant de connexion", "Login identifier",
             check_identifiant,
             default=lambda a: _suggest_id(a["_nom"], a)),
    Question("email", "agent", "Adresse e-mail", "E-mail address", check_user_email,
             default=lambda a: a["email"] if a["_nom"] == DEFAULT_ADMIN[0]
             else f"{slugify(a['_nom']).replace('-', '.')}@{a['domaine']}"),
    Question("role", "agent", "Rôle (agent ou administrateur)", "Role (agent or administrateur)",
             check_role, default=lambda _a: "agent", when=lambda a: bool(a.get("utilisateurs"))),
    Question("services_municipaux", "agent", "Ses services municipaux (séparés par des virgules, "
             "ou « aucun »)", "Their municipal services (comma-separated, or 'aucun')",
             check_user_services, when=lambda a: bool(a.get("services_municipaux")),
             default=lambda a: ", ".join(s for s, _ in a["services_municipaux"])
             if not a.get("utilisateurs") else "aucun"),
)

SECTIONS = {
    _COMMUNE: ("La commune", "The commune"),
    _SERVEUR: ("Le serveur", "The server"),
    _MUNICIPAUX: ("Les services municipaux", "Municipal services"),
    "agent": ("Les agents", "The users"),
}

