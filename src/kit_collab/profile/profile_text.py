"""The profile ``kit-collab init`` writes: commented, in French like its keys, with the
JSON Schema reference editors use for completion."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kit_collab.escape import yaml_value
from kit_collab.profile import yamlsafe
from kit_collab.profile.answer_checks import Answers
from kit_collab.profile.load import validate_document
from kit_collab.profile.model import Commune, Jitsi, Matrix, Nextcloud, Profile, Serveur


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
        *_matrix_identity(answers),
        "  jitsi:",
        *_key(Jitsi, "actif", "jitsi" in chosen, 4),
        *_key(Jitsi, "sous_domaine", "visio", 4),
        *_key(Jitsi, "invites", True, 4),
        "",
    ]


def _matrix_identity(answers: Answers) -> list[str]:
    """How identifiers find their server, from the plain answers (site web, webmestre)."""
    from kit_collab.profile.questions import matrix_mode

    if "matrix" not in set(answers["services"]):
        return []
    mode = matrix_mode(answers)
    lines = _key(Matrix, "identifiants", mode, 4)
    if answers.get("site_web"):
        lines += _key(Matrix, "site_web", answers["site_web"], 4)
    return lines


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
