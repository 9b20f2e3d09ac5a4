"""``kit-collab check``: preflight and health diagnosis, in French, each problem with its fix.

``preflight`` (read-only, before install touches anything) and ``health`` (after deploy, or
on demand) return findings; ``run`` is the command: it gathers both and prints a table, or
JSON with ``--json``. Exit 0 when nothing is in error, 1 otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.check import rules as dg
from kit_collab.i18n import tr

ResolveArg = Iterable[str] | Mapping[str, dg.Target]
CADDY_ROOT_CA = "/data/caddy/pki/authorities/local/root.crt"  # in the proxy's data volume


def _resolve_map(resolve: ResolveArg) -> dict[str, dg.Target]:
    if isinstance(resolve, Mapping):
        return dict(resolve)
    return dg.parse_resolve(list(resolve))


def server_clock(transport: Any) -> tuple[float | None, float]:
    """(server clock minus ours, uncertainty) in seconds: one command round trip. None when
    the server's answer cannot be read."""
    from kit_collab.apply.scripts import probes

    before = time.time()
    result = transport.run(probes.clock(), sudo=False, timeout=30)
    after = time.time()
    return probes.parse_clock(result.stdout.decode("ascii", "replace"), before, after)


def _protocols(recipes: Any) -> dict[tuple[str, str], str]:
    return {(r.name, p.name): p.protocol for r in recipes for p in r.spec.ports}


def preflight(profile: Any, bundle: Any, facts: Any, *, resolver: Any = None,
              resolve: ResolveArg = (), transport: Any = None, recipes: Any = None,
              web_ports: tuple[int, ...] = (80, 443), dns_server: str | None = None,
              timeout: float = 5) -> list[dg.Finding]:
    """Read-only checks before an install: EU hosting, DNS of every name, ports 80/443 from
    here; with ``facts`` (read from the server) OS, architecture, RAM, disk, free ports;
    with ``transport`` the clock (one more round trip)."""
    return preflight_and_records(profile, bundle, facts, resolver=resolver, resolve=resolve,
                                 transport=transport, recipes=recipes, web_ports=web_ports,
                                 dns_server=dns_server, timeout=timeout)[0]


def preflight_and_records(profile: Any, bundle: Any, facts: Any, *, resolver: Any = None,
                          resolve: ResolveArg = (), transport: Any = None, recipes: Any = None,
                          web_ports: tuple[int, ...] = (80, 443),
                          dns_server: str | None = None, timeout: float = 5
                          ) -> tuple[list[dg.Finding], list[str]]:
    """``preflight``'s findings, and the DNS records to create at the registrar (zone-file
    lines; empty when DNS is right)."""
    from kit_collab.check.probes import dns as dnscheck
    from kit_collab.check.probes import health
    from kit_collab.recipes.load import load_recipes

    targets = _resolve_map(resolve)
    findings = dg.hosting_findings(profile.serveur)
    if facts is not None:
        findings += dg.system_findings(facts, bundle)
        needs = dg.needed_ports(bundle, _protocols(recipes or load_recipes()), facts)
        findings += dg.ports_findings(facts, needs)
    if facts is not None and facts.clock_skew is not None:  # read with the facts
        findings += dg.clock_findings(facts.clock_skew, facts.clock_uncertainty)
    elif transport is not None:
        findings += dg.clock_findings(*server_clock(transport))
    resolver = resolver or dnscheck.make_resolver(dns_server, timeout=timeout)
    server = dnscheck.server_addresses(profile.serveur, resolver)
    names = dg.hostnames(bundle)
    answers = dnscheck.lookup_all([h for _s, h in names], resolver)
    findings += dg.dns_findings(names, answers, server,
                                acme=profile.serveur.certificats.mode == "acme",
                                forced=targets)
    probe_ips = list(server.v4 or server.v6)
    probes = [health.probe_tcp(ip, port, timeout) for ip in probe_ips for port in web_ports]
    installed = None if facts is None else bool(facts.proxy_files)
    findings += dg.reachability_findings(probes, installed=installed)
    return findings, dg.records_to_create(names, answers, server)


def health(bundle: Any, *, resolve: ResolveArg = (), ca_cert: Path | None = None,
           deadline: float = 60, root: str = constants.SERVER_ROOT,
           ca_pem: str | None = None) -> list[dg.Finding]:
    """The recipes' health checks over HTTPS, TLS of every name and the TURN port, retried
    with backoff until ``deadline`` seconds. ``ca_cert``/``ca_pem``: one more trusted CA."""
    from kit_collab.check.probes import health as health_mod

    ctx = health_mod.ssl_context(ca_cert)
    if ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    return health_mod.run_health(bundle, resolve=_resolve_map(resolve), ctx=ctx,
                                 deadline=deadline, root=root)


def internal_ca(transport: Any, root: str = constants.SERVER_ROOT) -> str | None:
    """The root certificate of Caddy's internal authority, read over the (verified) SSH
    connection from the running proxy; None when there is none."""
    from kit_collab.apply.scripts import probes

    result = transport.run(probes.internal_ca(root, CADDY_ROOT_CA), timeout=60)
    return probes.parse_internal_ca(result.code, result.stdout.decode("ascii", "replace"))


