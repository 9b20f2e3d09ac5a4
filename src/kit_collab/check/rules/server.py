"""The server: hosting, system, RAM and disk, ports, clock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kit_collab.bundle.render import Bundle
from kit_collab.check.findings import ERROR, OK, SERVER, WARNING, Finding
from kit_collab.i18n import tr
from kit_collab.plan.facts import SUPPORTED_OS as SUPPORTED_OS  # noqa: PLC0414 (re-exported)
from kit_collab.plan.facts import Facts, os_refusal
from kit_collab.profile.model import EU_EEA, Serveur

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
    if (facts.os_id, facts.os_version) in SUPPORTED_OS:  # (ID, VERSION_ID) -> name
        out.append(Finding(OK, SERVER, "système", tr(f"système {system} pris en charge",
                                                     f"system {system} supported")))
    else:
        fr, en, fix_fr, fix_en = os_refusal(system)
        out.append(Finding(ERROR, SERVER, "système", tr(fr, en), tr(fix_fr, fix_en)))
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
    ours = facts.state.host_ports()
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
