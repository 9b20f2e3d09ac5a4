"""The diagnosis (``check``): preflight, health checks and the DNS records to create.

``preflight`` (read-only, before install touches anything) and ``health`` (after deploy, or
on demand) return findings; ``diagnose`` gathers both for one commune, with or without the
server, and returns an ``OperationResult`` whose report is the JSON of ``check --json``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.check.findings import (
    ERROR,
    OK,
    SERVER,
    WARNING,
    Finding,
    audit_note,
    blocking,
    exit_code,
    summary,
)
from kit_collab.check.rules.dns import dns_findings
from kit_collab.check.rules.dns_records import Record, address_findings, missing
from kit_collab.check.rules.hostnames import hostnames
from kit_collab.check.rules.names import Endpoint, parse_resolve
from kit_collab.check.rules.server import (
    clock_findings,
    hosting_findings,
    needed_ports,
    ports_findings,
    reachability_findings,
    system_findings,
)
from kit_collab.errors import DeployError, KitCollabError
from kit_collab.i18n import count, tr
from kit_collab.operations import backup as backup_op
from kit_collab.operations.report import OperationResult, Reporter
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet

ResolveArg = Iterable[str] | Mapping[str, Endpoint]
CADDY_ROOT_CA = "/data/caddy/pki/authorities/local/root.crt"  # in the proxy's data volume


@dataclass(frozen=True)
class DiagnoseOptions:
    resolve: tuple[str, ...] = ()
    ca_cert: Path | None = None
    dns_server: str | None = None
    deadline: float = 60
    server: bool = True  # False: no SSH (DNS, ports and health only)


@dataclass
class Diagnosis(OperationResult):
    findings: list[Finding] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


def check_options(options: DiagnoseOptions) -> None:
    """Input errors in the options (a bad --resolve, an unreadable --ca-cert), raised
    before anything runs."""
    from kit_collab.check.probes.health import ssl_context

    parse_resolve(list(options.resolve))
    ssl_context(options.ca_cert)


def _resolve_map(resolve: ResolveArg) -> dict[str, Endpoint]:
    if isinstance(resolve, Mapping):
        return dict(resolve)
    return parse_resolve(list(resolve))


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
              timeout: float = 5) -> list[Finding]:
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
                          ) -> tuple[list[Finding], list[Record]]:
    """``preflight``'s findings, and the DNS records to create at the registrar (zone-file
    lines; empty when DNS is right)."""
    from kit_collab.check.probes import dns as dnscheck
    from kit_collab.recipes.load import load_recipes

    findings = hosting_findings(profile.serveur) + address_findings(
        profile.serveur.adresse_publique)
    if facts is not None:
        findings += system_findings(facts, bundle)
        needs = needed_ports(bundle, _protocols(recipes or load_recipes()), facts)
        findings += ports_findings(facts, needs)
    if facts is not None and facts.clock_skew is not None:  # read with the facts
        findings += clock_findings(facts.clock_skew, facts.clock_uncertainty)
    elif transport is not None:
        findings += clock_findings(*server_clock(transport))
    resolver = resolver or dnscheck.make_resolver(dns_server, timeout=timeout)
    server = dnscheck.server_addresses(profile.serveur, resolver)
    names = hostnames(bundle)
    answers = dnscheck.lookup_all([h for _s, h in names], resolver)
    findings += dns_findings(names, answers, server,
                                acme=profile.serveur.certificats.mode == "acme",
                                forced=_resolve_map(resolve))
    findings += _website_guard(profile, answers, server, resolve, resolver, timeout)
    findings += _reachability(server, web_ports, timeout, facts)
    return findings, missing(profile.commune.code, profile.commune.domaine, names, answers,
                             server)


def _website_guard(profile: Any, answers: Any, server: Any, resolve: ResolveArg,
                   resolver: Any, timeout: float) -> list[Finding]:
    """domaine-vers-serveur refused while a website answers on the domain elsewhere."""
    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.probes import dns as dnscheck
    from kit_collab.check.probes.health import ssl_context
    from kit_collab.check.rules.delegation import points_elsewhere, website_guard

    matrix, domain = profile.services.matrix, profile.commune.domaine
    if not (matrix.actif and matrix.domaine_sur_serveur):
        return []
    answer = answers.get(domain) or dnscheck.lookup(domain, resolver)
    elsewhere = points_elsewhere(answer, server)
    if not elsewhere:
        return []
    site = probe.website(domain, elsewhere[0], resolve=_resolve_map(resolve),
                         ctx=ssl_context(), timeout=timeout)
    return website_guard(profile, answer, server, site)


def _reachability(server: Any, web_ports: tuple[int, ...], timeout: float,
                  facts: Any) -> list[Finding]:
    from kit_collab.check.probes import health

    probe_ips = list(server.v4 or server.v6)
    probes = [health.probe_tcp(ip, port, timeout) for ip in probe_ips for port in web_ports]
    installed = None if facts is None else bool(facts.proxy_files)
    return reachability_findings(probes, installed=installed)


def health(bundle: Any, *, resolve: ResolveArg = (), ca_cert: Path | None = None,
           deadline: float = 60, root: str = constants.SERVER_ROOT,
           ca_pem: str | None = None, profile: Profile | None = None,
           website_strict: bool = True) -> list[Finding]:
    """The recipes' health checks over HTTPS, TLS of every name and the TURN port, retried
    with backoff until ``deadline`` seconds. ``ca_cert``/``ca_pem``: one more trusted CA.
    With ``profile``, the Matrix delegation files too (on the website, when it keeps them:
    ``website_strict`` False makes a missing one a warning, as right after an install)."""
    from kit_collab.check.probes import health as health_mod

    ctx = health_mod.ssl_context(ca_cert)
    if ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    found = health_mod.run_health(bundle, resolve=_resolve_map(resolve), ctx=ctx,
                                  deadline=deadline, root=root)
    if profile is not None:
        found += _delegation(profile, bundle, _resolve_map(resolve), ctx, deadline,
                             website_strict)
    return found


def _delegation(profile: Profile, bundle: Any, resolve: dict[str, Endpoint], ctx: Any,
                deadline: float, strict: bool) -> list[Finding]:
    from dataclasses import replace

    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.rules import delegation as rules

    d = rules.delegation(profile, bundle)
    if d is None:
        return []
    found = rules.delegation_findings(d, probe.read_documents(d, resolve=resolve, ctx=ctx,
                                                              deadline=min(deadline, 30)))
    if d.on_website and not strict:
        found = [replace(f, level=WARNING) if f.level == ERROR else f for f in found]
    return found


def internal_ca(transport: Any, root: str = constants.SERVER_ROOT) -> str | None:
    """The root certificate of Caddy's internal authority, read over the (verified) SSH
    connection from the running proxy; None when there is none."""
    from kit_collab.apply.scripts import probes

    result = transport.run(probes.internal_ca(root, CADDY_ROOT_CA), timeout=60)
    return probes.parse_internal_ca(result.code, result.stdout.decode("ascii", "replace"))


def nextcloud_apps(transport: Any, profile: Profile, bundle: Any) -> list[Finding]:
    """Every app a Nextcloud task installs or enables is enabled (`occ app:list`)."""
    from kit_collab.apply.scripts import apps as apps_script
    from kit_collab.check.rules.apps import app_findings, expected_apps

    expected = expected_apps(bundle.tasks)
    if not expected:
        return []
    result = transport.run(apps_script.app_list(profile.serveur.racine, profile.commune.code),
                           timeout=120)
    return app_findings(expected, apps_script.parse_app_list(
        result.code, result.stdout.decode("utf-8", "replace")))


def health_after_deploy(transport: Any, profile: Profile, bundle: Any, wait: float,
                        reporter: Reporter) -> list[Finding]:
    """The recipes' HTTPS checks, straight at the server's address (DNS is the preflight's
    business), trusting Caddy's internal authority when the profile uses it."""
    reporter.step(tr("Contrôles de santé", "Health checks"))
    address = "127.0.0.1" if profile.serveur.hote == "local" else profile.serveur.hote
    try:
        ipaddress.ip_address(address)
        resolve = [f"*:{address}"]
    except ValueError:
        public = profile.serveur.adresse_publique
        resolve = [f"*:{public}"] if public else []
    ca_pem = (internal_ca(transport, profile.serveur.racine)
              if profile.serveur.certificats.mode == "interne" else None)
    return [*health(bundle, resolve=resolve, deadline=min(wait, 120),
                    root=profile.serveur.racine, ca_pem=ca_pem, profile=profile,
                    website_strict=False),
            *nextcloud_apps(transport, profile, bundle)]


