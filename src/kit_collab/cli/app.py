"""The command line: parses options, calls the command modules, prints. Nothing else.

Help texts are built for the language chosen before the app is built (``--lang`` or
KIT_COLLAB_LANG), so ``--help`` speaks French by default and English on request.
"""


import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, NoReturn

import typer

from kit_collab import __version__, constants
from kit_collab.errors import KitCollabError
from kit_collab.i18n import set_lang, tr


def _french_help() -> None:
    import typer.rich_utils as ru

    ru.OPTIONS_PANEL_TITLE = tr("Options", "Options")
    ru.COMMANDS_PANEL_TITLE = tr("Commandes", "Commands")
    ru.ARGUMENTS_PANEL_TITLE = tr("Arguments", "Arguments")
    ru.ERRORS_PANEL_TITLE = tr("Erreur", "Error")
    ru.REQUIRED_LONG_STRING = tr("[obligatoire]", "[required]")
    ru.DEFAULT_STRING = tr("[défaut : {}]", "[default: {}]")
    ru.ABORTED_TEXT = tr("Interrompu.", "Aborted.")
    if tr("fr", "en") == "fr":
        import importlib

        def _fr(text: str) -> str:
            return _CLICK_FR.get(text, text)

        # Typer vendors click as typer._click (older releases use click itself).
        for base in ("typer._click", "click"):
            for name in ("core", "decorators", "exceptions", "formatting"):
                try:
                    module = importlib.import_module(f"{base}.{name}")
                except ImportError:
                    continue
                module._ = _fr  # type: ignore[attr-defined]
        importlib.import_module("typer.core")._ = _fr  # type: ignore[attr-defined]
        # Newer Typer writes the help option's text as a literal: translate the option itself.
        for base in ("typer._click", "click"):
            try:
                command = importlib.import_module(f"{base}.core").Command
            except ImportError:
                continue
            original = command.get_help_option
            if getattr(original, "_kit_collab_fr", False):
                continue

            def get_help_option(self, ctx, _original=original):  # type: ignore[no-untyped-def]
                option = _original(self, ctx)
                if option is not None and option.help and tr("fr", "en") == "fr":
                    option.help = _fr(option.help)
                return option

            get_help_option._kit_collab_fr = True  # type: ignore[attr-defined]
            command.get_help_option = get_help_option
        ru.RICH_HELP = "Essayez [blue]'{command_path} {help_option}'[/] pour l'aide."


_CLICK_FR = {
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Usage:": "Utilisation :",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "No such option: {name}": "Option inconnue : {name}",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "Try {command!r} for help.": "Essayez {command!r} pour l'aide.",
    "Invalid value": "Valeur invalide",
    "Got unexpected extra argument ({args})": "Argument en trop ({args})",
    "Got unexpected extra arguments ({args})": "Arguments en trop ({args})",
    "Option {name!r} requires an argument.": "L'option {name!r} demande une valeur.",
    "Did you mean {possibility}?": "Vouliez-vous dire {possibility} ?",
}


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kit-collab {__version__}")
        raise typer.Exit(0)


def _profiles_arg() -> object:
    return typer.Argument(help=tr("Fichier(s) de profil de commune (YAML).",
                                       "Commune profile file(s) (YAML)."), show_default=False)


def build_app() -> typer.Typer:
    _french_help()
    app = typer.Typer(
        name="kit-collab",
        help=tr(
            "Installe et maintient la suite collaborative d'une commune : Nextcloud, Matrix "
            "(Element) et Jitsi Meet, sur un serveur hébergé dans l'UE.",
            "Installs and maintains a commune's collaboration suite: Nextcloud, Matrix "
            "(Element) and Jitsi Meet, on an EU-hosted server.",
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    o = _options()
    @app.callback()
    def _root(
        lang: Annotated[str, typer.Option("--lang", help=tr(
            "Langue des messages : fr ou en (ou KIT_COLLAB_LANG).",
            "Message language: fr or en (or KIT_COLLAB_LANG)."))] = "fr",
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help=tr(
            "Affiche les détails.", "Show details."))] = False,
        version: Annotated[bool, typer.Option("--version", help=tr(
            "Affiche la version.", "Show the version."), is_eager=True,
            callback=_show_version)] = False,
    ) -> None:
        if verbose:
            logging.basicConfig(level=logging.DEBUG)

    _local_commands(app, o)
    _deploy_commands(app, o)
    _maintenance_commands(app, o)
    _recipes_commands(app, o)
    return app


