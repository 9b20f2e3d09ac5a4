"""``kit-collab check``: preflight and health diagnosis, in French, each problem with its fix.

Over one profile or a fleet, with or without the server (``--no-server``: DNS, ports and
health only, no SSH). Exit 0 when nothing is in error, 1 otherwise.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Diagnostic : vérifications préalables (DNS, ports, système, hébergement, heure) et "
        "santé des services, chaque problème avec sa correction.",
        "Diagnosis: preflight (DNS, ports, system, hosting, clock) and service health, each "
        "problem with its fix."))
    @options.fleet_command
    def check(
        targets: Annotated[list[Path], options.targets_argument()],
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
        *, fleet: FleetArgs,
    ) -> int:
        from kit_collab.operations.diagnose import DiagnoseOptions

        return run_targets(targets, DiagnoseOptions(
            resolve=tuple(resolve or ()), ca_cert=ca_cert, dns_server=dns,
            deadline=deadline, server=not no_server), fleet)


def run_targets(targets: list[Path], opts: Any, fleet: FleetArgs) -> int:
    """The diagnosis of one profile or of a fleet, with the same options for both."""
    from kit_collab.cli import session
    from kit_collab.fleet import actions
    from kit_collab.operations import diagnose
    from kit_collab.recipes.load import load_recipes

    diagnose.check_options(opts)  # a bad --resolve or --ca-cert: exit 2 before anything

    def single(path: Path) -> int:
        profile, recipes = session.load(path)
        if not opts.server:
            result = diagnose.diagnose(profile, recipes, opts, profile_path=path)
        else:
            with session.open_transport(profile, fleet.accept_host_key) as transport:
                result = diagnose.diagnose(profile, recipes, opts, transport=transport,
                                           profile_path=path)
        print_report(profile, result.findings, result.records)
        _print_lines(result.data.get("delegation_matrix") or [])
        return result.code

    return session.run("check", targets, fleet,
                       lambda: actions.check_action(load_recipes(), opts), single)


def run(profile_path: Path, *, as_json: bool, resolve: list[str], ca_cert: Path | None,
        accept_host_key: str | None, server: bool = True, deadline: float = 60,
        dns_server: str | None = None) -> int:
    """``check`` on one profile, as the command line runs it."""
    from kit_collab.operations.diagnose import DiagnoseOptions

    opts = DiagnoseOptions(resolve=tuple(resolve), ca_cert=ca_cert, dns_server=dns_server,
                           deadline=deadline, server=server)
    return run_targets([profile_path], opts,
                       FleetArgs(as_json=as_json, accept_host_key=accept_host_key))


def _print_lines(lines: list[str]) -> None:
    """The website's part of the Matrix delegation (identifiants: site-existant)."""
    from kit_collab.cli.output import esc, out

    for line in lines:
        out.print(esc(line))


_ICONS = {"ok": "[green]✓[/]", "avertissement": "[yellow]![/]", "erreur": "[red]✗[/]"}


def print_report(profile: Any, findings: list[Any], records: list[str] | None = None) -> None:
    """The findings as a table, the DNS records to create, a one-line summary."""
    from rich.table import Table

    from kit_collab.check import findings as dg
    from kit_collab.cli.output import esc, out

    records = records or []
    table = Table(title=tr(f"Diagnostic de {esc(profile.commune.nom)}",
                           f"Diagnosis of {esc(profile.commune.nom)}"), show_lines=False)
    for col in ("", "Service", tr("Contrôle", "Check"), tr("Constat", "Finding"),
                tr("Correction", "Fix")):
        table.add_column(col, overflow="fold")  # commands and names are never cut
    for f in findings:
        table.add_row(_ICONS[f.level], esc(f.service), esc(f.check), esc(f.message), esc(f.fix))
    out.print(table)
    if records:
        out.print(tr("[bold]Enregistrements DNS à créer chez votre registraire :[/]",
                     "[bold]DNS records to create at your registrar:[/]"))
        for line in records:
            out.print(f"  {esc(line)}")
    counts = dg.summary(findings)
    line = tr(f"{counts[dg.OK]} ok, {counts[dg.WARNING]} avertissement(s), "
              f"{counts[dg.ERROR]} erreur(s)",
              f"{counts[dg.OK]} ok, {counts[dg.WARNING]} warning(s), {counts[dg.ERROR]} error(s)")
    color = "red" if counts[dg.ERROR] else "yellow" if counts[dg.WARNING] else "green"
    out.print(f"[{color}]{line}[/]")