def gate(findings: list[Finding], *, force: bool) -> str:
    """For install: stop on a preflight error unless ``force``. Returns the note to write in
    the audit log when errors were overridden ("" when there were none)."""
    errors = blocking(findings)
    many = count(len(errors), ("erreur", "erreurs"), ("error", "errors"))
    if errors and not force:
        raise DeployError(
            tr(f"vérification préalable : {many}, rien n'a été changé",
               f"preflight: {many}, nothing was changed"),
            hint=tr("corrigez-les (voir le tableau), ou passez outre avec --force (noté dans le "
                    "journal d'audit du serveur)",
                    "fix them (see the table), or override with --force (written to the "
                    "server's audit log)"))
    return audit_note(findings)


def as_dict(profile: Any, findings: list[Finding], records: list[Record]) -> dict[str, Any]:
    return {"commune": profile.commune.code, "nom": profile.commune.nom,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resume": summary(findings),
            "enregistrements_dns": [r.zone_line() for r in records],
            "enregistrements_dns_formulaire": [r.as_dict() for r in records],
            "constats": [f.as_dict() for f in findings]}


def diagnose(profile: Profile, recipes: RecipeSet, options: DiagnoseOptions, *,
             transport: Any = None, profile_path: Path | None = None) -> Diagnosis:
    """The whole diagnosis: preflight (with the server's facts when ``transport`` is given),
    then the health checks when a release is in place (always, without the server)."""
    targets = parse_resolve(list(options.resolve))
    if transport is not None:
        bundle, findings, records, ca_pem = _with_server(profile, recipes, targets, transport,
                                                         options)
        deployed = any(f.check == "version" and f.level == OK for f in findings)
    else:
        bundle = _local_bundle(profile_path, profile, recipes)
        findings, records = preflight_and_records(profile, bundle, None, resolve=targets,
                                                  recipes=recipes,
                                                  dns_server=options.dns_server)
        deployed, ca_pem = True, None
    if deployed:
        findings += health(bundle, resolve=targets, ca_cert=options.ca_cert,
                           deadline=options.deadline, root=profile.serveur.racine,
                           ca_pem=ca_pem, profile=profile)
    return _diagnosis(profile, findings, records, webmaster=_webmaster(profile, bundle))


