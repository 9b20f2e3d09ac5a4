"""The questionnaire of ``kit-collab init``: questions as data, answers checked as they are
typed with the profile's own validators, and the commented profile written from the answers.

No terminal here. The command passes a ``Dialog`` (rich prompts); tests pass scripted answers;
a run without questions passes none and every answer comes from an option or a default.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, TypeAdapter, ValidationError

from kit_collab.errors import InputError, Problem
from kit_collab.escape import yaml_value
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe
from kit_collab.profile.model import (
    EU_EEA,
    Commune,
    Jitsi,
    Matrix,
    Nextcloud,
    Profile,
    Serveur,
    ServiceMunicipal,
    Utilisateur,
    _message,
    validate_document,
)

Answers = dict[str, Any]
SERVICES = ("nextcloud", "collabora", "matrix", "jitsi")
NONE_WORDS = ("aucun", "aucune", "none", "-")
# Accounts the recipes create for themselves: Nextcloud's admin, the Matrix service account.
RESERVED_IDS = ("admin", "kit-collab")
DEFAULT_ADMIN = ("Secrétariat de mairie", "secretariat")
REQUIRED = ("nom", "domaine", "hote", "hebergeur")  # no sensible default
ADMIN_OPTIONS = ("nom", "identifiant", "email")  # --admin-nom, … for the first agent


class Dialog(Protocol):
    """What the questionnaire needs from a terminal."""

    def ask(self, text: str, default: str | None) -> str: ...
    def confirm(self, text: str, default: bool) -> bool: ...
    def tell(self, text: str, *, error: bool = False, heading: bool = False) -> None: ...


# ---------------------------------------------------------------------------------------------
# Checks: the profile's own field validators, so the questionnaire and the profile agree


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    if not field.metadata:
        return TypeAdapter(field.annotation)
    return TypeAdapter(Annotated[field.annotation, *field.metadata])


def field_check(model: type[BaseModel], name: str, text: str) -> Any:
    """The value as the profile would hold it, or ValueError with the profile's message."""
    try:
        return _adapter(model, name).validate_python(text.strip())
    except ValidationError as exc:
        message, hint = _message(dict(exc.errors()[0]))
        raise ValueError(f"{message} ({hint})" if hint else message) from None


def _host(text: str, _: Answers) -> str:
    try:
        return str(field_check(Serveur, "hote", text))
    except ValueError:
        raise ValueError(tr(
            f"« {text.strip()} » n'est ni une adresse IP ni un nom de serveur (ex. : "
            "203.0.113.10, serveur.mairie-exemple.fr ou local)",
            f"'{text.strip()}' is neither an IP address nor a server name (e.g. 203.0.113.10, "
            "server.town-example.fr or local)")) from None


def _ssh_user(text: str, _: Answers) -> str:
    try:
        return str(field_check(Serveur, "utilisateur", text))
    except ValueError:
        raise ValueError(tr(
            f"« {text.strip()} » : un compte SSH s'écrit en minuscules, chiffres, « _ » ou « - » "
            "(ex. : debian ou root)", f"'{text.strip()}': an SSH account is lower-case letters, "
            "digits, '_' or '-' (e.g. debian or root)")) from None


def _country(text: str, _: Answers) -> str:
    code = str(field_check(Serveur, "pays", text))
    if code not in EU_EEA:
        raise ValueError(tr(
            f"« {code} » n'est ni dans l'Union européenne ni dans l'EEE : les données de la "
            "commune doivent y rester ; choisissez un hébergement dans l'UE (ou, avec un motif "
            "écrit, ajoutez serveur.derogation_hors_ue au profil à la main)",
            f"'{code}' is neither in the European Union nor in the EEA: the commune's data must "
            "stay there; choose EU hosting (or, with a written reason, add "
            "serveur.derogation_hors_ue to the profile by hand)"))
    return code


