"""``kit-collab backup`` (a backup now, with a progress bar) and ``kit-collab backups`` (the
list of a commune's backups: date, size, release). One profile or a fleet."""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr("Sauvegarde maintenant (restic, vers la destination du profil), avec "
                         "sa progression.", "Back up now (restic, to the profile's "
                         "destination), showing progress."))
    @options.fleet_command
    def backup(targets: Annotated[list[Path], options.targets_argument()], *,
               fleet: FleetArgs) -> int:
        return run_backup(targets, fleet)

    @app.command(help=tr("Liste les sauvegardes de la commune : date, taille, version.",
                         "List the commune's backups: date, size, release."))
    @options.fleet_command
    def backups(targets: Annotated[list[Path], options.targets_argument()], *,
                fleet: FleetArgs) -> int:
        return run_list(targets, fleet)


def _action(kind: str) -> Any:
    from kit_collab.fleet.inventory import InventoryEntry
    from kit_collab.fleet.runner import CommuneLog
    from kit_collab.operations import backup as operation

    def act(entry: InventoryEntry, log: CommuneLog, connect: Any) -> Any:
        if kind == "backup":
            return operation.backup(connect(), entry.profile, log)
        return operation.backups(connect(), entry.profile, log)
    return act


def run_backup(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session

    def single(path: Path) -> int:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        from kit_collab.cli.output import esc, out
        from kit_collab.operations import backup as operation
        from kit_collab.operations.report import QuietReporter

        profile, _recipes = session.load(path)
        columns = (TextColumn(tr("Sauvegarde", "Backup")), BarColumn(), DownloadColumn())
        with session.open_transport(profile, fleet.accept_host_key) as transport, \
                Progress(*columns, console=out, transient=True) as bar:
            task = bar.add_task("", total=None)
            result = operation.backup(transport, profile, QuietReporter(),
                                      lambda done, total: bar.update(task, completed=done,
                                                                     total=total or None))
        out.print(f"[green]✓[/] {esc(result.summary)}")
        return result.code

    return session.run("backup", targets, fleet, lambda: _action("backup"), single)


def run_list(targets: list[Path], fleet: FleetArgs) -> int:
    from kit_collab.cli import session

    def single(path: Path) -> int:
        from kit_collab.operations import backup as operation
        from kit_collab.operations.report import QuietReporter

        profile, _recipes = session.load(path)
        with session.open_transport(profile, fleet.accept_host_key) as transport:
            result = operation.backups(transport, profile, QuietReporter())
        show(result.data["sauvegardes"])
        return result.code

    return session.run("backups", targets, fleet, lambda: _action("backups"), single)


def show(listed: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out
    from kit_collab.operations.backup import size_text

    if not listed:
        out.print(tr("Aucune sauvegarde pour l'instant.", "No backup yet."))
        return
    table = Table(title=tr("Sauvegardes", "Backups"))
    for col in ("Date (UTC)", tr("Taille", "Size"), tr("Version", "Release"), "Id"):
        table.add_column(col)
    for s in listed:
        table.add_row(esc(s["date"].replace("T", " ").rstrip("Z")),
                      esc(size_text(s["taille"]) if s["taille"] is not None else "?"),
                      esc(s["release"] or "?"), esc(s["id"]))
    out.print(table)


def ask_secret(targets: list[Path], fleet: FleetArgs) -> Any:
    """For one profile on a terminal, a hidden prompt for a backup credential that neither
    the environment nor the server has (typed once: the server keeps it); None otherwise."""
    from kit_collab.cli import session

    if not session.single_target(targets) or fleet.as_json or not session.interactive():
        return None

    def ask(name: str) -> str:
        from rich.prompt import Prompt

        from kit_collab.cli.output import err

        label = {"KIT_COLLAB_S3_ACCESS_KEY": tr("Clé d'accès S3", "S3 access key"),
                 "KIT_COLLAB_S3_SECRET_KEY": tr("Clé secrète S3", "S3 secret key"),
                 "KIT_COLLAB_REST_USER": tr("Utilisateur du serveur REST", "REST server user"),
                 "KIT_COLLAB_REST_PASSWORD": tr("Mot de passe du serveur REST",
                                                "REST server password")}.get(name, name)
        return str(Prompt.ask(tr(f"{label} (sauvegardes ; gardé sur le serveur, ou "
                                 f"variable {name})", f"{label} (backups; kept on the "
                                 f"server, or variable {name})"),
                              password=True, console=err))
    return ask
