"""``kit-collab users``: who exists where, and what differs from the profile.

Read-only by default (two round trips: the server's facts, then the accounts). With
``--apply`` the planned actions are applied in one more round trip; removals (an account
disabled, an agent taken out of a group) wait for a confirmation: ``--yes``, or a yes asked
on the terminal. Accounts are never deleted. Over one profile or a fleet.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import count, tr

KIND_LABELS = {
    "create-user": ("à créer", "to create"),
    "enable": ("à réactiver", "to enable"),
    "disable": ("à désactiver", "to disable"),
    "set-name": ("nom", "name"),
    "set-email": ("e-mail", "e-mail"),
    "set-quota": ("quota", "quota"),
    "set-admin": ("admin", "admin"),
    "add-to-group": ("groupes", "groups"),
    "remove-from-group": ("retrait de groupe", "group removal"),
    "add-to-room": ("salons", "rooms"),
    "set-room-admin": ("admin de salon", "room admin"),
    "create-group": ("groupe à créer", "group to create"),
    "create-folder": ("dossier partagé à créer", "group folder to create"),
    "set-folder-rights": ("droits du dossier à corriger", "folder rights to fix"),
    "rename-folder": ("dossier à renommer", "folder to rename"),
    "create-room": ("salon à créer", "room to create"),
    "rename-room": ("salon à renommer", "room to rename"),
}
STATE_LABELS = {
    "present": ("présent", "present"),
    "absent": ("absent", "absent"),
    "desactive": ("désactivé", "disabled"),
    "erreur": ("illisible", "unreadable"),
    "non-installe": ("—", "—"),
}


def cell(state: str, kinds: tuple[str, ...]) -> str:
    """One table cell (rich markup): the account's state, then what will change."""
    if state == "present" and not kinds:
        return "[green]✓[/]"
    if "create-user" in kinds:
        return f"[yellow]{tr(*KIND_LABELS['create-user'])}[/]"
    if "disable" in kinds:
        return f"[red]{tr(*KIND_LABELS['disable'])}[/]"
    text = tr(*STATE_LABELS.get(state, (state, state)))
    changes = list(dict.fromkeys(tr(*KIND_LABELS.get(k, (k, k))) for k in kinds))
    if not changes:
        return f"[dim]{text}[/]" if state in ("desactive", "non-installe") else text
    return f"{text} [yellow]→ {', '.join(changes)}[/]"


def report(profile: Any, services: tuple[str, ...], found: Any,
           outcome: Any = None) -> dict[str, Any]:
    """Everything the command shows, as data (see operations/accounts.py)."""
    from kit_collab.operations.accounts import report as build

    return build(profile, services, found, outcome)


def show(profile: Any, found: Any) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out
    from kit_collab.plan import accounts

    rows = accounts.table(profile, found.existing, found.actions)
    table = Table(title=tr(f"Comptes de {esc(profile.commune.nom)}",
                           f"Accounts of {esc(profile.commune.nom)}"))
    for col in (tr("Identifiant", "Identifier"), tr("Nom", "Name"), "Nextcloud", "Matrix",
                "Jitsi"):
        table.add_column(col)
    for row in rows:
        name = esc(row.nom) if row.nom else tr("[dim](hors profil)[/]", "[dim](not in profile)[/]")
        table.add_row(esc(row.identifiant), name, *[cell(st, kinds) for _s, st, kinds in row.cells])
    out.print(table)
    spaces = [a for a in found.actions if a.kind in (
        "create-group", "create-folder", "set-folder-rights", "rename-folder", "create-room",
        "rename-room")]
    if spaces:
        other = Table(title=tr("Espaces partagés à créer ou corriger",
                               "Shared spaces to create or fix"))
        for col in ("Service", "Action", tr("Cible", "Target"), tr("Détail", "Detail")):
            other.add_column(col)
        for action in spaces:
            other.add_row(action.service, tr(*KIND_LABELS[action.kind]), esc(action.target),
                          esc(action.detail))
        out.print(other)
    if found.lock:
        out.print(tr(f"[yellow]Verrou :[/] {esc(found.lock)}",
                     f"[yellow]Lock:[/] {esc(found.lock)}"))
    for warning in found.warnings:
        out.print(f"[yellow]![/] {esc(warning)}")