def unreachable(profile: Profile, recipes: RecipeSet, options: DiagnoseOptions,
                error: KitCollabError, *, profile_path: Path | None = None) -> Diagnosis:
    """The server cannot be reached over SSH (not yet rented, no key yet, a typo): that is
    one finding with its fix, and the rest is checked without it: DNS, ports, the records to
    create at the registrar. No health checks (nothing says a release is there). Exit 3."""
    targets = parse_resolve(list(options.resolve))
    bundle = _local_bundle(profile_path, profile, recipes)
    findings, records = preflight_and_records(profile, bundle, None, resolve=targets,
                                              recipes=recipes, dns_server=options.dns_server)
    findings.insert(0, Finding(ERROR, SERVER, "ssh", tr(
        f"connexion au serveur impossible : {error.message} ; vérifications faites sans lui",
        f"cannot connect to the server: {error.message}; checks run without it"),
        error.hint or ""))
    return _diagnosis(profile, findings, records, code=error.exit_code)


def _webmaster(profile: Profile, bundle: Any) -> list[str]:
    """The website's part, when it keeps the Matrix files (site-existant)."""
    from kit_collab.check.rules import delegation as rules

    d = rules.delegation(profile, bundle)
    return rules.webmaster_text(d) if d is not None and d.on_website else []


def _diagnosis(profile: Profile, findings: list[Finding], records: list[Record], *,
               code: int | None = None, webmaster: list[str] | None = None) -> Diagnosis:
    counts = summary(findings)
    text = (f"{counts[OK]} ok, "
            + count(counts[WARNING], ("avert.", "avert."), ("warn.", "warn.")) + ", "
            + count(counts[ERROR], ("erreur", "erreurs"), ("error", "errors")))
    first = next((f.message for f in findings if f.level == ERROR), "")
    data = as_dict(profile, findings, records)
    if webmaster:
        data["delegation_matrix"] = webmaster
    base = OperationResult.of(exit_code(findings) if code is None else code, text, first,
                              data)
    return Diagnosis(base.code, base.state, base.summary, base.message, base.data,
                     findings=findings, records=records)


def _with_server(profile: Profile, recipes: RecipeSet, targets: dict[str, Endpoint],
                 transport: Any, options: DiagnoseOptions
                 ) -> tuple[Any, list[Finding], list[Record], str | None]:
    """Facts, the bundle install would deploy, the preflight and, with Caddy's internal
    authority, its root certificate (read over SSH when no --ca-cert is given)."""
    from kit_collab.apply import deploy

    ca_pem = None
    facts = deploy.read_facts(transport, profile)
    bundle = deploy.desired(profile, recipes, facts)[0]
    findings, records = preflight_and_records(profile, bundle, facts, resolve=targets,
                                              transport=transport, recipes=recipes,
                                              dns_server=options.dns_server)
    internal = profile.serveur.certificats.mode == "interne"
    if facts.current and internal and options.ca_cert is None:
        ca_pem = internal_ca(transport, profile.serveur.racine)
    if facts.current:
        findings.append(Finding(OK, SERVER, "version", tr(
            f"version {facts.current} en place", f"release {facts.current} in place")))
        findings += nextcloud_apps(transport, profile, bundle)
        findings += backup_op.findings(transport, profile)
    else:
        findings.append(Finding(WARNING, SERVER, "version", tr(
            "aucune version installée : contrôles de santé non faits",
            "no release installed: health checks not run"),
            tr("installez avec : kit-collab install", "install with: kit-collab install")))
    return bundle, findings, records, ca_pem


def _local_bundle(profile_path: Path | None, profile: Profile, recipes: RecipeSet) -> Any:
    """The bundle as rendered here (local secrets when present, never written): only its
    names, ports and checks are used."""
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.operations import local_secrets

    existing = (local_secrets.read(local_secrets.default_path(profile_path,
                                                              profile.commune.code))
                if profile_path is not None else None)
    return make_bundle(profile, recipes, draw=SYSTEM, secrets=existing).bundle
