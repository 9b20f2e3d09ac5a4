"""Observations in, findings out: the pure half of ``kit-collab check``.

Every rule here takes plain data (the profile, the bundle, the server's facts, DNS answers,
what a TLS handshake or an HTTP request saw) and returns ``Finding``s: a level, the service
concerned, a French sentence and the fix. No network, no clock (``now`` is an argument): the
side effects live in dnscheck.py, health.py and commands/check.py.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml

from kit_collab import constants, remote
from kit_collab.errors import InputError, Problem
from kit_collab.facts import Facts
from kit_collab.i18n import tr
from kit_collab.profile import EU_EEA, Serveur
from kit_collab.render import Bundle, Check

OK = "ok"
WARNING = "avertissement"
ERROR = "erreur"
LEVELS = (OK, WARNING, ERROR)
SERVER = "serveur"  # the service named by findings about the machine itself


@dataclass(frozen=True)
class Finding:
    level: str  # ok | avertissement | erreur
    service: str  # a recipe (nextcloud, matrix…) or "serveur"
    check: str  # what was checked, e.g. "dns cloud.mairie.fr", "status", "mémoire"
    message: str  # one sentence for a person
    fix: str = ""  # what to do; empty when nothing is to be done

    def as_dict(self) -> dict[str, str]:
        return {"niveau": self.level, "service": self.service, "controle": self.check,
                "message": self.message, "correction": self.fix}


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(LEVELS, 0)
    for f in findings:
        counts[f.level] += 1
    return counts


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when nothing is in error, 1 otherwise (DESIGN.md: a health failure)."""
    errors = any(f.level == ERROR for f in findings)
    return constants.EXIT_FAILURE if errors else constants.EXIT_OK


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that stop an install unless ``--force``."""
    return [f for f in findings if f.level == ERROR]


def audit_note(findings: Iterable[Finding]) -> str:
    """One word for the audit log when an install goes on despite preflight errors:
    ``preflight-force=service/check,...`` (no spaces, so the line stays one field)."""
    items = [f"{f.service}/{f.check}".replace(" ", "_") for f in blocking(findings)]
    return "preflight-force=" + ",".join(items) if items else ""


# ---------------------------------------------------------------------------------------------
# --resolve HOST:IP or HOST:PORT:IP (curl's syntax)


@dataclass(frozen=True)
class Target:
    """Where to connect for a hostname: an IP address and the HTTPS port there."""

    ip: str
    port: int = 443

    @property
    def netloc(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{ip}:{self.port}"


Resolve = Mapping[str, Target]


def parse_resolve(entries: Iterable[str]) -> dict[str, Target]:
    """``HOST:IP`` or curl's ``HOST:PORT:IP`` (IPv6 in brackets when a port is given); ``*``
    as HOST stands for every hostname. Every URL checked is https on port 443: PORT is the
    port to connect to at IP (443 for a normal server, another one for a test proxy)."""
    result: dict[str, Target] = {}
    problems = []
    for entry in entries:
        target = _one_resolve(entry.strip())
        if target is None:
            problems.append(Problem("--resolve", tr(
                f"« {entry} » : forme attendue HOTE:IP ou HOTE:PORT:IP (ex. : "
                "cloud.mairie.fr:203.0.113.10)",
                f"'{entry}': expected HOST:IP or HOST:PORT:IP (e.g. "
                "cloud.mairie.fr:203.0.113.10)")))
            continue
        result[target[0]] = target[1]
    if problems:
        raise InputError(tr("option --resolve invalide", "invalid --resolve option"), problems)
    return result


def _one_resolve(entry: str) -> tuple[str, Target] | None:
    host, sep, rest = entry.partition(":")
    host = host.strip().lower().rstrip(".")
    if not sep or not host or not re.match(r"^(\*|[a-z0-9.-]+)$", host):
        return None
    port = 443
    if _ip(rest.strip("[]")) is None:
        match = re.match(r"^(\d{1,5}):(.+)$", rest)
        if not match or not 0 < int(match.group(1)) < 65536:
            return None
        port, rest = int(match.group(1)), match.group(2)
    ip = _ip(rest.strip("[]"))
    return (host, Target(ip, port)) if ip else None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def target_for(resolve: Resolve, host: str) -> Target | None:
    return resolve.get(host) or resolve.get("*")


# ---------------------------------------------------------------------------------------------
# Which names, which backends


def hostnames(bundle: Bundle) -> list[tuple[str, str]]:
    """(service, hostname) for every name the proxy serves for this commune: each recipe's
    names, and the commune's own domain when a check targets it (Matrix delegation)."""
    out: list[tuple[str, str]] = []
    for recipe, hosts in bundle.hosts.items():
        if recipe != "base":
            out.extend((recipe, h) for h in hosts.values())
    base = bundle.hosts["base"]["domaine"]
    users = sorted({c.recipe for c in bundle.checks if c.host == base})
    if users:
        out.append((users[0], base))
    return out


def backends(bundle: Bundle) -> dict[str, list[str]]:
    """Hostname -> compose services the proxy forwards it to, read from the commune's rendered
    site.caddy (``reverse_proxy <alias>:<port>``) and compose files (network aliases)."""
    aliases: dict[str, str] = {}
    prefix = bundle.release_dir + "/"
    site = ""
    for f in bundle.files:
        rel = f.path.removeprefix(prefix)
        if rel == "proxy/site.caddy":
            site = f.content.decode("utf-8", "replace")
        elif f.path.startswith(prefix) and rel.endswith("/compose.yaml"):
            aliases.update(_aliases(f.content))
    result: dict[str, list[str]] = {}
    for addresses, body in _site_blocks(site):
        ups = re.findall(r"^\s*reverse_proxy\s+\"?([^\s\"{]+)", body, flags=re.MULTILINE)
        services = [aliases.get(u.rsplit(":", 1)[0], u.rsplit(":", 1)[0]) for u in ups]
        for address in addresses:
            result[address] = services
    return result


