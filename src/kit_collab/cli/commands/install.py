"""``kit-collab install``: bring one commune's server, or a fleet's, to the profile.

With ``--dry-run`` nothing is deployed: see dry_run.py.
"""

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab import constants
from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Installe la suite de la commune sur son serveur. Avec --dry-run : vérifie, génère et "
        "montre ce qui serait déployé, sans serveur.",
        "Install the commune's suite on its server. With --dry-run: check, render and show "
        "what would be deployed, without a server."))
    @options.fleet_command
    def install(
        targets: Annotated[list[Path], options.targets_argument()],
        dry_run: Annotated[bool, typer.Option("--dry-run", help=tr(
            "Ne rien déployer : montrer ce qui serait déployé (sans serveur).",
            "Deploy nothing: show what would be deployed (no server)."))] = False,
        yes: Annotated[bool, options.yes_option()] = False,
        lock_wait: Annotated[float, typer.Option("--lock-wait", help=tr(
            "Attendre jusqu'à N secondes qu'une autre opération libère le verrou.",
            "Wait up to N seconds for another operation to release the lock."))] = 0,
        force: Annotated[bool, typer.Option("--force", help=tr(
            "Installer malgré les erreurs de la vérification préalable (noté dans le journal "
            "d'audit).", "Install despite preflight errors (written to the audit log)."))
        ] = False,
        sheets_dir: Annotated[Path | None, typer.Option("--fiches", help=tr(
            "Dossier des fiches des agents (mots de passe initiaux) ; défaut : "
            "fiches-<commune> à côté du profil ; pour une flotte, un sous-dossier "
            "fiches-<commune> par commune.", "Folder of the agents' sheets (initial "
            "passwords); default: fiches-<commune> beside the profile; for a fleet, one "
            "fiches-<commune> sub-folder per commune."))] = None,
        *, fleet: FleetArgs,
    ) -> int:
        if dry_run:
            from kit_collab.cli.commands import dry_run as simulation

            return simulation.run(targets, fleet)
        from kit_collab.cli.commands import backup as backup_command
        from kit_collab.operations.install import InstallOptions

        opts = InstallOptions(force=force, lock_wait=lock_wait,
                              wait=int(os.environ.get("KIT_COLLAB_WAIT", "300")),
                              sheets_dir=sheets_dir, sheets_always=sheets_dir is not None,
                              ask_secret=backup_command.ask_secret(targets, fleet))
        return run(targets, opts, fleet, yes=yes)


def _needs_yes(targets: list[Path], fleet: FleetArgs) -> None:
    from kit_collab.cli import session
    from kit_collab.errors import InputError

    if not session.single_target(targets):
        raise InputError(tr("installation d'une flotte : ajoutez --yes pour confirmer "
                            "(voyez d'abord « kit-collab plan »)",
                            "fleet install: add --yes to confirm (see 'kit-collab "
                            "plan' first)"))
    if fleet.as_json or not session.interactive():
        raise InputError(tr("installation non interactive : ajoutez --yes pour confirmer",
                            "non-interactive install: add --yes to confirm"))


def run(targets: list[Path], opts: Any, fleet: FleetArgs, *, yes: bool) -> int:
    from kit_collab.cli import session
    from kit_collab.fleet import actions
    from kit_collab.recipes.load import load_recipes

    if not yes:
        _needs_yes(targets, fleet)
    return session.run("install", targets, fleet,
                       lambda: actions.install_action(load_recipes(), opts),
                       lambda path: _single(path, opts, fleet, yes=yes))


def _confirmed(transport: Any, profile: Any, recipes: Any) -> bool:
    """The plan shown, then a yes asked on the terminal (False: nothing to do or no)."""
    from kit_collab.cli.commands.plan import show_plan
    from kit_collab.cli.output import out
    from kit_collab.cli.prompts import yes_no
    from kit_collab.operations import plan as plan_op
    from kit_collab.operations.report import QuietReporter

    planned = plan_op.plan(transport, profile, recipes, QuietReporter())
    show_plan(planned.plan, planned.data.get("identifiants_matrix", ""))
    if planned.plan.noop:
        return False
    if not yes_no(tr("Appliquer ces changements ?", "Apply these changes?"), default=False):
        out.print(tr("Abandon : rien n'a été changé.", "Cancelled: nothing changed."))
        return False
    return True


def _single(path: Path, opts: Any, fleet: FleetArgs, *, yes: bool) -> int:
    from kit_collab.cli import session
    from kit_collab.cli.commands.check import print_report
    from kit_collab.cli.commands.plan import show_plan
    from kit_collab.cli.output import esc, out
    from kit_collab.operations import install as install_op

    profile, recipes = session.load(path)
    with session.open_transport(profile, fleet.accept_host_key) as transport:
        if not yes and not _confirmed(transport, profile, recipes):
            return constants.EXIT_OK
        result = install_op.install(transport, profile, path, recipes, opts,
                                    session.RichReporter(profile))
    outcome = result.outcome
    if not outcome.applied:
        show_plan(outcome.plan)
        if result.sheets:
            out.print(esc(result.sheets))
        return constants.EXIT_OK
    _summary(profile, outcome)
    if result.sheets:
        out.print(f"  {esc(result.sheets)}")
    for warning in outcome.warnings:
        out.print(f"[yellow]![/] {esc(warning)}")
    if result.code != constants.EXIT_OK:
        print_report(profile, result.findings)
    return result.code


def _summary(profile: Any, outcome: Any) -> None:
    from kit_collab.cli.output import esc, out

    plan, bundle = outcome.plan, outcome.bundle
    out.print(tr(f"[green]✓[/] Version {bundle.release} en place pour {esc(profile.commune.nom)}.",
                 f"[green]✓[/] Release {bundle.release} in place for "
                 f"{esc(profile.commune.nom)}."))
    out.print(tr(f"  Fichiers : {len(plan.added)} ajoutés, {len(plan.changed)} modifiés, "
                 f"{len(plan.removed)} supprimés ; services redémarrés : "
                 f"{', '.join(plan.restart) or 'aucun'}.",
                 f"  Files: {len(plan.added)} added, {len(plan.changed)} changed, "
                 f"{len(plan.removed)} removed; services restarted: "
                 f"{', '.join(plan.restart) or 'none'}."))
    for recipe, hosts in bundle.hosts.items():
        for host in hosts.values():
            if recipe != "base":
                out.print(f"  {esc(recipe)} : https://{esc(host)}")
    secrets = f"{profile.serveur.racine}/communes/{bundle.slug}/secrets/secrets.json"
    out.print(tr(f"  Mots de passe : sur le serveur, dans {secrets} (lisible par root "
                 "seulement).",
                 f"  Passwords: on the server, in {secrets} (readable by root only)."))
    _webmaster(profile, bundle)


def _webmaster(profile: Any, bundle: Any) -> None:
    """Matrix identifiers on a website kept where it is: what its webmaster publishes."""
    from kit_collab.check.rules import delegation
    from kit_collab.cli.output import esc, out

    d = delegation.delegation(profile, bundle)
    if d is not None and d.on_website:
        for line in delegation.webmaster_text(d):
            out.print(f"  {esc(line)}")