def _fleet_mode(targets: list[Path]) -> bool:
    return len(targets) > 1 or targets[0].is_dir()


def _one_or_fleet(targets: list[Path], command: str, single: Callable[[Path], int], *,
                  as_json: bool, workers: int, only: list[str] | None,
                  skip: list[str] | None, accept_host_key: str | None, logs: Path | None,
                  force: bool = False) -> NoReturn:
    """One profile: ``single``; an inventory folder or several profiles: the fleet run."""
    if not _fleet_mode(targets):
        raise typer.Exit(single(targets[0]))
    from kit_collab.cli.commands import fleet as fleet_cmd

    raise typer.Exit(fleet_cmd.run(targets, command, as_json=as_json, workers=workers,
                                   only=only or [], skip=skip or [],
                                   accept_host_key=accept_host_key, force=force,
                                   log_dir=logs))


def _options() -> SimpleNamespace:
    """Arguments and options shared by several commands (help in the current language)."""
    json_opt = typer.Option("--json", help=tr("Sortie JSON pour les scripts.",
                                                     "JSON output for scripts."))

    profile_arg = typer.Argument(help=tr("Profil de la commune.", "Commune profile."))
    targets_arg = typer.Argument(help=tr(
        "Profil d'une commune ; ou plusieurs profils, ou un dossier d'inventaire (profils et "
        "defauts.yaml) pour toute une flotte.", "A commune profile; or several profiles, or "
        "an inventory folder (profiles and defauts.yaml) for a whole fleet."))
    workers_opt = typer.Option("--parallele", "-j", min=1, max=64, help=tr(
        "Flotte : nombre de communes traitées en même temps.",
        "Fleet: number of communes handled at once."))
    only_opt = typer.Option("--seulement", help=tr(
        "Flotte : seulement ces communes (noms séparés par des virgules).",
        "Fleet: only these communes (comma-separated names)."))
    skip_opt = typer.Option("--sauf", help=tr(
        "Flotte : toutes les communes sauf celles-ci.", "Fleet: every commune but these."))
    logs_opt = typer.Option("--journaux", help=tr(
        "Flotte : dossier des journaux par commune (défaut : journaux/ à côté de "
        "l'inventaire).", "Fleet: folder of the per-commune logs (default: journaux/ beside "
        "the inventory)."))

    yes_opt = typer.Option("--yes", "-y", help=tr("Ne pas demander de confirmation.",
                                                  "Do not ask for confirmation."))
    host_key_opt = typer.Option("--accept-host-key", help=tr(
        "Empreinte SHA256:… de la clé d'hôte SSH à accepter (vérifiée auprès de l'hébergeur).",
        "SHA256:… fingerprint of the SSH host key to accept (checked with the host)."))
    return SimpleNamespace(json_opt=json_opt, profile_arg=profile_arg, targets_arg=targets_arg,
                           workers_opt=workers_opt, only_opt=only_opt, skip_opt=skip_opt,
                           logs_opt=logs_opt, yes_opt=yes_opt, host_key_opt=host_key_opt)