def _aliases(content: bytes) -> dict[str, str]:
    try:
        data = yaml.safe_load(content) or {}
    except yaml.YAMLError:
        return {}
    out: dict[str, str] = {}
    for name, service in (data.get("services") or {}).items():
        networks = (service or {}).get("networks") or {}
        if isinstance(networks, dict):
            for net in networks.values():
                for alias in (net or {}).get("aliases") or []:
                    out[str(alias)] = str(name)
    return out


def _site_blocks(text: str) -> list[tuple[list[str], str]]:
    """(site addresses, body) of each top-level block of a Caddyfile."""
    blocks: list[tuple[list[str], str]] = []
    current: list[str] | None = None
    body: list[str] = []
    for line in text.splitlines():
        if current is None:
            match = re.match(r"^([^\s#{}][^{]*?)\s*\{\s*$", line)
            if match:
                current = [a.strip().strip('"') for a in re.split(r"[,\s]+", match.group(1))
                           if a.strip()]
                body = []
        elif line.startswith("}"):
            blocks.append((current, "\n".join(body)))
            current = None
        else:
            body.append(line)
    return blocks


# ---------------------------------------------------------------------------------------------
# DNS


@dataclass(frozen=True)
class DnsAnswer:
    host: str
    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    error: str = ""  # "", "nxdomain", "timeout", "servfail" or a short reason
    cname: str = ""  # canonical name when the host is an alias


@dataclass(frozen=True)
class ServerAddresses:
    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.v4 or self.v6)

    @classmethod
    def of(cls, addresses: Iterable[str]) -> ServerAddresses:
        ips = [ipaddress.ip_address(a) for a in addresses]
        return cls(tuple(sorted({str(i) for i in ips if i.version == 4})),
                   tuple(sorted({str(i) for i in ips if i.version == 6})))


def zone_line(host: str, ip: str) -> str:
    kind = "AAAA" if ":" in ip else "A"
    return f"{host}. 3600 IN {kind} {ip}"


def dns_findings(names: list[tuple[str, str]], answers: Mapping[str, DnsAnswer],
                 server: ServerAddresses, *, acme: bool = True,
                 forced: Iterable[str] = ()) -> list[Finding]:
    """One finding per name. ``forced``: names given with --resolve, whose DNS problems are
    only warnings (the operator checks before DNS exists, or a test server)."""
    out: list[Finding] = []
    if not server.known:
        out.append(Finding(WARNING, SERVER, "adresse", tr(
            "adresse IP publique du serveur inconnue : kit-collab ne peut pas dire si les noms "
            "pointent au bon endroit",
            "the server's public IP address is unknown: kit-collab cannot tell whether the "
            "names point to the right place"),
            tr("indiquez serveur.ip_publique dans le profil", "set serveur.ip_publique in the "
               "profile")))
    skip = set(forced)
    for service, host in names:
        answer = answers.get(host, DnsAnswer(host, error="timeout"))
        level, message, fix = _dns_rule(answer, server)
        if level != OK and acme:
            fix += tr(" ; faites-le avant d'installer : des demandes de certificat répétées avec "
                      "un DNS faux bloquent Let's Encrypt pendant des heures",
                      "; do it before installing: repeated certificate requests with a wrong "
                      "DNS get blocked by Let's Encrypt for hours")
        if level == ERROR and ("*" in skip or host in skip):
            level = WARNING
            message += tr(" (adresse forcée par --resolve pour les contrôles)",
                          " (address forced by --resolve for the checks)")
        out.append(Finding(level, service, f"dns {host}", message, fix))
    return out


def _dns_rule(answer: DnsAnswer, server: ServerAddresses) -> tuple[str, str, str]:
    host = answer.host
    if answer.error and answer.error != "nxdomain" and not (answer.a or answer.aaaa):
        return ERROR, tr(f"le DNS ne répond pas pour {host} ({answer.error})",
                         f"DNS does not answer for {host} ({answer.error})"), tr(
            "vérifiez la connexion de cette machine, puis chez le registraire que le domaine "
            "est actif et que ses serveurs DNS répondent",
            "check this machine's connection, then with the registrar that the domain is "
            "active and its DNS servers answer")
    wanted = [*server.v4, *server.v6]
    create = "\n".join(zone_line(host, ip) for ip in wanted)
    if not answer.a and not answer.aaaa:
        what = (tr(f"le nom {host} n'existe pas dans le DNS", f"name {host} does not exist in "
                   "DNS") if answer.error == "nxdomain" else
                tr(f"aucune adresse (A/AAAA) pour {host}", f"no address (A/AAAA) for {host}"))
        fix = (tr(f"créez chez votre registraire : {create}", f"create at your registrar: "
                  f"{create}") if wanted else
               tr(f"créez un enregistrement A pour {host} vers l'adresse IP publique du serveur",
                  f"create an A record for {host} to the server's public IP address"))
        return ERROR, what, fix
    problems: list[tuple[str, str, str]] = []
    for kind, found, ours in (("A", answer.a, server.v4), ("AAAA", answer.aaaa, server.v6)):
        rule = _record_rule(host, kind, found, ours, other_family=bool(server.v4 or server.v6))
        if rule:
            problems.append(rule)
    if problems:
        level = ERROR if any(p[0] == ERROR for p in problems) else WARNING
        return (level, " ; ".join(p[1] for p in problems), " ; ".join(p[2] for p in problems))
    shown = ", ".join([*answer.a, *answer.aaaa])
    via = tr(f" (alias de {answer.cname})", f" (alias of {answer.cname})") if answer.cname else ""
    return OK, tr(f"{host} → {shown}{via}", f"{host} → {shown}{via}"), ""


