"""The command line: the root command, one module per subcommand (cli/commands/), and the
error handling. Nothing else.

Help texts are built for the language chosen before the app is built (``--lang`` or
KIT_COLLAB_LANG), so ``--help`` speaks French by default and English on request. Only what
the command being run needs is imported: a command module imports its work when it runs.
"""

import logging
from pathlib import Path
from typing import Annotated

import typer

from kit_collab import __version__, constants
from kit_collab.errors import KitCollabError
from kit_collab.i18n import set_lang, tr

COMMANDS = ("init", "validate", "render", "schema", "install", "check", "plan", "users",
            "status", "rollback", "remove", "unlock", "recipes", "dns", "fiches", "access",
            "updates", "backup", "restore")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kit-collab {__version__}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    import importlib

    from kit_collab.cli import given_secrets, help_fr

    help_fr.install()
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
        given_secrets.install()  # the mail relay's password: environment or prompt

    for name in COMMANDS:
        importlib.import_module(f"kit_collab.cli.commands.{name}").register(app)
    return app


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
    from kit_collab.i18n import lang_first, lang_from

    set_lang(lang_from(argv))
    argv = lang_first(argv)
    app = build_app()
    from kit_collab.cli.session import ctrl_c

    try:
        with ctrl_c():
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