def _services(text: str, _: Answers) -> tuple[str, ...]:
    words = [w for w in re.split(r"[,;\s]+", text.strip().lower()) if w]
    for word in words:
        if word not in SERVICES:
            guess = difflib.get_close_matches(word, SERVICES, n=1)
            raise ValueError(tr(
                f"service « {word} » inconnu ; choix : {', '.join(SERVICES)}"
                + (f" (vouliez-vous dire « {guess[0]} » ?)" if guess else ""),
                f"unknown service '{word}'; choices: {', '.join(SERVICES)}"
                + (f" (did you mean '{guess[0]}'?)" if guess else "")))
    if not words:
        raise ValueError(tr("choisissez au moins un service", "choose at least one service"))
    if "collabora" in words and "nextcloud" not in words:
        raise ValueError(tr("Collabora a besoin de Nextcloud : ajoutez nextcloud ou retirez "
                            "collabora", "Collabora needs Nextcloud: add nextcloud or remove "
                            "collabora"))
    return tuple(s for s in SERVICES if s in words)


def slugify(text: str, limit: int = 31) -> str:
    """Lower-case ASCII letters, digits and hyphens: « État civil » -> etat-civil."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def _municipal(text: str, _: Answers) -> list[tuple[str, str]]:
    """« Accueil, État civil » or « accueil=Accueil, etat-civil=État civil », or « aucun »."""
    if text.strip().lower() in NONE_WORDS:
        return []
    found: list[tuple[str, str]] = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        sid, _sep, name = item.rpartition("=") if "=" in item else ("", "", item)
        name = str(field_check(ServiceMunicipal, "nom", name))
        sid = str(field_check(ServiceMunicipal, "id", sid.strip() or slugify(name)))
        if sid in (s for s, _ in found):
            raise ValueError(tr(f"service municipal « {sid} » donné deux fois",
                                f"municipal service '{sid}' given twice"))
        found.append((sid, name))
    if not found:
        raise ValueError(tr("donnez au moins un service, ou « aucun »",
                            "give at least one service, or 'aucun'"))
    return found


def _identifiant(text: str, answers: Answers) -> str:
    value = str(field_check(Utilisateur, "identifiant", text))
    if value in RESERVED_IDS:
        raise ValueError(tr(f"« {value} » est réservé à un compte technique : choisissez-en un "
                            "autre", f"'{value}' is reserved for a service account: choose "
                            "another"))
    if value in (u["identifiant"] for u in answers.get("utilisateurs", [])):
        raise ValueError(tr(f"identifiant « {value} » déjà utilisé",
                            f"identifier '{value}' already used"))
    return value


def _user_email(text: str, answers: Answers) -> str:
    value = str(field_check(Utilisateur, "email", text))
    if value.lower() in (u["email"].lower() for u in answers.get("utilisateurs", [])):
        raise ValueError(tr(f"adresse « {value} » déjà utilisée par un autre agent",
                            f"address '{value}' already used by another user"))
    return value


def _role(text: str, _: Answers) -> str:
    value = text.strip().lower()
    value = {"admin": "administrateur", "administrator": "administrateur"}.get(value, value)
    if value not in ("agent", "administrateur"):
        raise ValueError(tr("répondez « agent » ou « administrateur »",
                            "answer 'agent' or 'administrateur'"))
    return value


def _user_services(text: str, answers: Answers) -> list[str]:
    """Ids or names, separated by commas: « accueil, État civil »."""
    known = dict(answers.get("services_municipaux", []))
    if text.strip().lower() in NONE_WORDS:
        return []
    by_name = {name.lower(): sid for sid, name in known.items()}
    chosen: list[str] = []
    for item in (i.strip() for i in re.split(r"[,;]", text) if i.strip()):
        sid = next((c for c in (item, slugify(item), by_name.get(item.lower())) if c in known),
                   None)
        if sid is None:
            raise ValueError(tr(f"service municipal « {item} » inconnu ; choix : "
                                f"{', '.join(known)} (ou « aucun »)",
                                f"unknown municipal service '{item}'; choices: "
                                f"{', '.join(known)} (or 'aucun')"))
        if sid not in chosen:
            chosen.append(sid)
    return chosen


def _field(model: type[BaseModel], name: str) -> Callable[[str, Answers], Any]:
    return lambda text, _answers: field_check(model, name, text)


# ---------------------------------------------------------------------------------------------
# The questions


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
    check: Callable[[str, Answers], Any]
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
             _field(Commune, "nom"), help_fr="Tel qu'il s'affichera dans les services.",
             help_en="As the services will show it."),
    Question("domaine", _COMMUNE, "Domaine de la commune (ex. : mairie-exemple.fr)",
             "Domain of the commune (e.g. town-example.fr)", _field(Commune, "domaine"),
             help_fr="Les services en seront des sous-domaines : cloud.<domaine>, visio.<domaine>…",
             help_en="The services will be its sub-domains: cloud.<domain>, visio.<domain>…"),
    Question("email", _COMMUNE, "Adresse e-mail de contact de la mairie",
             "Contact e-mail address of the town hall", _field(Commune, "email_contact"),
             default=lambda a: f"mairie@{a['domaine']}"),
    Question("services", _COMMUNE, "Services à installer", "Services to install", _services,
             default=lambda _a: ", ".join(SERVICES),
             help_fr="nextcloud : fichiers et agendas ; collabora : documents modifiés à "
             "plusieurs dans Nextcloud ; matrix : messagerie (Element) ; jitsi : visioconférence.",
             help_en="nextcloud: files and calendars; collabora: documents edited together in "
             "Nextcloud; matrix: chat (Element); jitsi: video meetings."),
    Question("hote", _SERVEUR, "Adresse du serveur (IP ou nom, ou « local »)",
             "Server address (IP or name, or 'local')", _host,
             help_fr="Le serveur loué chez l'hébergeur, où tout sera installé par SSH.",
             help_en="The server rented from the host, where everything is installed over SSH."),
    Question("ip_publique", _SERVEUR, "Adresse IP publique du serveur (pour la vidéo)",
             "Public IP address of the server (for video)",
             lambda text, _a: field_check(Serveur, "ip_publique", text), when=_needs_public_ip),
    Question("utilisateur_ssh", _SERVEUR, "Compte SSH sur le serveur", "SSH account on the server",
             _ssh_user, default=lambda _a: str(Serveur.model_fields["utilisateur"].default),
             help_fr="root, ou un compte qui peut utiliser sudo sans mot de passe.",
             help_en="root, or an account allowed to use sudo without a password."),
    Question("hebergeur", _SERVEUR, "Hébergeur du serveur (ex. : ovhcloud, scaleway)",
             "Hosting provider (e.g. ovhcloud, scaleway)", _field(Serveur, "hebergeur")),
    Question("pays", _SERVEUR, "Pays du centre de données (code à deux lettres)",
             "Country of the data centre (two-letter code)", _country, default=lambda _a: "FR"),
    Question("services_municipaux", _MUNICIPAUX, "Services municipaux (séparés par des virgules)",
             "Municipal services (comma-separated)", _municipal,
             default=lambda _a: "Accueil",
             help_fr="Chacun aura son dossier partagé et son salon de discussion. Écrivez "
             "« id=Nom » pour choisir l'identifiant, ou « aucun ».",
             help_en="Each gets a shared folder and a chat room. Write 'id=Name' to choose the "
             "id, or 'aucun' for none."),
)

# One agent: asked for the first agent (the administrator), then for each agent added.
# The options --admin-<key> answer them for the first agent.
USER_QUESTIONS: tuple[Question, ...] = (
    Question("nom", "agent", "Prénom et nom", "First and last name", _field(Utilisateur, "nom"),
             default=lambda a: DEFAULT_ADMIN[0] if not a.get("utilisateurs") else None),
    Question("identifiant", "agent", "Identifiant de connexion", "Login identifier", _identifiant,
             default=lambda a: _suggest_id(a["_nom"], a)),
    Question("email", "agent", "Adresse e-mail", "E-mail address", _user_email,
             default=lambda a: a["email"] if a["_nom"] == DEFAULT_ADMIN[0]
             else f"{slugify(a['_nom']).replace('-', '.')}@{a['domaine']}"),
    Question("role", "agent", "Rôle (agent ou administrateur)", "Role (agent or administrateur)",
             _role, default=lambda _a: "agent", when=lambda a: bool(a.get("utilisateurs"))),
    Question("services_municipaux", "agent", "Ses services municipaux (séparés par des virgules, "
             "ou « aucun »)", "Their municipal services (comma-separated, or 'aucun')",
             _user_services, when=lambda a: bool(a.get("services_municipaux")),
             default=lambda a: ", ".join(s for s, _ in a["services_municipaux"])
             if not a.get("utilisateurs") else "aucun"),
)

SECTIONS = {
    _COMMUNE: ("La commune", "The commune"),
    _SERVEUR: ("Le serveur", "The server"),
    _MUNICIPAUX: ("Les services municipaux", "Municipal services"),
    "agent": ("Les agents", "The users"),
}


def option_keys() -> list[str]:
    """Keys accepted in ``values``: one per question, ``admin_<key>`` for the first agent."""
    return [q.key for q in QUESTIONS] + [f"admin_{q.key}" for q in USER_QUESTIONS
                                         if q.key in ADMIN_OPTIONS]


def _question(key: str) -> Question:
    if key.startswith("admin_"):
        return next(q for q in USER_QUESTIONS if q.key == key.removeprefix("admin_"))
    return next(q for q in QUESTIONS if q.key == key)


def _option_error(key: str, message: str) -> Problem:
    return Problem("--" + key.replace("_", "-"), message)


def check_options(values: dict[str, str]) -> None:
    """Every option given is checked before any question: InputError naming each option."""
    problems = []
    for key, value in values.items():
        if key not in option_keys():
            raise ValueError(f"unknown option key {key!r}")  # a wiring bug, not a user error
        try:
            _question(key).check(value, {})
        except ValueError as exc:
            problems.append(_option_error(key, str(exc)))
    if problems:
        raise InputError(tr("option invalide", "invalid option") if len(problems) == 1
                         else tr("options invalides", "invalid options"), problems,
                         hint=tr("corrigez la valeur de l'option ; « kit-collab init --help » "
                                 "les décrit", "fix the option's value; 'kit-collab init "
                                 "--help' describes them"))


# ---------------------------------------------------------------------------------------------
# The questionnaire


def _answer(question: Question, answers: Answers, dialog: Dialog | None, preset: dict[str, str],
            option: str) -> Any:
    """One answer: from its option, else asked until valid, else (no dialog) its default."""
    default = question.default(answers)
    if option in preset:
        try:
            return question.check(preset[option], answers)
        except ValueError as exc:
            raise InputError(tr("option invalide", "invalid option"),
                             [_option_error(option, str(exc))]) from None
    if dialog is None:
        if default is None:
            flag, needed = "--" + option.replace("_", "-"), ", ".join("--" + k for k in REQUIRED)
            raise InputError(tr(
                f"option {flag} manquante : {question.fr}",
                f"missing option {flag}: {question.en}"),
                hint=tr(f"sans questionnaire, donnez au moins {needed} (et --ip-publique si "
                        "l'hôte n'est pas une adresse IP et que Matrix ou Jitsi est installé)",
                        f"without questions, give at least {needed} (and --ip-publique if the "
                        "host is not an IP address and Matrix or Jitsi is installed)"))
        return question.check(default, answers)
    if question.help_fr:
        dialog.tell(tr(question.help_fr, question.help_en))
    while True:
        raw = dialog.ask(question.text, default)
        try:
            return question.check(raw, answers)
        except ValueError as exc:
            dialog.tell(str(exc), error=True)


def collect(dialog: Dialog | None, preset: dict[str, str] | None = None) -> Answers:
    """Every answer the profile needs. ``dialog`` None: options and defaults only."""
    preset = dict(preset or {})
    answers: Answers = {}
    section = None
    for question in QUESTIONS:
        if not (question.when(answers) or question.key in preset):
            answers[question.key] = None
            continue
        if dialog is not None and question.section != section and question.key not in preset:
            section = question.section
            dialog.tell(tr(*SECTIONS[section]), heading=True)
        answers[question.key] = _answer(question, answers, dialog, preset, question.key)
    answers["utilisateurs"] = []
    if dialog is not None:
        dialog.tell(tr(*SECTIONS["agent"]), heading=True)
        dialog.tell(tr("Le premier agent est l'administrateur (souvent le ou la secrétaire de "
                       "mairie). Chaque agent recevra une fiche avec son mot de passe initial.",
                       "The first user is the administrator (often the town-hall secretary). "
                       "Each user gets a sheet with their initial password."))
    while True:
        answers["utilisateurs"].append(_collect_user(dialog, answers, preset))
        if dialog is None or not dialog.confirm(tr("Ajouter un autre agent ?",
                                                   "Add another user?"), False):
            return answers


def _collect_user(dialog: Dialog | None, answers: Answers,
                  preset: dict[str, str]) -> dict[str, Any]:
    first = not answers["utilisateurs"]
    user: dict[str, Any] = {"role": "administrateur", "services_municipaux": []}
    for question in USER_QUESTIONS:
        if not question.when(answers):
            continue
        option = f"admin_{question.key}" if first else ""
        scope = {**answers, "_nom": user.get("nom", "")}
        user[question.key] = _answer(question, scope, dialog, preset if first else {}, option)
    return user


# ---------------------------------------------------------------------------------------------
# The profile text


def schema_reference(profile_path: Path) -> str | None:
    """The JSON Schema as a path relative to the profile's folder (as the editor's YAML
    extension resolves it), when kit-collab's schema file is on this machine."""
    here = Path(__file__).resolve().parent.parent  # the kit_collab package
    for candidate in (here / "_data" / "schema" / "profil.schema.json",
                      here.parent.parent / "schema" / "profil.schema.json"):
        if candidate.is_file():
            return os.path.relpath(candidate, profile_path.resolve().parent)
    return None