def _record_rule(host: str, kind: str, found: tuple[str, ...], ours: tuple[str, ...], *,
                 other_family: bool) -> tuple[str, str, str] | None:
    if not found:
        if ours:  # the server has such an address, the name lacks it
            line = "\n".join(zone_line(host, ip) for ip in ours)
            family = "IPv4" if kind == "A" else "IPv6"
            return ERROR, tr(f"{host} n'a pas d'enregistrement {kind} : les réseaux en {family} "
                             "seul n'y accèdent pas",
                             f"{host} has no {kind} record: {family}-only networks cannot "
                             "reach it"), tr(f"créez chez votre registraire : {line}",
                                             f"create at your registrar: {line}")
        return None
    if not ours:
        if not other_family:
            return None  # nothing to compare with: the "address unknown" warning says so
        shown = ", ".join(found)
        return WARNING, tr(
            f"{host} a un enregistrement {kind} ({shown}) que kit-collab ne peut pas vérifier : "
            "s'il ne mène pas au serveur, une partie des visiteurs et Let's Encrypt échoueront",
            f"{host} has an {kind} record ({shown}) kit-collab cannot verify: if it does not "
            "lead to the server, some visitors and Let's Encrypt will fail"), tr(
            f"vérifiez que {shown} est bien une adresse du serveur (ip addr sur le serveur), "
            f"sinon supprimez cet enregistrement {kind}",
            f"check that {shown} is one of the server's addresses (ip addr on the server), "
            f"otherwise delete this {kind} record")
    wrong = [ip for ip in found if ip not in ours]
    if not wrong:
        return None
    right = [ip for ip in found if ip in ours]
    expected = ", ".join(ours)
    line = "\n".join(zone_line(host, ip) for ip in ours)
    if right:
        return ERROR, tr(
            f"{host} pointe vers le serveur mais aussi vers {', '.join(wrong)} : une partie des "
            "visiteurs arrivera ailleurs",
            f"{host} points to the server but also to {', '.join(wrong)}: some visitors will "
            "end up elsewhere"), tr(
            f"supprimez chez votre registraire l'enregistrement {kind} {host} → "
            f"{', '.join(wrong)}", f"delete the {kind} record {host} → {', '.join(wrong)} at "
            "your registrar")
    return ERROR, tr(f"{host} pointe vers {', '.join(wrong)}, pas vers le serveur ({expected})",
                     f"{host} points to {', '.join(wrong)}, not to the server ({expected})"), tr(
        f"remplacez chez votre registraire l'enregistrement {kind} de {host} par : {line}",
        f"replace the {kind} record of {host} at your registrar with: {line}")


def records_to_create(names: list[tuple[str, str]], answers: Mapping[str, DnsAnswer],
                      server: ServerAddresses) -> list[str]:
    """The exact zone lines to create at the registrar (missing or wrong A/AAAA records)."""
    lines: list[str] = []
    for _service, host in names:
        answer = answers.get(host, DnsAnswer(host))
        for found, ours in ((answer.a, server.v4), (answer.aaaa, server.v6)):
            if any(ip not in found for ip in ours):
                lines.extend(zone_line(host, ip) for ip in ours if ip not in found)
    return lines


# ---------------------------------------------------------------------------------------------
# The server: hosting, system, ports, clock

SUPPORTED_OS = {("debian", "12"), ("debian", "13"), ("ubuntu", "24.04")}  # as remote.bootstrap
SUPPORTED_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
# Providers headquartered outside the EU/EEA: their law (e.g. the US CLOUD Act) reaches data
# even in an EU data centre. Matched as words of the declared provider, lower-case.
NON_EU_PROVIDERS = ("aws", "amazon", "azure", "microsoft", "google", "gcp", "oracle",
                    "digitalocean", "linode", "akamai", "vultr", "ibm", "alibaba", "tencent",
                    "cloudflare", "heroku")


def hosting_findings(serveur: Serveur) -> list[Finding]:
    pays, who = serveur.pays, serveur.hebergeur
    words = set(re.split(r"[^a-z0-9]+", who.lower()))
    out: list[Finding] = []
    if pays not in EU_EEA:
        if serveur.derogation_hors_ue:
            out.append(Finding(WARNING, SERVER, "hébergement", tr(
                f"serveur hors de l'UE/EEE ({who}, {pays}), par dérogation : "
                f"« {serveur.derogation_hors_ue} »",
                f"server outside the EU/EEA ({who}, {pays}), by exemption: "
                f"'{serveur.derogation_hors_ue}'"),
                tr("faites valider ce choix par le délégué à la protection des données",
                   "have this choice approved by the data protection officer")))
        else:
            out.append(Finding(ERROR, SERVER, "hébergement", tr(
                f"serveur hors de l'UE/EEE ({who}, {pays}) : les données de la commune doivent "
                "y rester", f"server outside the EU/EEA ({who}, {pays}): the commune's data "
                "must stay there"),
                tr("choisissez un centre de données dans l'UE (serveur.pays)",
                   "choose a data centre in the EU (serveur.pays)")))
    elif words & set(NON_EU_PROVIDERS):
        out.append(Finding(WARNING, SERVER, "hébergement", tr(
            f"hébergeur {who} : centre de données en {pays}, mais société soumise à un droit "
            "hors UE (ex. : Cloud Act américain)",
            f"provider {who}: data centre in {pays}, but a company under non-EU law (e.g. the "
            "US CLOUD Act)"),
            tr("préférez un hébergeur de droit européen (par ex. qualifié SecNumCloud), ou "
               "faites valider ce choix par le délégué à la protection des données",
               "prefer a provider under EU law (e.g. SecNumCloud qualified), or have this "
               "choice approved by the data protection officer")))
    else:
        out.append(Finding(OK, SERVER, "hébergement", tr(
            f"hébergé chez {who}, en {pays} (UE/EEE)", f"hosted by {who}, in {pays} (EU/EEA)")))
    return out