def _confirm(profile: Any, found: Any, actions: list[Any]) -> bool:
    from kit_collab.cli.output import esc, out
    from kit_collab.cli.prompts import yes_no

    show(profile, found)
    out.print(tr("Retraits prévus (les comptes sont désactivés, jamais supprimés) :",
                 "Planned removals (accounts are disabled, never deleted):"))
    for action in actions:
        out.print(f"  - {action.service} : {esc(action.target)} — {esc(action.detail)}")
    return yes_no(tr("Appliquer ces retraits ?", "Apply these removals?"), default=False)


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Comptes des agents : qui existe où (Nextcloud, Matrix, Jitsi) et ce qui diffère du "
        "profil. Avec --apply : comptes, groupes, dossiers partagés et salons mis à jour ; un "
        "compte retiré du profil est désactivé (jamais supprimé) après confirmation.",
        "Agents' accounts: who exists where (Nextcloud, Matrix, Jitsi) and what differs from "
        "the profile. With --apply: accounts, groups, group folders and rooms brought up to "
        "date; an account removed from the profile is disabled (never deleted) once "
        "confirmed."))
    @options.fleet_command
    def users(
        targets: Annotated[list[Path], options.targets_argument()],
        apply: Annotated[bool, typer.Option("--apply", help=tr(
            "Appliquer les changements (les retraits demandent une confirmation).",
            "Apply the changes (removals ask for a confirmation)."))] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help=tr(
            "Confirmer aussi les retraits : comptes désactivés, agents retirés d'un groupe.",
            "Also confirm removals: accounts disabled, agents taken out of a group."))] = False,
        *, fleet: FleetArgs,
    ) -> int:
        return run_targets(targets, fleet, apply=apply, yes=yes)


def run_targets(targets: list[Path], fleet: FleetArgs, *, apply: bool, yes: bool) -> int:
    from kit_collab.cli import session
    from kit_collab.errors import InputError
    from kit_collab.fleet import actions
    from kit_collab.operations.accounts import AccountsOptions
    from kit_collab.recipes.load import load_recipes

    if yes and not apply:
        raise InputError(tr("--yes confirme les retraits de --apply : ajoutez --apply",
                            "--yes confirms the removals of --apply: add --apply"))
    opts = AccountsOptions(apply=apply, yes=yes)
    confirm = _confirm if session.interactive() and not fleet.as_json else None

    def single(path: Path) -> int:
        return _single(path, opts, fleet, confirm)

    return session.run("users", targets, fleet,
                       lambda: actions.users_action(load_recipes(), opts), single)


def run(profile_path: Path, *, as_json: bool, accept_host_key: str | None, apply: bool,
        yes: bool) -> int:
    """``users`` on one profile, as the command line runs it."""
    return run_targets([profile_path], FleetArgs(as_json=as_json,
                                                 accept_host_key=accept_host_key),
                       apply=apply, yes=yes)


def _single(path: Path, opts: Any, fleet: FleetArgs, confirm: Any) -> int:
    from kit_collab.cli import session
    from kit_collab.cli.output import esc, out
    from kit_collab.operations import accounts
    from kit_collab.operations.report import QuietReporter

    profile, recipes = session.load(path)
    with session.open_transport(profile, fleet.accept_host_key) as transport:
        result = accounts.accounts(transport, profile, recipes, opts, QuietReporter(),
                                   confirm and (lambda found, removals: confirm(
                                       profile, found, removals)))
    found, outcome = result.survey, result.applied
    if outcome is None:
        show(profile, found)
        if found.actions and not opts.apply:
            planned = count(len(found.actions), ("action prévue", "actions prévues"),
                            ("planned action", "planned actions"))
            out.print(tr(f"{planned} ; pour les appliquer : "
                         f"kit-collab users {esc(path)} --apply",
                         f"{planned}; to apply them: "
                         f"kit-collab users {esc(path)} --apply"))
        elif not found.actions:
            out.print(tr("[green]✓[/] Les comptes correspondent au profil.",
                         "[green]✓[/] The accounts match the profile."))
        return result.code
    done = [r for r in outcome.results if r.ok]
    applied = count(len(done), ("action appliquée", "actions appliquées"),
                    ("action applied", "actions applied"))
    out.print(f"[green]✓[/] {applied}.")
    for warning in [*found.warnings, *outcome.warnings]:
        out.print(f"[yellow]![/] {esc(warning)}")
    return result.code