def _comment(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(text, width=96 - indent, initial_indent=pad + "# ",
                         subsequent_indent=pad + "# ", break_on_hyphens=False)


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._@/-]*$")
# Plain words YAML 1.1 would read as something else than text.
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan"))


def _scalar(value: Any) -> str:
    """A YAML scalar, plain when it is an unambiguous word (as in the examples), else quoted."""
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return yaml_value(value)


def _desc(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def _key(model: type[BaseModel] | None, name: str, value: Any, indent: int = 2,
         note: str = "") -> list[str]:
    lines = _comment(note or (_desc(model, name) if model else ""), indent)
    return [*lines, f"{' ' * indent}{name}: {_scalar(value)}"]


def _header(answers: Answers, schema_ref: str | None, file_name: str) -> list[str]:
    first = (f"# yaml-language-server: $schema={schema_ref}" if schema_ref else
             "# yaml-language-server: $schema=profil.schema.json")
    lines = [first]
    if not schema_ref:
        lines.append("# (Complétion dans l'éditeur : « kit-collab schema > profil.schema.json » "
                     "à côté de ce fichier.)")
    return [*lines,
            f"# Profil de la commune {yaml_value(answers['nom'])}, écrit par « kit-collab init ».",
            "# Chaque clé est expliquée au-dessus d'elle ; modifiez ce fichier à volonté, puis",
            f"# vérifiez-le : « kit-collab validate {file_name} »,",
            f"# et voyez ce qui serait installé : « kit-collab install {file_name} --dry-run ».",
            ""]


def _commune_block(answers: Answers) -> list[str]:
    return ["commune:",
            *_key(Commune, "nom", answers["nom"]),
            *_key(Commune, "domaine", answers["domaine"]),
            *_key(Commune, "email_contact", answers["email"]),
            *_key(Commune, "fuseau_horaire", "Europe/Paris"),
            *_comment(_desc(Commune, "slug"), 2),
            f"  # slug: {_scalar(answers['domaine'].replace('.', '-'))}",
            ""]


def _server_block(answers: Answers) -> list[str]:
    lines = ["serveur:", *_key(Serveur, "hote", answers["hote"])]
    if answers.get("ip_publique"):
        lines += _key(Serveur, "ip_publique", answers["ip_publique"])
    lines += [*_key(Serveur, "utilisateur", answers["utilisateur_ssh"]),
              *_key(Serveur, "port_ssh", 22),
              *_comment(_desc(Serveur, "cle_ssh") + " Décommentez pour la choisir :", 2),
              "  # cle_ssh: ~/.ssh/id_ed25519",
              *_comment(_desc(Serveur, "empreinte_hote") + " Donnée par l'hébergeur ou "
                        "« ssh-keygen -lf » sur le serveur :", 2),
              "  # empreinte_hote: SHA256:…",
              *_key(Serveur, "hebergeur", answers["hebergeur"]),
              *_key(Serveur, "pays", answers["pays"]),
              ""]
    return lines


def _services_block(answers: Answers) -> list[str]:
    chosen = set(answers["services"])
    return [
        "# Les services installés. actif: false pour en retirer un ; chaque sous-domaine doit",
        "# pointer sur le serveur dans le DNS (kit-collab check dit lesquels créer).",
        "services:",
        "  nextcloud:",
        *_key(Nextcloud, "actif", "nextcloud" in chosen, 4),
        *_key(Nextcloud, "sous_domaine", "cloud", 4),
        *_key(Nextcloud, "collabora", "collabora" in chosen, 4),
        *_key(Nextcloud, "quota_par_defaut", "10 GB", 4),
        "  matrix:",
        *_key(Matrix, "actif", "matrix" in chosen, 4),
        *_key(Matrix, "sous_domaine", "matrix", 4),
        *_key(Matrix, "element_sous_domaine", "discussion", 4),
        *_key(Matrix, "federation", False, 4, "Ouvrir la fédération avec d'autres serveurs "
              "Matrix (false : messagerie interne à la commune)."),
        "  jitsi:",
        *_key(Jitsi, "actif", "jitsi" in chosen, 4),
        *_key(Jitsi, "sous_domaine", "visio", 4),
        *_key(Jitsi, "invites", True, 4),
        "",
    ]


def _people_block(answers: Answers) -> list[str]:
    lines = ["# Services municipaux : chacun devient un dossier partagé (Nextcloud) et un salon",
             "# (Matrix). id : identifiant court en minuscules ; nom : nom affiché."]
    municipal = answers["services_municipaux"]
    lines.append("services_municipaux:" + ("" if municipal else " []"))
    lines += [f"  - {{id: {_scalar(sid)}, nom: {_scalar(name)}}}" for sid, name in municipal]
    lines += ["",
              "# Les agents : un compte dans chaque service, avec un mot de passe initial imprimé",
              "# sur leur fiche. role : administrateur ou agent ; services_municipaux : les",
              "# services (ids ci-dessus) dont l'agent fait partie ; quota : facultatif.",
              "utilisateurs:"]
    for user in answers["utilisateurs"]:
        services = ", ".join(_scalar(s) for s in user["services_municipaux"])
        lines += [f"  - identifiant: {_scalar(user['identifiant'])}",
                  f"    nom: {_scalar(user['nom'])}",
                  f"    email: {_scalar(user['email'])}",
                  f"    role: {_scalar(user['role'])}",
                  f"    services_municipaux: [{services}]"]
    return lines


def profile_text(answers: Answers, schema_ref: str | None, file_name: str = "commune.yaml") -> str:
    """The commented profile, in French like its keys."""
    lines = [*_header(answers, schema_ref, file_name), *_commune_block(answers),
             *_server_block(answers), *_services_block(answers), *_people_block(answers)]
    return "\n".join(lines) + "\n"


def check_text(text: str, source: str) -> Profile:
    """The profile the text describes (ProfileError if the questionnaire let a mistake by)."""
    return validate_document(yamlsafe.load(text.encode("utf-8"), source))
