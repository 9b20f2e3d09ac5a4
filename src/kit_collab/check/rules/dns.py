"""DNS: does every name point at the server? Which records to create."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kit_collab.check.findings import ERROR, OK, SERVER, WARNING, Finding, Verdict
from kit_collab.i18n import tr


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


def _dns_rule(answer: DnsAnswer, server: ServerAddresses) -> Verdict:
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
    problems: list[Verdict] = []
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
                 other_family: bool) -> Verdict | None:
    """What is wrong with the name's records of one family (A or AAAA), if anything."""
    if not found:
        return _missing_record(host, kind, ours) if ours else None
    if not ours:
        # Nothing to compare with: the "address unknown" warning says so.
        return _unverifiable_record(host, kind, found) if other_family else None
    wrong = [ip for ip in found if ip not in ours]
    return _wrong_record(host, kind, found, ours, wrong) if wrong else None


def _missing_record(host: str, kind: str, ours: tuple[str, ...]) -> Verdict:
    """The server has an address of this family, the name lacks it."""
    line = "\n".join(zone_line(host, ip) for ip in ours)
    family = "IPv4" if kind == "A" else "IPv6"
    return ERROR, tr(f"{host} n'a pas d'enregistrement {kind} : les réseaux en {family} "
                     "seul n'y accèdent pas",
                     f"{host} has no {kind} record: {family}-only networks cannot "
                     "reach it"), tr(f"créez chez votre registraire : {line}",
                                     f"create at your registrar: {line}")


def _unverifiable_record(host: str, kind: str, found: tuple[str, ...]) -> Verdict:
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


def _wrong_record(host: str, kind: str, found: tuple[str, ...], ours: tuple[str, ...],
                  wrong: list[str]) -> Verdict:
    if any(ip in ours for ip in found):
        return ERROR, tr(
            f"{host} pointe vers le serveur mais aussi vers {', '.join(wrong)} : une partie des "
            "visiteurs arrivera ailleurs",
            f"{host} points to the server but also to {', '.join(wrong)}: some visitors will "
            "end up elsewhere"), tr(
            f"supprimez chez votre registraire l'enregistrement {kind} {host} → "
            f"{', '.join(wrong)}", f"delete the {kind} record {host} → {', '.join(wrong)} at "
            "your registrar")
    expected = ", ".join(ours)
    line = "\n".join(zone_line(host, ip) for ip in ours)
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
