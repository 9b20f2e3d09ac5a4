"""``kit-collab check``: preflight and health diagnosis, in French, each problem with its fix.

Over one profile or a fleet, with or without the server (``--no-server``: DNS, ports and
health only, no SSH). Exit 0 when nothing is in error, 1 otherwise.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.cli import options
from kit_collab.cli.options import FleetArgs
from kit_collab.i18n import count, tr


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
        envoyer_test: Annotated[str | None, typer.Option("--envoyer-test", metavar="ADRESSE",
            help=tr("Envoie un message d'essai à cette adresse par le relais de la section "
                    "messagerie (depuis le serveur).", "Send a test message to this address "
                    "through the messagerie section's relay (from the server)."))] = None,
        *, fleet: FleetArgs,
    ) -> int:
        from kit_collab.operations.diagnose import DiagnoseOptions

        if envoyer_test is not None:  # a bad address: exit 2 before anything
            from kit_collab.check.probes.mail import check_address
            envoyer_test = check_address(envoyer_test, server=not no_server)
        return run_targets(targets, DiagnoseOptions(
            resolve=tuple(resolve or ()), ca_cert=ca_cert, dns_server=dns,
            deadline=deadline, server=not no_server, envoyer_test=envoyer_test), fleet)


def run_targets(targets: list[Path], opts: Any, fleet: FleetArgs) -> int:
    """The diagnosis of one profile or of a fleet, with the same options for both."""
    from kit_collab.cli import session
    from kit_collab.errors import ConnectError
    from kit_collab.fleet import actions
    from kit_collab.operations import diagnose
    from kit_collab.recipes.load import load_recipes

    diagnose.check_options(opts)  # a bad --resolve or --ca-cert: exit 2 before anything

    def single(path: Path) -> int:
        profile, recipes = session.load(path)
        if not opts.server:
            result = diagnose.diagnose(profile, recipes, opts, profile_path=path)
        else:
            try:
                with session.open_transport(profile, fleet.accept_host_key) as transport:
                    result = diagnose.diagnose(profile, recipes, opts, transport=transport,
                                               profile_path=path)
            except ConnectError as exc:  # the server not reachable yet: checked without it
                result = diagnose.unreachable(profile, recipes, opts, exc, profile_path=path)
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


def show_records(records: list[Any], title: str) -> None:
    """Records as a registrar's form asks for them, then as zone-file lines."""
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    table = Table(title=f"[bold]{esc(title)}[/]")
    for col in ("Type", tr("Sous-domaine", "Sub-domain"), tr("Cible", "Target"), "TTL"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(r.kind, esc(r.subdomain), esc(r.target), str(r.ttl))
    out.print(table)
    out.print(tr("Les mêmes, en lignes de fichier de zone :", "The same, as zone-file lines:"))
    for r in records:
        out.print(f"  {esc(r.zone_line())}")


def print_report(profile: Any, findings: list[Any], records: list[Any] | None = None) -> None:
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
        show_records(records, tr("Enregistrements DNS à créer chez votre registraire",
                                 "DNS records to create at your registrar"))
    counts = dg.summary(findings)
    warned = count(counts[dg.WARNING], ("avertissement", "avertissements"),
                   ("warning", "warnings"))
    failed = count(counts[dg.ERROR], ("erreur", "erreurs"), ("error", "errors"))
    line = f"{counts[dg.OK]} ok, {warned}, {failed}"
    color = "red" if counts[dg.ERROR] else "yellow" if counts[dg.WARNING] else "green"
    out.print(f"[{color}]{line}[/]")
