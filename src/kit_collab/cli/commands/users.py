"""``kit-collab users``: who exists where, and what differs from the profile.

Read-only by default (two round trips: the server's facts, then the accounts). With
``--apply`` the planned actions are applied in one more round trip; removals (an account
disabled, an agent taken out of a group) wait for a confirmation: ``--yes``, or a yes asked
on the terminal. Accounts are never deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.i18n import tr

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
    """Everything the command shows, as data (its --json output)."""
    from kit_collab.plan import accounts

    rows = accounts.table(profile, found.existing, found.actions)
    data: dict[str, Any] = {
        "commune": profile.commune.code,
        "services": {svc: {"installe": svc in services,
                           "erreur": (state.error if (state := found.existing.of(svc)) else None)}
                     for svc in accounts.SERVICES},
        "comptes": [r.as_dict() for r in rows],
        "actions": [a.as_dict() for a in found.actions],
        "avertissements": list(found.warnings),
        "verrou": found.lock or None,
    }
    if outcome is not None:
        data["resultats"] = [{**r.action.as_dict(), "ok": r.ok, "journal": r.log}
                             for r in outcome.results]
        data["en_attente"] = [a.as_dict() for a in outcome.skipped]
        data["avertissements"] += outcome.warnings
    return data


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


def _confirm_removals(actions: list[Any]) -> bool:
    from rich.prompt import Confirm

    from kit_collab.cli.output import esc, out

    out.print(tr("Retraits prévus (les comptes sont désactivés, jamais supprimés) :",
                 "Planned removals (accounts are disabled, never deleted):"))
    for action in actions:
        out.print(f"  - {action.service} : {esc(action.target)} — {esc(action.detail)}")
    return bool(Confirm.ask(tr("Appliquer ces retraits ?", "Apply these removals?"),
                            default=False))


def run(profile_path: Path, *, as_json: bool, accept_host_key: str | None, apply: bool,
        yes: bool) -> int:
    from kit_collab.apply import deploy, provision
    from kit_collab.bundle.active import active_recipes
    from kit_collab.cli.commands.server import _interactive, _load, open_transport
    from kit_collab.cli.output import esc, out, print_json
    from kit_collab.errors import DeployError, InputError

    if yes and not apply:
        raise InputError(tr("--yes confirme les retraits de --apply : ajoutez --apply",
                            "--yes confirms the removals of --apply: add --apply"))
    profile, recipes = _load(profile_path)
    active = [r.name for r in active_recipes(profile, recipes)]
    outcome = None
    with open_transport(profile, accept_host_key) as transport:
        facts = deploy.read_facts(transport, profile)
        if not facts.current:
            raise DeployError(tr(f"la commune {profile.commune.code} n'est pas installée sur "
                                 "son serveur", f"commune {profile.commune.code} is not "
                                 "installed on its server"),
                              hint=tr("lancez d'abord « kit-collab install »",
                                      "run 'kit-collab install' first"))
        deployed = set(facts.state.recipes or active)
        services = provision.services_of(n for n in active if n in deployed)
        target = provision.target_for(profile)
        found = provision.survey(transport, target, profile, services, facts.secrets)
        if apply and found.actions:
            if found.lock:
                raise deploy.locked_error(found.lock, profile)
            removals = [a for a in found.actions if a.removal]
            confirmed = yes
            if removals and not yes and not as_json and _interactive():
                show(profile, found)
                confirmed = _confirm_removals(removals)
            outcome = provision.apply(transport, target, profile, found.actions,
                                      facts.secrets, confirm_disable=confirmed)
    data = report(profile, services, found, outcome)
    failed = bool(outcome and outcome.failed) or any(
        v["erreur"] for v in data["services"].values())
    if as_json:
        print_json(data)
        return constants.EXIT_FAILURE if failed else constants.EXIT_OK
    if outcome is None:
        show(profile, found)
        if found.actions and not apply:
            out.print(tr(f"{len(found.actions)} action(s) prévue(s) ; pour les appliquer : "
                         f"kit-collab users {esc(profile_path)} --apply",
                         f"{len(found.actions)} planned action(s); to apply them: "
                         f"kit-collab users {esc(profile_path)} --apply"))
        elif not found.actions:
            out.print(tr("[green]✓[/] Les comptes correspondent au profil.",
                         "[green]✓[/] The accounts match the profile."))
    else:
        done = [r for r in outcome.results if r.ok]
        out.print(tr(f"[green]✓[/] {len(done)} action(s) appliquée(s).",
                     f"[green]✓[/] {len(done)} action(s) applied."))
        for warning in [*found.warnings, *outcome.warnings]:
            out.print(f"[yellow]![/] {esc(warning)}")
    return constants.EXIT_FAILURE if failed else constants.EXIT_OK