def system_findings(facts: Facts, bundle: Bundle) -> list[Finding]:
    return [*_os_findings(facts), *_memory_findings(facts, bundle),
            *_disk_findings(facts, bundle), *_lock_findings(facts)]


def _os_findings(facts: Facts) -> list[Finding]:
    out = []
    system = f"{facts.os_id} {facts.os_version}".strip() or "?"
    if (facts.os_id, facts.os_version) in SUPPORTED_OS:
        out.append(Finding(OK, SERVER, "système", tr(f"système {system} pris en charge",
                                                     f"system {system} supported")))
    else:
        out.append(Finding(ERROR, SERVER, "système", tr(
            f"système {system} non pris en charge", f"system {system} not supported"),
            tr("installez Debian 12 ou 13, ou Ubuntu 24.04 (choix proposé par l'hébergeur à "
               "la création du serveur)", "install Debian 12 or 13, or Ubuntu 24.04 (offered "
               "by the provider when creating the server)")))
    if facts.arch in SUPPORTED_ARCH:
        out.append(Finding(OK, SERVER, "architecture", tr(
            f"processeur {facts.arch} ({SUPPORTED_ARCH[facts.arch]}) pris en charge",
            f"{facts.arch} ({SUPPORTED_ARCH[facts.arch]}) processor supported")))
    else:
        out.append(Finding(ERROR, SERVER, "architecture", tr(
            f"processeur {facts.arch or '?'} non pris en charge : les images des services "
            "existent pour amd64 et arm64 seulement",
            f"{facts.arch or '?'} processor not supported: the services' images exist for "
            "amd64 and arm64 only"),
            tr("choisissez un serveur x86_64 (amd64) ou arm64",
               "choose an x86_64 (amd64) or arm64 server")))
    return out


def _memory_findings(facts: Facts, bundle: Bundle) -> list[Finding]:
    # Several communes may share the server: their needs add up.
    need = int(bundle.resources.get("ram_mb", 0) + facts.others_needs("ram_mb"))
    if not facts.mem_mb or not need:
        return []
    have_gb, need_gb = facts.mem_mb / 1024, need / 1024
    fix = tr(f"choisissez une offre avec au moins {need_gb:.0f} Go de RAM, ou désactivez un "
             "service (Collabora et Jitsi sont les plus gourmands)",
             f"choose a plan with at least {need_gb:.0f} GB of RAM, or disable a service "
             "(Collabora and Jitsi need the most)")
    if facts.mem_mb >= need:
        return [Finding(OK, SERVER, "mémoire", tr(
            f"{have_gb:.1f} Go de RAM pour {need_gb:.1f} Go nécessaires",
            f"{have_gb:.1f} GB RAM for {need_gb:.1f} GB needed"))]
    # The kernel keeps part of the RAM: an "8 GB" server reports about 7.7 GB.
    level = WARNING if facts.mem_mb >= need * 0.75 else ERROR
    return [Finding(level, SERVER, "mémoire", tr(
        f"{have_gb:.1f} Go de RAM pour {need_gb:.1f} Go nécessaires aux services actifs"
        + (" : ils risquent de manquer de mémoire en charge" if level == WARNING else ""),
        f"{have_gb:.1f} GB RAM for the {need_gb:.1f} GB the enabled services need"
        + (": they may run out of memory under load" if level == WARNING else "")), fix)]


def _disk_findings(facts: Facts, bundle: Bundle) -> list[Finding]:
    need = float(bundle.resources.get("disk_gb", 0) + facts.others_needs("disk_gb"))
    if not facts.disk_free_gb or not need:
        return []
    free = facts.disk_free_gb
    fix = tr("agrandissez le disque chez l'hébergeur, ou libérez de la place (sur le serveur : "
             "docker system prune pour les images inutilisées)",
             "grow the disk with the provider, or free some space (on the server: docker "
             "system prune for unused images)")
    if facts.current:  # installed: images are already there, only room to grow matters
        level = ERROR if free < 2 else WARNING if free < 10 else OK
        text = tr(f"{free:.0f} Go libres sur le disque", f"{free:.0f} GB free on disk")
    else:
        level = ERROR if free < need else WARNING if free < need + 10 else OK
        text = tr(f"{free:.0f} Go libres pour {need:.0f} Go nécessaires (hors fichiers des "
                  "agents)", f"{free:.0f} GB free for {need:.0f} GB needed (agents' files "
                  "not included)")
    if level == WARNING:
        text += tr(" : peu de place pour les fichiers des agents",
                   ": little room for the agents' files")
    return [Finding(level, SERVER, "disque", text, "" if level == OK else fix)]


def _lock_findings(facts: Facts) -> list[Finding]:
    if not facts.lock:
        return []
    return [Finding(WARNING, SERVER, "verrou", tr(
        f"une opération est en cours (ou abandonnée) : {facts.lock}",
        f"an operation is running (or was abandoned): {facts.lock}"),
        tr("attendez qu'elle finisse ; si elle est abandonnée : kit-collab unlock --force",
           "wait for it to finish; if abandoned: kit-collab unlock --force"))]


PortNeed = tuple[str, int, int, str]  # protocol, first, last, what


def needed_ports(bundle: Bundle, protocols: Mapping[tuple[str, str], str],
                 facts: Facts) -> list[PortNeed]:
    """Ports this install will bind on the server. 80 and 443 only when the shared proxy is
    not there yet; ``protocols``: (recipe, port name) -> "tcp" | "udp" | "tcp+udp"."""
    out: list[PortNeed] = []
    if not facts.proxy_files:
        out += [("tcp", 80, 80, "proxy"), ("tcp", 443, 443, "proxy"), ("udp", 443, 443, "proxy")]
    for recipe, names in bundle.ports.items():
        for name, first in names.items():
            if name.endswith("_end"):
                continue
            last = names.get(f"{name}_end", first)
            for proto in protocols.get((recipe, name), "tcp").split("+"):
                out.append((proto, first, last, recipe))
    return out


