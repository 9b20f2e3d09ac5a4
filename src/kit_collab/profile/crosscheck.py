"""Rules that span several fields: duplicates, unknown references, sub-domains taken twice,
hosting outside the EU/EEA. They run on what can be read of a profile (``salvage.Parts``),
so that they are reported in the same pass as the field errors."""

from __future__ import annotations

from kit_collab.i18n import tr
from kit_collab.profile.messages import Loc, closest, pretty_loc
from kit_collab.profile.model import (
    EU_EEA,
    Commune,
    Profile,
    Serveur,
    Services,
    Utilisateur,
    url_host,
)
from kit_collab.profile.salvage import Parts, from_profile

Found = list[tuple[Loc, str, str | None]]  # (path, message, hint)


def cross_checks(profile: Profile) -> Found:
    """Rules that span several fields of a valid profile."""
    return part_checks(from_profile(profile))


def part_checks(parts: Parts) -> Found:
    """Rules that span several fields, on the sections that could be read; none about a
    value that was dropped (a default standing in for a faulty key)."""
    found: Found = []
    ids: dict[str, int] = {}
    for i, svc in parts.services_municipaux:
        if svc.id in ids:
            found.append((("services_municipaux", i, "id"), tr(
                f"service municipal « {svc.id} » déjà déclaré (n° {ids[svc.id] + 1})",
                f"municipal service '{svc.id}' already declared (no. {ids[svc.id] + 1})"), None))
        ids.setdefault(svc.id, i)
    found.extend(_user_checks(parts.utilisateurs, [*ids, *parts.service_ids]))
    if parts.services is not None:
        found.extend(_subdomain_checks(parts.services))
        if parts.serveur is not None:
            found.extend(_hosting_checks(parts.serveur, parts.services))
        if parts.commune is not None:
            found.extend(_matrix_checks(parts.services, parts.commune))
    return [f for f in found if not _touches(f[0], f[1], parts.dropped)]


def _touches(loc: Loc, message: str, dropped: list[Loc]) -> bool:
    """A finding at, above or below a dropped key, or naming one."""
    return any(loc[:len(d)] == d or d[:len(loc)] == loc or pretty_loc(d) in message
               for d in dropped)


def _matrix_checks(services: Services, commune: Commune) -> Found:
    """In domaine-vers-serveur, the domain points at this server: the website it redirects
    to must live elsewhere, or every visitor would loop."""
    matrix, domain = services.matrix, commune.domaine
    if not (matrix.actif and matrix.domaine_sur_serveur and matrix.site_web):
        return []
    if url_host(matrix.site_web) != domain:
        return []
    return [(("services", "matrix", "site_web"), tr(
        f"{matrix.site_web} est le domaine lui-même, qui pointera vers ce serveur : les "
        "visiteurs du site tourneraient en rond",
        f"{matrix.site_web} is the domain itself, which will point at this server: the "
        "website's visitors would loop"), tr(
        f"donnez l'adresse où le site reste (ex. : https://www.{domain}), ou choisissez "
        "identifiants: site-existant", f"give the address where the website stays (e.g. "
        f"https://www.{domain}), or choose identifiants: site-existant"))]


def _user_checks(users: list[tuple[int, Utilisateur]], service_ids: list[str]) -> Found:
    found: Found = []
    seen_users: set[str] = set()
    seen_emails: set[str] = set()
    for i, user in users:
        if user.identifiant in seen_users:
            found.append((("utilisateurs", i, "identifiant"), tr(
                f"identifiant « {user.identifiant} » déjà utilisé",
                f"identifier '{user.identifiant}' already used"), None))
        seen_users.add(user.identifiant)
        if user.email.lower() in seen_emails:
            found.append((("utilisateurs", i, "email"), tr(
                f"adresse « {user.email} » déjà utilisée par un autre agent",
                f"address '{user.email}' already used by another user"), None))
        seen_emails.add(user.email.lower())
        for j, sid in enumerate(user.services_municipaux):
            if sid in service_ids:
                continue
            guess = closest(sid, service_ids)
            found.append((("utilisateurs", i, "services_municipaux", j), tr(
                f"service municipal « {sid} » inconnu", f"unknown municipal service '{sid}'"),
                tr(f"vouliez-vous dire « {guess} » ?", f"did you mean '{guess}'?") if guess
                else tr("déclarez-le dans services_municipaux",
                        "declare it under services_municipaux")))
    return found


def _subdomain_checks(svc: Services) -> Found:
    used: list[tuple[Loc, str]] = []
    if svc.nextcloud.actif:
        used.append((("services", "nextcloud", "sous_domaine"), svc.nextcloud.sous_domaine))
        if svc.nextcloud.collabora:
            used.append((("services", "nextcloud", "sous_domaine_collabora"),
                         svc.nextcloud.sous_domaine_collabora))
    if svc.matrix.actif:
        used.append((("services", "matrix", "sous_domaine"), svc.matrix.sous_domaine))
        used.append((("services", "matrix", "element_sous_domaine"),
                     svc.matrix.element_sous_domaine))
    if svc.jitsi.actif:
        used.append((("services", "jitsi", "sous_domaine"), svc.jitsi.sous_domaine))
    if svc.matrix.actif or svc.jitsi.actif:
        used.append((("services", "turn", "sous_domaine"), svc.turn.sous_domaine))
    found: Found = []
    first: dict[str, Loc] = {}
    for path, label in used:
        if label in first:
            found.append((path, tr(
                f"sous-domaine « {label} » déjà pris par {pretty_loc(first[label])}",
                f"sub-domain '{label}' already taken by {pretty_loc(first[label])}"),
                tr("choisissez un sous-domaine différent pour chaque service",
                   "choose a different sub-domain for each service")))
        first.setdefault(label, path)
    if svc.nextcloud.collabora and not svc.nextcloud.actif:
        found.append((("services", "nextcloud", "collabora"), tr(
            "Collabora a besoin de Nextcloud, qui est désactivé",
            "Collabora needs Nextcloud, which is disabled"),
            tr("activez nextcloud ou mettez collabora: false",
               "enable nextcloud or set collabora: false")))
    if not (svc.nextcloud.actif or svc.matrix.actif or svc.jitsi.actif):
        found.append((("services",), tr("aucun service n'est actif",
                                        "no service is enabled"), None))
    return found


def _hosting_checks(srv: Serveur, services: Services) -> Found:
    found: Found = []
    if srv.pays not in EU_EEA and not srv.derogation_hors_ue:
        found.append((("serveur", "pays"), tr(
            f"le pays « {srv.pays} » n'est ni dans l'Union européenne ni dans l'EEE : les "
            "données de la commune doivent y rester",
            f"country '{srv.pays}' is neither in the European Union nor in the EEA: the "
            "commune's data must stay there"),
            tr("choisissez un hébergeur dans l'UE, ou écrivez le motif dans "
               "serveur.derogation_hors_ue", "choose an EU host, or write the reason in "
               "serveur.derogation_hors_ue")))
    needs_ip = services.jitsi.actif or services.matrix.actif
    if needs_ip and srv.adresse_publique is None:
        found.append((("serveur", "ip_publique"), tr(
            "adresse IP publique nécessaire pour la vidéo (Jitsi) et le relais TURN",
            "public IP address needed for video (Jitsi) and the TURN relay"),
            tr("indiquez serveur.ip_publique (ex. : 203.0.113.10)",
               "set serveur.ip_publique (e.g. 203.0.113.10)")))
    return found

