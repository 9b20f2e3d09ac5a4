"""``kit-collab install``: with ``--dry-run``, validate, render and show what would be deployed."""

from __future__ import annotations

from pathlib import Path

from kit_collab import constants
from kit_collab.i18n import tr


def show_bundle(prepared: object) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out
    from kit_collab.operations.prepare import Prepared

    assert isinstance(prepared, Prepared)
    profile, bundle = prepared.profile, prepared.bundle
    out.print(tr(f"[bold]Commune :[/] {esc(profile.commune.nom)} ({esc(profile.commune.domaine)})"
                 f" — serveur {esc(profile.serveur.hote)}, {esc(profile.serveur.hebergeur)} "
                 f"({esc(profile.serveur.pays)})",
                 f"[bold]Commune:[/] {esc(profile.commune.nom)} ({esc(profile.commune.domaine)})"
                 f" — server {esc(profile.serveur.hote)}, {esc(profile.serveur.hebergeur)} "
                 f"({esc(profile.serveur.pays)})"))
    services = Table(title=tr("Services", "Services"))
    for col in (tr("Recette", "Recipe"), "Version", tr("Adresses", "Addresses")):
        services.add_column(col)
    for name, version in bundle.recipes:
        hosts = ", ".join(f"https://{h}" for h in bundle.hosts.get(name, {}).values())
        services.add_row(esc(name), esc(version), esc(hosts or "—"))
    out.print(services)
    files = Table(title=tr(f"Fichiers à déposer sous /opt/kit-collab (version {bundle.release})",
                           f"Files to upload under /opt/kit-collab (release {bundle.release})"))
    for col in (tr("Chemin", "Path"), "Mode", tr("Taille", "Size")):
        files.add_column(col)
    release_prefix = bundle.release_dir + "/"
    for f in bundle.files:
        shown = f.path.replace(release_prefix, f"communes/{bundle.slug}/current/")
        files.add_row(esc(shown), f"{f.mode:04o}", f"{len(f.content)} o")
    out.print(files)
    tasks = Table(title=tr("Tâches après installation", "Post-install tasks"))
    for col in (tr("Recette", "Recipe"), tr("Tâche", "Task")):
        tasks.add_column(col)
    for task in bundle.tasks:
        tasks.add_row(esc(task.recipe), esc(task.description))
    out.print(tasks)
    checks = Table(title=tr("Contrôles de santé", "Health checks"))
    for col in (tr("Recette", "Recipe"), tr("Contrôle", "Check"), "URL"):
        checks.add_column(col)
    for check in bundle.checks:
        checks.add_row(esc(check.recipe), esc(check.name), esc(check.url))
    out.print(checks)
    res = bundle.resources
    out.print(tr(
        f"Besoins estimés : {res['ram_mb'] / 1024:.1f} Go de RAM, {res['disk_gb']:.0f} Go de "
        f"disque, {res['cpu']:.1f} vCPU (hors fichiers des agents).",
        f"Estimated needs: {res['ram_mb'] / 1024:.1f} GB RAM, {res['disk_gb']:.0f} GB disk, "
        f"{res['cpu']:.1f} vCPU (agents' files not included)."))


def run(profile_path: Path, *, dry_run: bool) -> int:
    """The dry run: validate, render and show, with no server."""
    from kit_collab.cli.output import out
    from kit_collab.operations.prepare import prepare

    prepared = prepare(profile_path, persist=False)
    show_bundle(prepared)
    out.print(tr("[green]✓[/] Simulation terminée : profil valide, configuration générée. "
                 "Rien n'a été envoyé au serveur.",
                 "[green]✓[/] Dry run done: valid profile, configuration rendered. "
                 "Nothing was sent to the server."))
    return constants.EXIT_OK


def run_fleet(targets: list[Path], *, only: list[str], skip: list[str]) -> int:
    """The dry run of an inventory (or several profiles): validated as a whole, then each
    commune rendered and shown; no server."""
    from kit_collab.cli.output import esc, out
    from kit_collab.fleet import inventory
    from kit_collab.operations.prepare import prepare

    entries = inventory.select(inventory.load(targets), only, skip)
    for entry in entries:
        out.rule(f"[bold]{esc(entry.profile.commune.nom)}[/] ({esc(str(entry.path))})")
        show_bundle(prepare(entry.path, persist=False))
    out.print(tr(f"[green]✓[/] Simulation terminée pour {len(entries)} commune(s) : inventaire "
                 "valide, configurations générées. Rien n'a été envoyé aux serveurs.",
                 f"[green]✓[/] Dry run done for {len(entries)} commune(s): valid inventory, "
                 "configurations rendered. Nothing was sent to the servers."))
    return constants.EXIT_OK