def ports_findings(facts: Facts, needs: list[PortNeed]) -> list[Finding]:
    ours = {int(p) for names in facts.state.get("ports", {}).values()
            for p in names.values() if isinstance(p, int)}
    for names in facts.state.get("ports", {}).values():
        for name, first in names.items():
            end = names.get(f"{name}_end")
            if isinstance(first, int) and isinstance(end, int):
                ours.update(range(first, end + 1))
    out: list[Finding] = []
    for proto, first, last, what in needs:
        taken = [p for p in range(first, last + 1)
                 if (proto, p) in facts.ports_in_use and p not in ours]
        span = f"{first}" if first == last else f"{first}-{last}"
        if not taken:
            continue
        shown = ", ".join(str(p) for p in taken[:5]) + ("…" if len(taken) > 5 else "")
        out.append(Finding(ERROR, what, f"port {span}/{proto}", tr(
            f"port {shown}/{proto} déjà utilisé sur le serveur par un autre programme",
            f"port {shown}/{proto} already used on the server by another program"),
            tr(f"sur le serveur, voyez lequel avec « ss -lntup | grep :{taken[0]} » et "
               "arrêtez-le (un autre serveur web ?)",
               f"on the server, find it with 'ss -lntup | grep :{taken[0]}' and stop it "
               "(another web server?)")))
    if not out:
        out.append(Finding(OK, SERVER, "ports", tr(
            f"ports nécessaires libres sur le serveur ({len(needs)} plages)",
            f"needed ports free on the server ({len(needs)} ranges)")))
    return out


@dataclass(frozen=True)
class PortProbe:
    ip: str
    port: int
    outcome: str  # open | refused | timeout | unreachable
    detail: str = ""


def reachability_findings(probes: list[PortProbe], *, installed: bool | None) -> list[Finding]:
    """Ports 80 and 443 seen from here. ``installed``: the proxy should be listening (None:
    unknown, the server was not asked)."""
    out = []
    for p in probes:
        where = f"{p.ip}:{p.port}"
        if p.outcome == "open":
            out.append(Finding(OK, SERVER, f"port {p.port}", tr(
                f"port {p.port} joignable depuis cette machine ({where})",
                f"port {p.port} reachable from this machine ({where})")))
        elif p.outcome == "refused":
            level = ERROR if installed else OK if installed is False else WARNING
            out.append(Finding(level, SERVER, f"port {p.port}", tr(
                f"connexion refusée sur {where} : rien n'y écoute (normal avant la première "
                "installation) ou un pare-feu la rejette",
                f"connection refused on {where}: nothing listens (normal before the first "
                "install) or a firewall rejects it"),
                "" if level == OK else tr(
                    "vérifiez que le proxy tourne : kit-collab status ; sur le serveur : docker "
                    "compose -p kit-collab-proxy ps",
                    "check that the proxy runs: kit-collab status; on the server: docker "
                    "compose -p kit-collab-proxy ps")))
        else:
            why = tr("ne répond pas (filtré par un pare-feu ?)", "does not answer (filtered by "
                     "a firewall?)") if p.outcome == "timeout" else tr(
                f"injoignable ({p.detail})", f"unreachable ({p.detail})")
            out.append(Finding(ERROR, SERVER, f"port {p.port}", tr(
                f"le port {p.port} de {p.ip} {why}", f"port {p.port} of {p.ip} {why}"), tr(
                "ouvrez les ports 80 et 443 (TCP) dans le pare-feu de l'hébergeur (console "
                "d'administration) et vérifiez l'adresse du serveur",
                "open ports 80 and 443 (TCP) in the provider's firewall (its console) and "
                "check the server's address")))
    return out


def clock_findings(skew: float | None, uncertainty: float = 0.0) -> list[Finding]:
    """``skew``: server clock minus this machine's, in seconds (None: not measured)."""
    if skew is None:
        return []
    amount = max(0.0, abs(skew) - uncertainty)
    level = ERROR if amount > 60 else WARNING if amount > 5 else OK
    text = tr(f"écart d'horloge entre le serveur et cette machine : {skew:+.1f} s",
              f"clock difference between the server and this machine: {skew:+.1f} s")
    fix = "" if level == OK else tr(
        "activez la synchronisation de l'heure sur le serveur (timedatectl set-ntp true, paquet "
        "systemd-timesyncd) et sur cette machine : certificats, connexions Matrix et codes à "
        "usage unique en dépendent",
        "turn on time synchronisation on the server (timedatectl set-ntp true, package "
        "systemd-timesyncd) and on this machine: certificates, Matrix and one-time codes "
        "depend on it")
    return [Finding(level, SERVER, "horloge", text, fix)]


# ---------------------------------------------------------------------------------------------
# TLS


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_issued: bool


@dataclass(frozen=True)
class TlsObservation:
    host: str
    where: str  # ip:port or host:443
    cert: CertInfo | None = None
    verify_code: int | None = None  # OpenSSL X509_V_ERR_* when verification failed
    verify_message: str = ""
    error: str = ""  # connection or handshake failure, when no certificate was verified


# OpenSSL verification codes (x509_vfy.h).
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _NO_LEAF_ISSUER = 18, 19, 20, 21
_HOSTNAME_MISMATCH = 62
WARN_DAYS = 14


def _date(d: datetime) -> str:
    return d.strftime("%d/%m/%Y %H:%M UTC")