def _local_commands(app: typer.Typer, o: SimpleNamespace) -> None:
    @app.command(help=tr(
        "Pose quelques questions en français et écrit le profil commenté de la commune.",
        "Ask a few questions and write the commune's commented profile."))
    def init(
        path: Annotated[Path, typer.Argument(help=tr(
            "Profil à écrire (jamais écrasé sans --force).",
            "Profile to write (never overwritten without --force)."))] = Path("commune.yaml"),
        nom: Annotated[str | None, typer.Option("--nom", help=tr(
            "Nom de la commune.", "Name of the commune."))] = None,
        domaine: Annotated[str | None, typer.Option("--domaine", help=tr(
            "Domaine de la commune (ex. : mairie-exemple.fr).",
            "Domain of the commune (e.g. town-example.fr)."))] = None,
        email: Annotated[str | None, typer.Option("--email", help=tr(
            "E-mail de contact de la mairie (défaut : mairie@<domaine>).",
            "Contact e-mail of the town hall (default: mairie@<domain>)."))] = None,
        services: Annotated[str | None, typer.Option("--services", help=tr(
            "Services à installer, séparés par des virgules : nextcloud, collabora, matrix, "
            "jitsi (défaut : tous).", "Services to install, comma-separated: nextcloud, "
            "collabora, matrix, jitsi (default: all)."))] = None,
        hote: Annotated[str | None, typer.Option("--hote", help=tr(
            "Adresse du serveur : IP, nom, ou local.", "Server address: IP, name, or local."))
        ] = None,
        ip_publique: Annotated[str | None, typer.Option("--ip-publique", help=tr(
            "IP publique du serveur, si --hote n'en est pas une (vidéo).",
            "Public IP of the server, when --hote is not one (video)."))] = None,
        utilisateur_ssh: Annotated[str | None, typer.Option("--utilisateur-ssh", help=tr(
            "Compte SSH sur le serveur (défaut : root).",
            "SSH account on the server (default: root)."))] = None,
        hebergeur: Annotated[str | None, typer.Option("--hebergeur", help=tr(
            "Hébergeur du serveur (ex. : ovhcloud).", "Hosting provider (e.g. ovhcloud)."))
        ] = None,
        pays: Annotated[str | None, typer.Option("--pays", help=tr(
            "Pays du centre de données, UE/EEE (défaut : FR).",
            "Country of the data centre, EU/EEA (default: FR)."))] = None,
        services_municipaux: Annotated[str | None, typer.Option(
            "--services-municipaux", help=tr(
                "Services municipaux, séparés par des virgules (défaut : Accueil).",
                "Municipal services, comma-separated (default: Accueil)."))] = None,
        admin_nom: Annotated[str | None, typer.Option("--admin-nom", help=tr(
            "Nom du premier agent, l'administrateur (défaut : Secrétariat de mairie).",
            "Name of the first user, the administrator (default: Secrétariat de mairie)."))
        ] = None,
        admin_identifiant: Annotated[str | None, typer.Option("--admin-identifiant", help=tr(
            "Son identifiant de connexion.", "Their login identifier."))] = None,
        admin_email: Annotated[str | None, typer.Option("--admin-email", help=tr(
            "Son adresse e-mail.", "Their e-mail address."))] = None,
        non_interactive: Annotated[bool, typer.Option(
            "--non-interactif", "--yes", "-y", help=tr(
                "Sans questions : les options, sinon les valeurs par défaut (--nom, --domaine, "
                "--hote et --hebergeur obligatoires).", "No questions: the options, else the "
                "defaults (--nom, --domaine, --hote and --hebergeur required)."))] = False,
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Remplacer le fichier s'il existe.", "Replace the file if it exists."))] = False,
    ) -> None:
        from kit_collab.cli.commands import init as cmd

        values = {"nom": nom, "domaine": domaine, "email": email, "services": services,
                  "hote": hote, "ip_publique": ip_publique, "utilisateur_ssh": utilisateur_ssh,
                  "hebergeur": hebergeur, "pays": pays,
                  "services_municipaux": services_municipaux, "admin_nom": admin_nom,
                  "admin_identifiant": admin_identifiant, "admin_email": admin_email}
        raise typer.Exit(cmd.run(path, force=force, interactive=not non_interactive,
                                 values=values))

    @app.command(help=tr("Vérifie un ou plusieurs profils, sans rien installer.",
                         "Check one or more profiles, installing nothing."))
    def validate(
        profiles: Annotated[list[Path], _profiles_arg()],
        as_json: Annotated[bool, o.json_opt] = False,
    ) -> None:
        from kit_collab.cli.commands import validate as cmd

        raise typer.Exit(cmd.run(profiles, as_json=as_json))

    @app.command(help=tr(
        "Écrit dans un dossier tous les fichiers qui seraient déposés sur le serveur.",
        "Write to a folder every file that would land on the server."))
    def render(
        profile: Annotated[Path, typer.Argument(help=tr("Profil de la commune.",
                                                        "Commune profile."))],
        out: Annotated[Path, typer.Option("--out", "-o", help=tr(
            "Dossier de sortie (structure de /opt/kit-collab).",
            "Output folder (laid out as /opt/kit-collab)."))],
        secrets_file: Annotated[Path | None, typer.Option("--secrets", help=tr(
            "Fichier des secrets (créé en 0600 s'il manque). Défaut : "
            ".kit-collab/<commune>.secrets.json à côté du profil.",
            "Secrets file (created 0600 when missing). Default: "
            ".kit-collab/<commune>.secrets.json beside the profile."))] = None,
    ) -> None:
        from kit_collab.cli.commands import render as cmd

        raise typer.Exit(cmd.run(profile, out, secrets_file))

    @app.command(help=tr("Affiche le schéma JSON du profil (complétion dans l'éditeur).",
                         "Print the profile's JSON Schema (editor completion)."))
    def schema() -> None:
        from kit_collab.cli.commands import schema as cmd

        raise typer.Exit(cmd.run())


