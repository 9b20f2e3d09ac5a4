"""``kit-collab init``: ask plain questions in French and write a commented commune profile."""

from pathlib import Path
from typing import Annotated

import typer

from kit_collab.i18n import tr


def _text(name: str, fr: str, en: str) -> object:
    return typer.Option(name, help=tr(fr, en))


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Pose quelques questions en français et écrit le profil commenté de la commune.",
        "Ask a few questions and write the commune's commented profile."))
    def init(
        path: Annotated[Path, typer.Argument(metavar=tr("PROFIL", "PROFILE"), help=tr(
            "Profil à écrire (jamais écrasé sans --force).",
            "Profile to write (never overwritten without --force)."))] = Path("commune.yaml"),
        nom: Annotated[str | None, _text("--nom", "Nom de la commune.",
                                         "Name of the commune.")] = None,
        domaine: Annotated[str | None, _text(
            "--domaine", "Domaine de la commune (ex. : mairie-exemple.fr).",
            "Domain of the commune (e.g. town-example.fr).")] = None,
        email: Annotated[str | None, _text(
            "--email", "E-mail de contact de la mairie (défaut : mairie@<domaine>).",
            "Contact e-mail of the town hall (default: mairie@<domain>).")] = None,
        services: Annotated[str | None, _text(
            "--services", "Services à installer, séparés par des virgules : nextcloud, "
            "collabora, matrix, jitsi (défaut : tous).", "Services to install, "
            "comma-separated: nextcloud, collabora, matrix, jitsi (default: all).")] = None,
        hote: Annotated[str | None, _text("--hote", "Adresse du serveur : IP, nom, ou local.",
                                          "Server address: IP, name, or local.")] = None,
        ip_publique: Annotated[str | None, _text(
            "--ip-publique", "IP publique du serveur, si --hote n'en est pas une (vidéo).",
            "Public IP of the server, when --hote is not one (video).")] = None,
        utilisateur_ssh: Annotated[str | None, _text(
            "--utilisateur-ssh", "Compte SSH sur le serveur (défaut : root).",
            "SSH account on the server (default: root).")] = None,
        hebergeur: Annotated[str | None, _text(
            "--hebergeur", "Hébergeur du serveur (ex. : ovhcloud).",
            "Hosting provider (e.g. ovhcloud).")] = None,
        pays: Annotated[str | None, _text(
            "--pays", "Pays du centre de données, UE/EEE (défaut : FR).",
            "Country of the data centre, EU/EEA (default: FR).")] = None,
        services_municipaux: Annotated[str | None, _text(
            "--services-municipaux", "Services municipaux, séparés par des virgules (défaut : "
            "Accueil).", "Municipal services, comma-separated (default: Accueil).")] = None,
        admin_nom: Annotated[str | None, _text(
            "--admin-nom", "Nom du premier agent, l'administrateur (défaut : Secrétariat de "
            "mairie).", "Name of the first user, the administrator (default: Secrétariat "
            "de mairie).")] = None,
        admin_identifiant: Annotated[str | None, _text(
            "--admin-identifiant", "Son identifiant de connexion.",
            "Their login identifier.")] = None,
        admin_email: Annotated[str | None, _text("--admin-email", "Son adresse e-mail.",
                                                 "Their e-mail address.")] = None,
        non_interactive: Annotated[bool, typer.Option(
            "--non-interactif", "--yes", "-y", help=tr(
                "Sans questions : les options, sinon les valeurs par défaut (--nom, --domaine, "
                "--hote et --hebergeur obligatoires).", "No questions: the options, else the "
                "defaults (--nom, --domaine, --hote and --hebergeur required)."))] = False,
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Remplacer le fichier s'il existe.", "Replace the file if it exists."))] = False,
    ) -> None:
        values = {"nom": nom, "domaine": domaine, "email": email, "services": services,
                  "hote": hote, "ip_publique": ip_publique, "utilisateur_ssh": utilisateur_ssh,
                  "hebergeur": hebergeur, "pays": pays,
                  "services_municipaux": services_municipaux, "admin_nom": admin_nom,
                  "admin_identifiant": admin_identifiant, "admin_email": admin_email}
        raise typer.Exit(run(path, force=force, interactive=not non_interactive,
                             values=values))


def run(path: Path, *, force: bool, interactive: bool, values: dict[str, str | None]) -> int:
    """Ask (or take from ``values`` and defaults), check, then write the profile at ``path``."""
    from kit_collab.cli import init_dialog

    return init_dialog.run(path, force=force, interactive=interactive, values=values)