def _proxy_logs_fix() -> str:
    return tr("journaux du proxy, sur le serveur : docker compose -p kit-collab-proxy logs "
              "--tail 50 caddy", "proxy logs, on the server: docker compose -p "
              "kit-collab-proxy logs --tail 50 caddy")


def tls_finding(service: str, obs: TlsObservation, now: datetime, skipped: int = 0) -> Finding:
    check = f"https {obs.host}"
    tail = tr(f" ({skipped} contrôles de ce nom non faits)",
              f" ({skipped} checks of this name not run)") if skipped else ""
    if obs.verify_code is not None:
        message, fix = _verify_failure(obs, now)
        return Finding(ERROR, service, check, message + tail, fix)
    if obs.error or obs.cert is None:
        return Finding(ERROR, service, check, tr(
            f"connexion HTTPS impossible à {obs.host} ({obs.where}) : {obs.error}{tail}",
            f"cannot connect over HTTPS to {obs.host} ({obs.where}): {obs.error}{tail}"), tr(
            "vérifiez que le proxy tourne (kit-collab status) et que le port 443 est ouvert ; "
            + _proxy_logs_fix(), "check that the proxy runs (kit-collab status) and port 443 "
            "is open; " + _proxy_logs_fix()))
    cert = obs.cert
    left = cert.not_after - now
    lifetime = cert.not_after - cert.not_before
    # Warn under 14 days, or under a quarter of the lifetime for short-lived certificates
    # (Caddy's internal authority issues 12-hour ones): renewal should have happened by then.
    threshold = min(timedelta(days=WARN_DAYS), lifetime / 4)
    days = left.days
    remaining = tr(f"dans {days} jours", f"in {days} days") if days >= 1 else tr(
        f"dans {int(left.total_seconds() // 3600)} h", f"in {int(left.total_seconds() // 3600)} h")
    text = tr(f"certificat valide pour {obs.host}, émis par {cert.issuer}, expire le "
              f"{_date(cert.not_after)} ({remaining})",
              f"valid certificate for {obs.host}, issued by {cert.issuer}, expires on "
              f"{_date(cert.not_after)} ({remaining})")
    if left < threshold:
        return Finding(WARNING, service, check, text, tr(
            "le renouvellement automatique semble bloqué : vérifiez le DNS et le port 80, puis "
            "les " + _proxy_logs_fix(), "automatic renewal seems stuck: check DNS and port 80, "
            "then the " + _proxy_logs_fix()))
    return Finding(OK, service, check, text)


def _verify_failure(obs: TlsObservation, now: datetime) -> tuple[str, str]:
    host, cert, code = obs.host, obs.cert, obs.verify_code
    if code == _EXPIRED or (cert and cert.not_after < now and code not in (
            _HOSTNAME_MISMATCH, _SELF_SIGNED)):
        when = tr(f" le {_date(cert.not_after)} (il y a {(now - cert.not_after).days} jours)",
                  f" on {_date(cert.not_after)} ({(now - cert.not_after).days} days ago)") \
            if cert else ""
        return tr(f"le certificat HTTPS de {host} a expiré{when}",
                  f"the HTTPS certificate of {host} has expired{when}"), tr(
            "le proxy n'a pas pu le renouveler : vérifiez que le DNS pointe vers le serveur et "
            "que le port 80 est ouvert, puis les " + _proxy_logs_fix(),
            "the proxy could not renew it: check that DNS points to the server and port 80 "
            "is open, then the " + _proxy_logs_fix())
    if code == _NOT_YET_VALID:
        start = tr(f" qu'à partir du {_date(cert.not_before)}",
                   f" from {_date(cert.not_before)}") if cert else tr(" pas encore",
                                                                      " yet")
        return tr(f"le certificat HTTPS de {host} n'est valable{start}",
                  f"the HTTPS certificate of {host} is only valid{start}"), tr(
            "l'horloge du serveur ou de cette machine est fausse : activez la synchronisation "
            "de l'heure (timedatectl set-ntp true)", "the server's or this machine's clock is "
            "wrong: turn on time synchronisation (timedatectl set-ntp true)")
    if code == _HOSTNAME_MISMATCH:
        names = ", ".join(cert.names) if cert and cert.names else "?"
        return tr(f"le certificat présenté à {obs.where} pour {host} est celui d'un autre nom "
                  f"({names})", f"the certificate presented at {obs.where} for {host} is for "
                  f"another name ({names})"), tr(
            f"le proxy ne sert pas encore {host} : relancez kit-collab install, et vérifiez "
            f"que le DNS de {host} mène à ce serveur (et non à un autre site)",
            f"the proxy does not serve {host} yet: run kit-collab install again, and check "
            f"that {host}'s DNS leads to this server (not another site)")
    ca_fix = tr(
        "avec l'autorité interne de Caddy (certificats: interne), donnez son certificat racine "
        "avec --ca-cert (sur le serveur : docker compose -p kit-collab-proxy exec caddy cat "
        "/data/caddy/pki/authorities/local/root.crt) ; sinon passez serveur.certificats.mode à "
        "acme et vérifiez les " + _proxy_logs_fix(),
        "with Caddy's internal authority (certificats: interne), give its root certificate "
        "with --ca-cert (on the server: docker compose -p kit-collab-proxy exec caddy cat "
        "/data/caddy/pki/authorities/local/root.crt); otherwise set serveur.certificats.mode "
        "to acme and check the " + _proxy_logs_fix())
    if code == _SELF_SIGNED or (cert and cert.self_issued):
        who = f" ({cert.subject})" if cert else ""
        return tr(f"le certificat HTTPS de {host} est auto-signé{who} : navigateurs et "
                  "applications le refusent",
                  f"the HTTPS certificate of {host} is self-signed{who}: browsers and apps "
                  "refuse it"), ca_fix
    if code in (_SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _NO_LEAF_ISSUER):
        issuer = cert.issuer if cert else "?"
        return tr(f"le certificat HTTPS de {host} est émis par « {issuer} », une autorité "
                  "inconnue de cette machine", f"the HTTPS certificate of {host} is issued by "
                  f"'{issuer}', an authority unknown to this machine"), ca_fix
    return tr(f"certificat HTTPS de {host} refusé : {obs.verify_message}",
              f"HTTPS certificate of {host} refused: {obs.verify_message}"), _proxy_logs_fix()


