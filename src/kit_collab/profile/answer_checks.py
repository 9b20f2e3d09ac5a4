"""The answers of ``kit-collab init`` checked as they are typed, with the profile's own field
validators, so the questionnaire and the profile agree. Each check takes the text typed and
the answers so far, and returns the value or raises ValueError with a French sentence."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from kit_collab.i18n import tr
from kit_collab.profile.messages import pydantic_message
from kit_collab.profile.model import EU_EEA, Serveur, ServiceMunicipal, Utilisateur

Answers = dict[str, Any]
AnswerCheck = Callable[[str, Answers], Any]
SERVICES = ("nextcloud", "collabora", "matrix", "jitsi")
NONE_WORDS = ("aucun", "aucune", "none", "-")


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
        message, hint = pydantic_message(dict(exc.errors()[0]))
        raise ValueError(f"{message} ({hint})" if hint else message) from None


def check_host(text: str, _: Answers) -> str:
    try:
        return str(field_check(Serveur, "hote", text))
    except ValueError:
        raise ValueError(tr(
            f"« {text.strip()} » n'est ni une adresse IP ni un nom de serveur (ex. : "
            "203.0.113.10, serveur.mairie-exemple.fr ou local)",
            f"'{text.strip()}' is neither an IP address nor a server name (e.g. 203.0.113.10, "
            "server.town-example.fr or local)")) from None


def check_ssh_user(text: str, _: Answers) -> str:
    try:
        return str(field_check(Serveur, "utilisateur", text))
    except ValueError:
        raise ValueError(tr(
            f"« {text.strip()} » : un compte SSH s'écrit en minuscules, chiffres, « _ » ou « - » "
            "(ex. : debian ou root)", f"'{text.strip()}': an SSH account is lower-case letters, "
            "digits, '_' or '-' (e.g. debian or root)")) from None


def check_country(text: str, _: Answers) -> str:
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


def check_services(text: str, _: Answers) -> tuple[str, ...]:
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


def check_municipal(text: str, _: Answers) -> list[tuple[str, str]]:
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


def check_identifiant(text: str, answers: Answers) -> str:
    """A valid identifier (reserved ones are refused by the profile's validator), not yet
    given to another agent."""
    value = str(field_check(Utilisateur, "identifiant", text))
    if value in (u["identifiant"] for u in answers.get("utilisateurs", [])):
        raise ValueError(tr(f"identifiant « {value} » déjà utilisé",
                            f"identifier '{value}' already used"))
    return value


def check_user_email(text: str, answers: Answers) -> str:
    value = str(field_check(Utilisateur, "email", text))
    if value.lower() in (u["email"].lower() for u in answers.get("utilisateurs", [])):
        raise ValueError(tr(f"adresse « {value} » déjà utilisée par un autre agent",
                            f"address '{value}' already used by another user"))
    return value


def check_role(text: str, _: Answers) -> str:
    value = text.strip().lower()
    value = {"admin": "administrateur", "administrator": "administrateur"}.get(value, value)
    if value not in ("agent", "administrateur"):
        raise ValueError(tr("répondez « agent » ou « administrateur »",
                            "answer 'agent' or 'administrateur'"))
    return value


def check_user_services(text: str, answers: Answers) -> list[str]:
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


def field_checker(model: type[BaseModel], name: str) -> AnswerCheck:
    return lambda text, _answers: field_check(model, name, text)

