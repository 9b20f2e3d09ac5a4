"""``kit-collab install --dry-run``: validate, render and show what would be deployed, for
one profile or a whole inventory; no server. ``--json``: the same document as ``install``."""

from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import count, tr


def run(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session
    from kit_collab.cli.fleet_view import document
    from kit_collab.cli.output import esc, out, print_json
    from kit_collab.fleet import inventory, runner
    from kit_collab.operations.simulate import server_totals, simulate

    one = session.single_target(targets)
    found = [inventory.entry(targets[0])] if one else inventory.load(targets)
    entries = inventory.select(found, list(fleet.only), list(fleet.skip))
    results = []
    for entry in entries:
        if not one and not fleet.as_json:
            out.rule(f"[bold]{esc(entry.profile.commune.nom)}[/] ({esc(str(entry.path))})")
        result = simulate(entry.path)
        if not fleet.as_json:
            show_bundle(result.data)
        results.append(runner.CommuneResult(entry.slug, str(entry.path), result.data["serveur"],
                                     result.state, result.summary, 0.0, "", result.code,
                                     result.data))
    servers = server_totals([r.report for r in results])
    if fleet.as_json:
        print_json(document("install", None, results, simulation=True, serveurs=servers))
    elif one:
        out.print(tr("[green]✓[/] Simulation terminée : profil valide, configuration générée. "
                     "Rien n'a été envoyé au serveur.",
                     "[green]✓[/] Dry run done: valid profile, configuration rendered. "
                     "Nothing was sent to the server."))
    else:
        show_servers(servers)
        many = count(len(entries), ("commune", "communes"), ("commune", "communes"))
        out.print(tr(f"[green]✓[/] Simulation terminée pour {many} : inventaire valide, "
                     "configurations générées. Rien n'a été envoyé aux serveurs.",
                     f"[green]✓[/] Dry run done for {many}: valid inventory, configurations "
                     "rendered. Nothing was sent to the servers."))
    return constants.EXIT_OK


def show_servers(servers: list[dict[str, Any]]) -> None:
    """The fleet's needs per server: communes, RAM, disk and vCPU summed."""
    from kit_collab.cli.output import out

    out.print(_table(tr("Besoins par serveur (hors fichiers des agents)",
                        "Needs per server (agents' files not included)"),
                     (tr("Serveur", "Server"), "Communes", "RAM", tr("Disque", "Disk"), "vCPU"),
                     [(s["serveur"], ", ".join(s["communes"]), f"{s['ram_mb'] / 1024:.1f} Go",
                       f"{s['disk_gb']:.0f} Go", f"{s['cpu']:.1f}") for s in servers]))


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Any:
    from rich.table import Table

    from kit_collab.cli.output import esc

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(esc(cell) for cell in row))
    return table


def show_bundle(data: dict[str, Any]) -> None:
    """The simulation's report (operations/simulate.py) as tables."""
    from kit_collab.cli.output import esc, out

    where = f"{esc(data['serveur'])}, {esc(data['hebergeur'])} ({esc(data['pays'])})"
    out.print(tr(f"[bold]Commune :[/] {esc(data['nom'])} ({esc(data['domaine'])}) — serveur "
                 f"{where}", f"[bold]Commune:[/] {esc(data['nom'])} ({esc(data['domaine'])}) "
                 f"— server {where}"))
    out.print(_table(tr("Services", "Services"),
                     (tr("Recette", "Recipe"), "Version", tr("Adresses", "Addresses")),
                     [(r["nom"], r["version"], ", ".join(r["adresses"]) or "—")
                      for r in data["recettes"]]))
    out.print(_table(tr(f"Fichiers à déposer sous /opt/kit-collab (version {data['release']})",
                        f"Files to upload under /opt/kit-collab (release {data['release']})"),
                     (tr("Chemin", "Path"), "Mode", tr("Taille", "Size")),
                     [(f["chemin"], f["mode"], f"{f['taille']} o") for f in data["fichiers"]]))
    out.print(_table(tr("Tâches après installation", "Post-install tasks"),
                     (tr("Recette", "Recipe"), tr("Tâche", "Task")),
                     [(t["recette"], t["tache"]) for t in data["taches"]]))
    out.print(_table(tr("Contrôles de santé", "Health checks"),
                     (tr("Recette", "Recipe"), tr("Contrôle", "Check"), "URL"),
                     [(c["recette"], c["controle"], c["url"]) for c in data["controles"]]))
    res = data["besoins"]
    out.print(tr(
        f"Besoins estimés : {res['ram_mb'] / 1024:.1f} Go de RAM, {res['disk_gb']:.0f} Go de "
        f"disque, {res['cpu']:.1f} vCPU (hors fichiers des agents).",
        f"Estimated needs: {res['ram_mb'] / 1024:.1f} GB RAM, {res['disk_gb']:.0f} GB disk, "
        f"{res['cpu']:.1f} vCPU (agents' files not included)."))