# ---------------------------------------------------------------------------------------------
# HTTP checks declared by the recipes


@dataclass(frozen=True)
class HttpObservation:
    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    error: str = ""  # connection-level failure (no response)


_GATEWAY = (502, 503, 504)


@dataclass(frozen=True)
class _Ctx:
    bundle: Bundle
    root: str


def check_finding(check: Check, obs: HttpObservation, bundle: Bundle,
                  root: str = constants.SERVER_ROOT) -> Finding:
    """Compare one declared check with what the server answered; explain the difference."""
    ctx = _Ctx(bundle, root)
    level, message, fix = _check_rule(check, obs, ctx)
    if level == OK:
        deep = _DEEP.get((check.recipe, check.name))
        if deep:
            level, message, fix = deep(check, obs, ctx) or (level, message, fix)
    return Finding(level, check.recipe, check.name, message, fix)


def _logs(ctx: _Ctx, services: list[str]) -> str:
    names = " ".join(services)
    command = remote.compose(ctx.root, ctx.bundle.slug, "logs", "--tail", "50", names)
    return tr(f"voyez s'il tourne : kit-collab status ; ses journaux, sur le serveur : {command}",
              f"see whether it runs: kit-collab status; its logs, on the server: {command}")


def _check_rule(check: Check, obs: HttpObservation, ctx: _Ctx) -> tuple[str, str, str]:
    label = tr(f"{check.url} (contrôle « {check.name} »)", f"{check.url} (check '{check.name}')")
    if obs.error or obs.status is None:
        return ERROR, tr(f"pas de réponse de {label} : {obs.error}",
                         f"no answer from {label}: {obs.error}"), tr(
            "vérifiez que le proxy tourne (kit-collab status) ; " + _proxy_logs_fix(),
            "check that the proxy runs (kit-collab status); " + _proxy_logs_fix())
    if obs.status != check.status:
        services = backends(ctx.bundle).get(check.host, [])
        if obs.status in _GATEWAY and services and check.status not in _GATEWAY:
            names = ", ".join(services)
            return ERROR, tr(
                f"le proxy n'obtient pas de réponse du service {names} (recette "
                f"{check.recipe}) : {label} répond {obs.status}",
                f"the proxy gets no answer from service {names} (recipe {check.recipe}): "
                f"{label} answers {obs.status}"), _logs(ctx, services)
        return ERROR, tr(f"{label} répond {obs.status} au lieu de {check.status}",
                         f"{label} answers {obs.status} instead of {check.status}"), tr(
            "la configuration en place ne correspond pas à la recette : relancez kit-collab "
            "install ; " + _proxy_logs_fix(), "the configuration in place does not match the "
            "recipe: run kit-collab install again; " + _proxy_logs_fix())
    for name, expected in check.headers.items():
        got = obs.headers.get(name.lower())
        if got is None or expected not in got:
            level = WARNING if name.lower() == "strict-transport-security" else ERROR
            shown = tr(f"vaut « {got} »", f"is '{got}'") if got is not None else tr(
                "est absent", "is missing")
            return level, tr(f"{label} : l'en-tête {name} {shown} (attendu : {expected})",
                             f"{label}: header {name} {shown} (expected: {expected})"), tr(
                "relancez kit-collab install pour remettre la configuration du proxy",
                "run kit-collab install again to restore the proxy configuration")
    text = obs.body.decode("utf-8", "replace")
    if check.contains and check.contains not in text:
        return ERROR, tr(f"{label} ne contient pas « {check.contains} » : ce n'est pas la "
                         "réponse du service attendu",
                         f"{label} does not contain '{check.contains}': not the expected "
                         "service's answer"), _logs(
            ctx, backends(ctx.bundle).get(check.host) or [check.recipe])
    if check.json is not None:
        return _json_rule(check, obs, ctx, label)
    return OK, tr(f"{check.url} répond comme attendu ({obs.status})",
                  f"{check.url} answers as expected ({obs.status})"), ""


# Nextcloud's status.php vocabulary: what a wrong value means and what to run.
_JSON_MEANING = {
    "installed": ("Nextcloud n'est pas installé", "Nextcloud is not installed",
                  ["php", "occ", "status"]),
    "maintenance": ("Nextcloud est en mode maintenance", "Nextcloud is in maintenance mode",
                    ["php", "occ", "maintenance:mode", "--off"]),
    "needsDbUpgrade": ("une mise à jour de la base de données de Nextcloud est en attente",
                       "a Nextcloud database upgrade is pending", ["php", "occ", "upgrade"]),
}


