"""Commands that talk to the server: install, plan, status, rollback, unlock."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.errors import InputError
from kit_collab.i18n import tr


def _confirm_host_key(host: str, key_type: str, fingerprint: str) -> bool:
    from rich.prompt import Confirm

    from kit_collab.cli.output import err, esc

    err.print(tr(f"Clé d'hôte inconnue pour {esc(host)} : {esc(key_type)} {esc(fingerprint)}",
                 f"Unknown host key for {esc(host)}: {esc(key_type)} {esc(fingerprint)}"))
    err.print(tr("Vérifiez-la auprès de l'hébergeur (console du serveur : "
                 "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).",
                 "Check it with the host (server console: "
                 "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)."))
    return Confirm.ask(tr("Faire confiance à cette clé ?", "Trust this key?"), default=False,
                       console=err)


def _interactive() -> bool:
    return sys.stdin.isatty() and os.environ.get("CI") is None


def open_transport(profile: Any, accept_host_key: str | None) -> Any:
    from kit_collab.apply.transport import connect

    return connect(profile.serveur, accept_host_key=accept_host_key,
                   confirm=_confirm_host_key if _interactive() else None)


class RichReporter:
    def __init__(self) -> None:
        from kit_collab.cli.output import out

        self.out = out
        self._last = -1

    def step(self, text: str) -> None:
        from kit_collab.cli.output import esc

        self.out.print(f"[cyan]→[/] {esc(text)}")

    def progress(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent // 25 > self._last // 25 or (percent == 100 and self._last != 100):
            self.out.print(f"   {percent} %")
            self._last = percent


def _load(profile_path: Path) -> tuple[Any, Any]:
    from kit_collab.profile.model import load_profile
    from kit_collab.recipes.load import load_recipes

    return load_profile(profile_path), load_recipes()


def show_plan(plan: Any) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    if plan.noop:
        out.print(tr(f"[green]✓[/] Rien à faire : la version {plan.release} est déjà en place.",
                     f"[green]✓[/] Nothing to do: release {plan.release} is already in place."))
        return
    table = Table(title=tr(f"Plan : {plan.previous or 'aucune version'} → {plan.release}",
                           f"Plan: {plan.previous or 'no release'} → {plan.release}"))
    for col in ("Action", tr("Cible", "Target"), tr("Détail", "Detail")):
        table.add_column(col)
    for change in plan.changes():
        table.add_row(esc(change.action), esc(change.target), esc(change.detail))
    out.print(table)


def run_plan(profile_path: Path, *, as_json: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli.output import print_json

    profile, recipes = _load(profile_path)
    with open_transport(profile, accept_host_key) as transport:
        facts = deploy.read_facts(transport, profile)
        plan, _bundle, _secrets = deploy.make_plan(profile, recipes, facts)
    if as_json:
        print_json(plan.as_dict())
    else:
        show_plan(plan)
    return constants.EXIT_OK


def install_one(transport: Any, profile: Any, recipes: Any, *, force: bool, reporter: Any,
                lock_wait: float = 0, wait: int = 300,
                show: Any = None) -> tuple[Any, list[Any]]:
    """Preflight, install, health: (outcome, health findings). ``show(findings, records)``
    displays a preflight with problems (the terminal, or a commune's log in a fleet run)."""
    from kit_collab.apply import deploy
    from kit_collab.cli.commands import check

    def preflight(facts: Any, bundle: Any) -> str:
        findings, records = check.preflight_and_records(
            profile, bundle, facts, transport=transport, recipes=recipes)
        if any(f.level != "ok" for f in findings) and show is not None:
            show(findings, records)
        return check.gate(findings, force=force)

    outcome = deploy.install(transport, profile, recipes, reporter=reporter,
                             lock_wait=lock_wait, wait_seconds=wait, preflight=preflight)
    if not outcome.applied:
        return outcome, []
    return outcome, _health_after_deploy(transport, profile, outcome.bundle, wait, reporter)


def write_sheets(profile_path: Path, profile: Any, outcome: Any,
                 folder: Path | None) -> str:
    """The agents' printable sheets (with their initial passwords) in a private folder beside
    the profile; returns the sentence to print (never a password)."""
    from kit_collab.handover import sheets

    if not profile.utilisateurs:
        return ""
    target = folder or sheets.default_folder(profile_path, profile)
    paths = sheets.write_sheets(profile, outcome.bundle.hosts, outcome.secrets, target)
    count = len(profile.utilisateurs)
    return tr(f"Fiches des agents : {count} fiche(s) et le guide d'accueil dans {target} "
              f"(dossier privé, {len(paths)} fichiers) — à imprimer, puis à ranger.",
              f"Agents' sheets: {count} sheet(s) and the welcome guide in {target} "
              f"(private folder, {len(paths)} files) — print them, then put them away.")


def run_install(profile_path: Path, *, yes: bool, accept_host_key: str | None,
                lock_wait: float, force: bool = False, sheets_dir: Path | None = None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.check import rules as diagnosis
    from kit_collab.cli.commands import check
    from kit_collab.cli.output import esc, out

    profile, recipes = _load(profile_path)
    if not yes and not _interactive():
        raise InputError(tr("installation non interactive : ajoutez --yes pour confirmer",
                            "non-interactive install: add --yes to confirm"))
    wait = int(os.environ.get("KIT_COLLAB_WAIT", "300"))
    with open_transport(profile, accept_host_key) as transport:
        if not yes:
            facts = deploy.read_facts(transport, profile)
            plan, _b, _s = deploy.make_plan(profile, recipes, facts)
            show_plan(plan)
            if plan.noop:
                return constants.EXIT_OK
            from rich.prompt import Confirm

            if not Confirm.ask(tr("Appliquer ces changements ?", "Apply these changes?"),
                               default=False):
                out.print(tr("Abandon : rien n'a été changé.", "Cancelled: nothing changed."))
                return constants.EXIT_OK
        outcome, findings = install_one(
            transport, profile, recipes, force=force, reporter=RichReporter(),
            lock_wait=lock_wait, wait=wait,
            show=lambda f, r: check.print_report(profile, f, r))
    if not outcome.applied:
        show_plan(outcome.plan)
        if sheets_dir is not None:
            out.print(esc(write_sheets(profile_path, profile, outcome, sheets_dir)))
        return constants.EXIT_OK
    _summary(profile, outcome)
    line = write_sheets(profile_path, profile, outcome, sheets_dir)
    if line:
        out.print(f"  {esc(line)}")
    for warning in outcome.warnings:
        out.print(f"[yellow]![/] {esc(warning)}")
    if diagnosis.exit_code(findings):
        check.print_report(profile, findings)
        return constants.EXIT_FAILURE
    return constants.EXIT_OK


def _health_after_deploy(transport: Any, profile: Any, bundle: Any, wait: int,
                         reporter: Any) -> list[Any]:
    """The recipes' HTTPS checks, straight at the server's address (DNS is the preflight's
    business), trusting Caddy's internal authority when the profile uses it."""
    import ipaddress

    from kit_collab.cli.commands import check

    reporter.step(tr("Contrôles de santé", "Health checks"))
    address = "127.0.0.1" if profile.serveur.hote == "local" else profile.serveur.hote
    try:
        ipaddress.ip_address(address)
        resolve = [f"*:{address}"]
    except ValueError:
        resolve = [f"*:{profile.serveur.adresse_publique}"] if profile.serveur.adresse_publique \
            else []
    ca_pem = (check.internal_ca(transport, profile.serveur.racine)
              if profile.serveur.certificats.mode == "interne" else None)
    return check.health(bundle, resolve=resolve, deadline=min(wait, 120),
                        root=profile.serveur.racine, ca_pem=ca_pem)


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


def run_status(profile_path: Path, *, as_json: bool, accept_host_key: str | None) -> int:
    from rich.table import Table

    from kit_collab.apply import deploy
    from kit_collab.apply.scripts import remote
    from kit_collab.cli.output import esc, out, print_json
    from kit_collab.plan import changes as plan_mod

    profile, recipes = _load(profile_path)
    with open_transport(profile, accept_host_key) as transport:
        facts = deploy.read_facts(transport, profile)
        ps = transport.run(remote.ps(profile.serveur.racine, profile.commune.code)) \
            if facts.current else None
    oneshot = plan_mod.oneshot_services(deploy.desired(profile, recipes, facts)[0])
    containers = deploy.parse_ps(ps.stdout.decode("utf-8", "replace")) if ps else []
    data = {"commune": profile.commune.code, "release": facts.current or None,
            "recettes": facts.state.recipes, "deploye_le":
            facts.state.deployed_at or None, "verrou": facts.lock or None,
            "conteneurs": containers}
    if as_json:
        print_json(data)
    else:
        if not facts.current:
            out.print(tr("Aucune version déployée.", "No release deployed."))
        else:
            out.print(tr(f"Version {facts.current}, déployée le {data['deploye_le']}",
                         f"Release {facts.current}, deployed on {data['deploye_le']}"))
            recipes = ", ".join(f"{k} {v}" for k, v in sorted(data["recettes"].items()))
            out.print(tr(f"Recettes : {esc(recipes)}", f"Recipes: {esc(recipes)}"))
        if facts.lock:
            out.print(tr(f"[yellow]Verrou :[/] {esc(facts.lock)}",
                         f"[yellow]Lock:[/] {esc(facts.lock)}"))
        table = Table()
        for col in ("Service", tr("État", "State"), tr("Santé", "Health")):
            table.add_column(col)
        for c in containers:
            table.add_row(esc(c["service"]), esc(c["etat"]), esc(c["sante"] or "—"))
        out.print(table)
    unhealthy = [c for c in containers if not deploy.is_healthy(c, oneshot)]
    return constants.EXIT_FAILURE if unhealthy else constants.EXIT_OK


def run_rollback(profile_path: Path, *, yes: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli.output import out

    profile, _recipes = _load(profile_path)
    if not yes and not _interactive():
        raise InputError(tr("retour arrière non interactif : ajoutez --yes pour confirmer",
                            "non-interactive rollback: add --yes to confirm"))
    with open_transport(profile, accept_host_key) as transport:
        release = deploy.rollback(transport, profile)
    out.print(tr(f"[green]✓[/] Version {release} remise en place.",
                 f"[green]✓[/] Release {release} is back in place."))
    return constants.EXIT_OK


def run_unlock(profile_path: Path, *, force: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli.output import esc, out

    if not force:
        raise InputError(tr("ajoutez --force : lever le verrou d'une opération en cours "
                            "peut abîmer l'installation",
                            "add --force: breaking the lock of a running operation can "
                            "damage the installation"))
    profile, _recipes = _load(profile_path)
    with open_transport(profile, accept_host_key) as transport:
        held = deploy.force_unlock(transport, profile)
    out.print(tr(f"Verrou levé ({esc(held) or 'aucun verrou'}).",
                 f"Lock removed ({esc(held) or 'no lock'})."))
    return constants.EXIT_OK


def run_remove(profile_path: Path, *, yes: bool, accept_host_key: str | None) -> int:
    from kit_collab.apply import deploy
    from kit_collab.cli.output import esc, out

    profile, _recipes = _load(profile_path)
    if not yes:
        raise InputError(tr("retrait d'une commune : ajoutez --yes pour confirmer (ses "
                            "données restent sur le serveur)",
                            "removing a commune: add --yes to confirm (its data stays on "
                            "the server)"))
    with open_transport(profile, accept_host_key) as transport:
        place = deploy.remove(transport, profile)
    out.print(tr(f"[green]✓[/] {esc(profile.commune.nom)} retirée du serveur ; ses fichiers "
                 f"sont dans {esc(place)} et ses volumes de données sont conservés "
                 f"({esc(profile.commune.code)}_*).",
                 f"[green]✓[/] {esc(profile.commune.nom)} removed from the server; its files "
                 f"are in {esc(place)} and its data volumes are kept "
                 f"({esc(profile.commune.code)}_*)."))
    return constants.EXIT_OK
