"""The questions of ``kit-collab init``, as data: what is asked, in which section, how the
answer is checked, its default and when it is asked at all."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from kit_collab.i18n import tr
from kit_collab.profile.answer_checks import (
    NONE_WORDS,
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
from kit_collab.profile.model import (
    DOMAINE_VERS_SERVEUR,
    RESERVED_IDS,
    SITE_EXISTANT,
    SOUS_DOMAINE,
    Commune,
    Matrix,
    Serveur,
    Utilisateur,
)

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


def _matrix(answers: Answers) -> bool:
    return "matrix" in set(answers.get("services", ()))


def _yes_no(text: str, _a: Answers) -> bool:
    word = text.strip().lower()
    if word in ("o", "oui", "y", "yes"):
        return True
    if word in ("n", "non", "no"):
        return False
    raise ValueError(tr("répondez oui ou non", "answer yes or no"))


def _keep_www(text: str, answers: Answers) -> bool:
    """No: the domain loses its ``www.`` (the answers are the questionnaire's own record)."""
    keep = _yes_no(text, answers)
    if not keep:
        answers["domaine"] = str(answers["domaine"]).removeprefix("www.")
    return keep


def _website(text: str, _a: Answers) -> str | None:
    if text.strip().lower() in NONE_WORDS:
        return None
    value = field_check(Matrix, "site_web", text)
    return str(value) if value else None


def matrix_mode(answers: Answers) -> str:
    """services.matrix.identifiants from the plain answers."""
    if not answers.get("site_existant"):
        return DOMAINE_VERS_SERVEUR
    return SITE_EXISTANT if answers.get("webmestre", True) else SOUS_DOMAINE


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
    has_option: bool = True  # init has an option for it (else: asked, or its default)

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def text(self) -> str:
        return tr(self.fr, self.en)

    def asked(self, answers: Answers) -> str:
        """The question with the commune's own domain in it."""
        return self.text.replace("<domaine>", str(answers.get("domaine") or "<domaine>"))


_COMMUNE, _SERVEUR, _MUNICIPAUX = ("commune", "serveur", "municipaux")

QUESTIONS: tuple[Question, ...] = (
    Question("nom", _COMMUNE, "Nom de la commune", "Name of the commune",
             field_checker(Commune, "nom"), help_fr="Tel qu'il s'affichera dans les services.",
             help_en="As the services will show it."),
    Question("domaine", _COMMUNE, "Domaine de la commune (ex. : mairie-exemple.fr)",
             "Domain of the commune (e.g. town-example.fr)", field_checker(Commune, "domaine"),
             help_fr="Les services en seront des sous-domaines : cloud.<domaine>, visio.<domaine>…",
             help_en="The services will be its sub-domains: cloud.<domain>, visio.<domain>…"),
    # A domain typed with www. would put cloud.www.… and @agent:www.… in place forever.
    Question("garder_www", _COMMUNE, "Le domaine commence par « www. » : les adresses seraient "
             "cloud.<domaine>… et les identifiants @agent:<domaine>, pour toujours. Le garder "
             "tel quel ? (oui/non)", "The domain starts with 'www.': addresses would be "
             "cloud.<domaine>… and identifiers @agent:<domaine>, forever. Keep it as is? "
             "(yes/no)", _keep_www, default=lambda _a: tr("oui", "yes"),
             when=lambda a: str(a.get("domaine") or "").startswith("www."),
             help_fr="Le domaine d'une commune s'écrit en général sans « www. », qui nomme son "
             "site web ; répondez non pour l'enlever.",
             help_en="A commune's domain is usually written without 'www.', which names its "
             "website; answer no to drop it.", has_option=False),
    Question("email", _COMMUNE, "Adresse e-mail de contact de la mairie",
             "Contact e-mail address of the town hall", field_checker(Commune, "email_contact"),
             default=lambda a: f"mairie@{a['domaine']}"),
    Question("services", _COMMUNE, "Services à installer", "Services to install", check_services,
             default=lambda _a: ", ".join(SERVICES),
             help_fr="nextcloud : fichiers et agendas ; collabora : documents modifiés à "
             "plusieurs dans Nextcloud ; matrix : messagerie (Element) ; jitsi : visioconférence.",
             help_en="nextcloud: files and calendars; collabora: documents edited together in "
             "Nextcloud; matrix: chat (Element); jitsi: video meetings."),
    # How Matrix identifiers find their server: never by taking over the town's website.
    Question("site_existant", _COMMUNE, "Votre commune a-t-elle déjà un site web à l'adresse "
             "<domaine> ? (oui/non)", "Does your commune already have a website at <domaine>? "
             "(yes/no)", _yes_no, default=lambda _a: tr("oui", "yes"), when=_matrix,
             help_fr="Les comptes de messagerie s'écrivent de préférence @agent:<domaine>. Si un "
             "site existe, il reste où il est : kit-collab ne le remplace jamais.",
             help_en="Chat accounts preferably read @agent:<domaine>. If a website exists, it "
             "stays where it is: kit-collab never replaces it.", has_option=False),
    Question("webmestre", _COMMUNE, "Son webmestre peut-il y publier deux petits fichiers "
             "(kit-collab les lui donne) ? (oui/non)", "Can its webmaster publish two small "
             "files on it (kit-collab gives them)? (yes/no)", _yes_no,
             default=lambda _a: tr("oui", "yes"),
             when=lambda a: _matrix(a) and bool(a.get("site_existant")),
             help_fr="Sinon, les comptes s'écriront @agent:matrix.<domaine> et le site n'a rien "
             "à faire. Ce choix est définitif après la première installation.",
             help_en="Otherwise accounts will read @agent:matrix.<domaine> and the website has "
             "nothing to do. This choice is final after the first install.",
             has_option=False),
    Question("site_web", _COMMUNE, "Adresse du site web de la commune, s'il est ailleurs (ex. : "
             "https://www.<domaine>), ou « aucun »", "Address of the commune's website, if it "
             "is elsewhere (e.g. https://www.<domaine>), or 'aucun'", _website,
             default=lambda _a: "aucun",
             when=lambda a: _matrix(a) and a.get("site_existant") is False,
             help_fr="Le domaine pointera vers le nouveau serveur, qui y renverra les visiteurs.",
             help_en="The domain will point at the new server, which sends visitors there.",
             has_option=False),
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