def _deploy_commands(app: typer.Typer, o: SimpleNamespace) -> None:
    @app.command(help=tr(
        "Installe la suite de la commune sur son serveur. Avec --dry-run : vérifie, génère et "
        "montre ce qui serait déployé, sans serveur.",
        "Install the commune's suite on its server. With --dry-run: check, render and show "
        "what would be deployed, without a server."))
    def install(
        targets: Annotated[list[Path], o.targets_arg],
        dry_run: Annotated[bool, typer.Option("--dry-run", help=tr(
            "Ne rien déployer : montrer ce qui serait déployé (sans serveur).",
            "Deploy nothing: show what would be deployed (no server)."))] = False,
        yes: Annotated[bool, o.yes_opt] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
        lock_wait: Annotated[float, typer.Option("--lock-wait", help=tr(
            "Attendre jusqu'à N secondes qu'une autre opération libère le verrou.",
            "Wait up to N seconds for another operation to release the lock."))] = 0,
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Installer malgré les erreurs de la vérification préalable (noté dans le journal "
            "d'audit).", "Install despite preflight errors (written to the audit log)."))
        ] = False,
        workers: Annotated[int, o.workers_opt] = 4,
        only: Annotated[list[str] | None, o.only_opt] = None,
        skip: Annotated[list[str] | None, o.skip_opt] = None,
        logs: Annotated[Path | None, o.logs_opt] = None,
        as_json: Annotated[bool, o.json_opt] = False,
        sheets_dir: Annotated[Path | None, typer.Option("--fiches", help=tr(
            "Dossier des fiches des agents (mots de passe initiaux) ; défaut : "
            "fiches-<commune> à côté du profil.", "Folder of the agents' sheets (initial "
            "passwords); default: fiches-<commune> beside the profile."))] = None,
    ) -> None:
        if dry_run:
            from kit_collab.cli.commands import install as cmd

            if _fleet_mode(targets):
                raise typer.Exit(cmd.run_fleet(targets, only=only or [], skip=skip or []))
            raise typer.Exit(cmd.run(targets[0], dry_run=True))
        if _fleet_mode(targets) and not yes:
            from kit_collab.errors import InputError

            raise InputError(tr("installation d'une flotte : ajoutez --yes pour confirmer "
                                "(voyez d'abord « kit-collab plan »)",
                                "fleet install: add --yes to confirm (see 'kit-collab "
                                "plan' first)"))
        from kit_collab.cli.commands import server

        _one_or_fleet(targets, "install", lambda p: server.run_install(
            p, yes=yes, accept_host_key=accept_host_key, lock_wait=lock_wait, force=force,
            sheets_dir=sheets_dir), as_json=as_json, workers=workers, only=only, skip=skip,
            accept_host_key=accept_host_key, logs=logs, force=force)

    @app.command(help=tr(
        "Diagnostic : vérifications préalables (DNS, ports, système, hébergement, heure) et "
        "santé des services, chaque problème avec sa correction.",
        "Diagnosis: preflight (DNS, ports, system, hosting, clock) and service health, each "
        "problem with its fix."))
    def check(
        targets: Annotated[list[Path], o.targets_arg],
        as_json: Annotated[bool, o.json_opt] = False,
        resolve: Annotated[list[str] | None, typer.Option("--resolve", help=tr(
            "HOTE:IP ou HOTE:PORT:IP (comme curl) ; « * » pour tous les noms ; répétable.",
            "HOST:IP or HOST:PORT:IP (as curl); '*' for every name; repeatable."))] = None,
        ca_cert: Annotated[Path | None, typer.Option("--ca-cert", help=tr(
            "Certificat PEM d'une autorité de plus à croire (autorité interne de Caddy) ; la "
            "vérification reste active.", "PEM certificate of one more authority to trust "
            "(Caddy's internal one); verification stays on."))] = None,
        dns: Annotated[str | None, typer.Option("--dns", help=tr(
            "Serveur DNS à interroger (IP ou IP:PORT).", "DNS server to ask (IP or IP:PORT)."))
        ] = None,
        no_server: Annotated[bool, typer.Option("--no-server", help=tr(
            "Sans connexion SSH : DNS, ports et santé seulement.",
            "No SSH: DNS, ports and health only."))] = False,
        deadline: Annotated[float, typer.Option("--deadline", help=tr(
            "Réessayer les contrôles en échec jusqu'à N secondes.",
            "Retry failing checks for up to N seconds."))] = 60,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
        workers: Annotated[int, o.workers_opt] = 4,
        only: Annotated[list[str] | None, o.only_opt] = None,
        skip: Annotated[list[str] | None, o.skip_opt] = None,
        logs: Annotated[Path | None, o.logs_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import check as cmd

        _one_or_fleet(targets, "check", lambda p: cmd.run(
            p, as_json=as_json, resolve=resolve or [], ca_cert=ca_cert,
            accept_host_key=accept_host_key, server=not no_server, deadline=deadline,
            dns_server=dns), as_json=as_json, workers=workers, only=only, skip=skip,
            accept_host_key=accept_host_key, logs=logs)

    @app.command(help=tr("Montre ce qu'une installation changerait sur le serveur, sans rien "
                         "changer.", "Show what an install would change on the server, "
                         "changing nothing."))
    def plan(
        targets: Annotated[list[Path], o.targets_arg],
        as_json: Annotated[bool, o.json_opt] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
        workers: Annotated[int, o.workers_opt] = 4,
        only: Annotated[list[str] | None, o.only_opt] = None,
        skip: Annotated[list[str] | None, o.skip_opt] = None,
        logs: Annotated[Path | None, o.logs_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import server

        _one_or_fleet(targets, "plan", lambda p: server.run_plan(
            p, as_json=as_json, accept_host_key=accept_host_key), as_json=as_json,
            workers=workers, only=only, skip=skip, accept_host_key=accept_host_key, logs=logs)


def _maintenance_commands(app: typer.Typer, o: SimpleNamespace) -> None:
    @app.command(help=tr(
        "Comptes des agents : qui existe où (Nextcloud, Matrix, Jitsi) et ce qui diffère du "
        "profil. Avec --apply : comptes, groupes, dossiers partagés et salons mis à jour ; un "
        "compte retiré du profil est désactivé (jamais supprimé) après confirmation.",
        "Agents' accounts: who exists where (Nextcloud, Matrix, Jitsi) and what differs from "
        "the profile. With --apply: accounts, groups, group folders and rooms brought up to "
        "date; an account removed from the profile is disabled (never deleted) once "
        "confirmed."))
    def users(
        profile: Annotated[Path, o.profile_arg],
        as_json: Annotated[bool, o.json_opt] = False,
        apply: Annotated[bool, typer.Option("--apply", help=tr(
            "Appliquer les changements (les retraits demandent une confirmation).",
            "Apply the changes (removals ask for a confirmation)."))] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help=tr(
            "Confirmer aussi les retraits : comptes désactivés, agents retirés d'un groupe.",
            "Also confirm removals: accounts disabled, agents taken out of a group."))] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import users as cmd

        raise typer.Exit(cmd.run(profile, as_json=as_json, accept_host_key=accept_host_key,
                                 apply=apply, yes=yes))

    @app.command(help=tr("Version déployée, recettes, conteneurs et leur santé.",
                         "Deployed release, recipes, containers and their health."))
    def status(
        targets: Annotated[list[Path], o.targets_arg],
        as_json: Annotated[bool, o.json_opt] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
        workers: Annotated[int, o.workers_opt] = 4,
        only: Annotated[list[str] | None, o.only_opt] = None,
        skip: Annotated[list[str] | None, o.skip_opt] = None,
        logs: Annotated[Path | None, o.logs_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import server

        _one_or_fleet(targets, "status", lambda p: server.run_status(
            p, as_json=as_json, accept_host_key=accept_host_key), as_json=as_json,
            workers=workers, only=only, skip=skip, accept_host_key=accept_host_key, logs=logs)

    @app.command(help=tr("Remet en place la version précédente.",
                         "Put the previous release back in place."))
    def rollback(
        profile: Annotated[Path, o.profile_arg],
        yes: Annotated[bool, o.yes_opt] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import server

        raise typer.Exit(server.run_rollback(profile, yes=yes, accept_host_key=accept_host_key))

    @app.command(help=tr(
        "Retire la commune de son serveur (services arrêtés, données conservées) ; les autres "
        "communes du serveur restent servies.", "Take the commune off its server (services "
        "stopped, data kept); the server's other communes keep being served."))
    def remove(
        profile: Annotated[Path, o.profile_arg],
        yes: Annotated[bool, o.yes_opt] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import server

        raise typer.Exit(server.run_remove(profile, yes=yes, accept_host_key=accept_host_key))

    @app.command(help=tr("Lève le verrou d'une opération abandonnée (avec --force).",
                         "Remove the lock of an abandoned operation (with --force)."))
    def unlock(
        profile: Annotated[Path, o.profile_arg],
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Confirmer la levée du verrou.", "Confirm removing the lock."))] = False,
        accept_host_key: Annotated[str | None, o.host_key_opt] = None,
    ) -> None:
        from kit_collab.cli.commands import server

        raise typer.Exit(server.run_unlock(profile, force=force,
                                           accept_host_key=accept_host_key))


def _recipes_commands(app: typer.Typer, o: SimpleNamespace) -> None:
    recipes_app = typer.Typer(help=tr("Recettes des services : liste et vérification.",
                                      "Service recipes: list and checks."),
                              no_args_is_help=True)
    app.add_typer(recipes_app, name="recipes")

    @recipes_app.command("list", help=tr("Liste les recettes et leurs versions.",
                                         "List recipes and their versions."))
    def recipes_list(as_json: Annotated[bool, o.json_opt] = False) -> None:
        from kit_collab.cli.commands import recipes as cmd

        raise typer.Exit(cmd.run_list(as_json=as_json))

    @recipes_app.command("lint", help=tr(
        "Vérifie les recettes et leurs modèles (code de sortie non nul en cas d'erreur).",
        "Check recipes and their templates (non-zero exit on an error)."))
    def recipes_lint(as_json: Annotated[bool, o.json_opt] = False) -> None:
        from kit_collab.cli.commands import recipes as cmd

        raise typer.Exit(cmd.run_lint(as_json=as_json))



def _log_unexpected(exc: BaseException) -> Path | None:
    import os
    import traceback

    from kit_collab.redact import redact

    base = Path(os.environ.get("KIT_COLLAB_LOG_DIR") or
                Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
                / "kit-collab")
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = base / "erreur.log"
        text = "".join(traceback.format_exception(exc))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(text) + "\n")
        return path
    except OSError:
        return None


def run(argv: list[str]) -> int:
    """Run the CLI on argv; return the exit code."""
    from kit_collab.i18n import lang_from

    set_lang(lang_from(argv))
    app = build_app()
    try:
        app(args=argv, prog_name="kit-collab")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except KitCollabError as exc:
        from kit_collab.cli.output import report_error

        report_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return constants.EXIT_INTERRUPTED
    except Exception as exc:  # an unexpected bug: short message, details in the log file
        from kit_collab.cli.output import err

        path = _log_unexpected(exc)
        err.print(tr(f"Erreur inattendue ({type(exc).__name__}). Détails : {path}",
                     f"Unexpected error ({type(exc).__name__}). Details: {path}"))
        return constants.EXIT_FAILURE
    return constants.EXIT_OK