# ---------------------------------------------------------------------------------------------
# The command


def run(profile_path: Path, *, as_json: bool, resolve: list[str], ca_cert: Path | None,
        accept_host_key: str | None, server: bool = True, deadline: float = 60,
        dns_server: str | None = None) -> int:
    """The whole diagnosis: preflight (with the server's facts unless ``server`` is False),
    then the health checks when a release is in place (always, without the server)."""
    from kit_collab.check.probes.health import ssl_context
    from kit_collab.profile.model import load_profile
    from kit_collab.recipes.load import load_recipes

    profile = load_profile(profile_path)
    recipes = load_recipes()
    targets = dg.parse_resolve(resolve)
    ssl_context(ca_cert)  # an unreadable --ca-cert is an input error, before anything runs
    if server:
        bundle, findings, records, ca_pem = _with_server(profile, recipes, targets,
                                                         accept_host_key, dns_server, ca_cert)
        deployed = any(f.check == "version" and f.level == dg.OK for f in findings)
    else:
        bundle = _local_bundle(profile_path, profile, recipes)
        findings, records = preflight_and_records(profile, bundle, None, resolve=targets,
                                                  recipes=recipes, dns_server=dns_server)
        deployed, ca_pem = True, None
    if deployed:
        findings += health(bundle, resolve=targets, ca_cert=ca_cert, deadline=deadline,
                           root=profile.serveur.racine, ca_pem=ca_pem)
    print_report(profile, findings, records, as_json=as_json)
    return dg.exit_code(findings)


def _with_server(profile: Any, recipes: Any, targets: dict[str, dg.Target],
                 accept_host_key: str | None, dns_server: str | None, ca_cert: Path | None
                 ) -> tuple[Any, list[dg.Finding], list[str], str | None]:
    """Facts, the bundle install would deploy, the preflight and, with Caddy's internal
    authority, its root certificate (read over SSH when no --ca-cert is given)."""
    from kit_collab.apply import deploy
    from kit_collab.cli.commands.server import open_transport

    ca_pem = None
    with open_transport(profile, accept_host_key) as transport:
        facts = deploy.read_facts(transport, profile)
        bundle = deploy.desired(profile, recipes, facts)[0]
        findings, records = preflight_and_records(profile, bundle, facts, resolve=targets,
                                                  transport=transport, recipes=recipes,
                                                  dns_server=dns_server)
        if facts.current and profile.serveur.certificats.mode == "interne" and ca_cert is None:
            ca_pem = internal_ca(transport, profile.serveur.racine)
    if facts.current:
        findings.append(dg.Finding(dg.OK, dg.SERVER, "version", tr(
            f"version {facts.current} en place", f"release {facts.current} in place")))
    else:
        findings.append(dg.Finding(dg.WARNING, dg.SERVER, "version", tr(
            "aucune version installée : contrôles de santé non faits",
            "no release installed: health checks not run"),
            tr("installez avec : kit-collab install", "install with: kit-collab install")))
    return bundle, findings, records, ca_pem


def _local_bundle(profile_path: Path, profile: Any, recipes: Any) -> Any:
    """The bundle as rendered here (local secrets when present, never written): only its
    names, ports and checks are used."""
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.operations import local_secrets

    existing = local_secrets.read(local_secrets.default_path(profile_path, profile.commune.code))
    return make_bundle(profile, recipes, draw=SYSTEM, secrets=existing).bundle


_ICONS = {dg.OK: "[green]✓[/]", dg.WARNING: "[yellow]![/]", dg.ERROR: "[red]✗[/]"}


def as_dict(profile: Any, findings: list[dg.Finding], records: list[str]) -> dict[str, Any]:
    return {"commune": profile.commune.code, "nom": profile.commune.nom,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resume": dg.summary(findings), "enregistrements_dns": records,
            "constats": [f.as_dict() for f in findings]}


def gate(findings: list[dg.Finding], *, force: bool) -> str:
    """For install: stop on a preflight error unless ``force``. Returns the note to write in
    the audit log when errors were overridden ("" when there were none)."""
    from kit_collab.errors import DeployError

    errors = dg.blocking(findings)
    if errors and not force:
        raise DeployError(
            tr(f"vérification préalable : {len(errors)} erreur(s), rien n'a été changé",
               f"preflight: {len(errors)} error(s), nothing was changed"),
            hint=tr("corrigez-les (voir le tableau), ou passez outre avec --force (noté dans le "
                    "journal d'audit du serveur)",
                    "fix them (see the table), or override with --force (written to the "
                    "server's audit log)"))
    return dg.audit_note(findings)


def print_report(profile: Any, findings: list[dg.Finding], records: list[str] | None = None,
                 *, as_json: bool = False) -> None:
    """The findings as a table (or JSON), the DNS records to create, a one-line summary."""
    records = records or []
    from rich.table import Table

    from kit_collab.cli.output import esc, out, print_json

    if as_json:
        print_json(as_dict(profile, findings, records))
        return
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