def _json_rule(check: Check, obs: HttpObservation, ctx: _Ctx,
               label: str) -> tuple[str, str, str]:
    try:
        document = json.loads(obs.body)
    except ValueError:
        return ERROR, tr(f"{label} : réponse qui n'est pas du JSON",
                         f"{label}: the answer is not JSON"), _logs(
            ctx, backends(ctx.bundle).get(check.host) or [check.recipe])
    if not isinstance(document, dict):
        document = {}
    wrong = {k: document.get(k) for k, v in (check.json or {}).items() if document.get(k) != v}
    if not wrong:
        return OK, tr(f"{check.url} répond comme attendu ({obs.status}, "
                      f"{_short(check.json)})", f"{check.url} answers as expected "
                      f"({obs.status}, {_short(check.json)})"), ""
    key = next(iter(wrong))
    services = backends(ctx.bundle).get(check.host) or [check.recipe]
    if key in _JSON_MEANING:
        fr, en, argv = _JSON_MEANING[key]
        command = remote.compose(ctx.root, ctx.bundle.slug, "exec", "-u", "33", services[0],
                                 *argv)
        return ERROR, tr(f"{fr} ({label} : {key} = {json.dumps(wrong[key])})",
                         f"{en} ({label}: {key} = {json.dumps(wrong[key])})"), tr(
            f"sur le serveur : {command}", f"on the server: {command}")
    return ERROR, tr(f"{label} : {_short(wrong)} au lieu de {_short(check.json)}",
                     f"{label}: {_short(wrong)} instead of {_short(check.json)}"), tr(
        "relancez kit-collab install pour remettre la configuration rendue",
        "run kit-collab install again to restore the rendered configuration")


def _short(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)[:200]


def _json_of(obs: HttpObservation) -> dict[str, Any]:
    try:
        data = json.loads(obs.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _redeploy() -> str:
    return tr("le fichier servi n'est pas celui rendu pour la commune : relancez kit-collab "
              "install", "the file served is not the one rendered for the commune: run "
              "kit-collab install again")


def _element_config(check: Check, obs: HttpObservation,
                    ctx: _Ctx) -> tuple[str, str, str] | None:
    """Element must point at the commune's homeserver, and its calls at the commune's Jitsi
    (else they go to a public Jitsi: element-web #20021)."""
    hosts = ctx.bundle.hosts
    config = _json_of(obs)
    server = (config.get("default_server_config") or {}).get("m.homeserver") or {}
    wanted = f"https://{hosts['matrix']['synapse']}"
    if server.get("base_url", "").rstrip("/") != wanted:
        return ERROR, tr(f"Element pointe vers « {server.get('base_url')} » au lieu du serveur "
                         f"Matrix de la commune ({wanted})",
                         f"Element points to '{server.get('base_url')}' instead of the "
                         f"commune's Matrix server ({wanted})"), _redeploy()
    jitsi = (config.get("jitsi") or {}).get("preferred_domain")
    visio = hosts.get("jitsi", {}).get("visio")
    if visio and jitsi != visio:
        where = jitsi or tr("un Jitsi public", "a public Jitsi")
        return ERROR, tr(f"les appels vidéo d'Element partiraient vers « {where} » au lieu de "
                         f"{visio}", f"Element's video calls would go to '{where}' instead of "
                         f"{visio}"), _redeploy()
    calls = tr(f", appels vidéo via {visio}", f", video calls through {visio}") if visio else ""
    return OK, tr(f"Element pointe vers {wanted}{calls}", f"Element points to {wanted}{calls}"), ""


def _well_known_client(check: Check, obs: HttpObservation,
                       ctx: _Ctx) -> tuple[str, str, str] | None:
    wanted = f"https://{ctx.bundle.hosts['matrix']['synapse']}"
    got = ((_json_of(obs).get("m.homeserver") or {}).get("base_url") or "").rstrip("/")
    if got != wanted:
        return ERROR, tr(f"{check.url} annonce « {got} » au lieu de {wanted} : les applications "
                         "Matrix ne trouvent pas le serveur",
                         f"{check.url} announces '{got}' instead of {wanted}: Matrix apps "
                         "cannot find the server"), _redeploy()
    return OK, tr(f"{check.url} mène à {wanted} (CORS ouvert)",
                  f"{check.url} leads to {wanted} (CORS open)"), ""


def _well_known_server(check: Check, obs: HttpObservation,
                       ctx: _Ctx) -> tuple[str, str, str] | None:
    wanted = f"{ctx.bundle.hosts['matrix']['synapse']}:443"
    got = _json_of(obs).get("m.server")
    if got != wanted:
        return ERROR, tr(f"{check.url} annonce « {got} » au lieu de {wanted} : la fédération "
                         "échouera", f"{check.url} announces '{got}' instead of {wanted}: "
                         "federation will fail"), _redeploy()
    return OK, tr(f"{check.url} délègue la fédération à {wanted}",
                  f"{check.url} delegates federation to {wanted}"), ""


_DEEP = {
    ("matrix", "element"): _element_config,
    ("matrix", "well-known-client"): _well_known_client,
    ("matrix", "well-known-server"): _well_known_server,
}


# ---------------------------------------------------------------------------------------------
# TURN


@dataclass(frozen=True)
class StunProbe:
    host: str
    where: str  # ip:port
    protocol: str  # udp | tcp
    answered: bool
    detail: str = ""


def turn_findings(probes: list[StunProbe]) -> list[Finding]:
    out = []
    for p in probes:
        check = f"turn {p.protocol}"
        if p.answered:
            out.append(Finding(OK, "coturn", check, tr(
                f"le relais TURN répond en STUN sur {p.host} ({p.where}/{p.protocol})",
                f"the TURN relay answers STUN on {p.host} ({p.where}/{p.protocol})")))
        else:
            port = p.where.rsplit(":", 1)[-1]
            out.append(Finding(ERROR, "coturn", check, tr(
                f"le relais TURN (coturn) ne répond pas sur {p.host} ({p.where}/{p.protocol}) "
                f"{p.detail} : les appels derrière un pare-feu n'auront ni son ni image",
                f"the TURN relay (coturn) does not answer on {p.host} ({p.where}/{p.protocol}) "
                f"{p.detail}: calls behind a firewall will get no sound or video"), tr(
                f"vérifiez que le conteneur coturn tourne (kit-collab status) et que le port "
                f"{port} (UDP et TCP) est ouvert dans le pare-feu de l'hébergeur",
                f"check that the coturn container runs (kit-collab status) and that port "
                f"{port} (UDP and TCP) is open in the provider's firewall")))
    return out
