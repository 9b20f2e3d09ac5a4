"""Matrix delegation: where identifiers @agent:<name> find their server, and never by taking
over the town's website (services.matrix.identifiants).

- site-existant: the website at https://<domaine> stays where it is and serves two small
  files; ``check`` reads them there (never through this server) and says what to put in them;
- domaine-vers-serveur: <domaine> points at this server, which serves the files and sends
  every other page to the website; the preflight refuses it while the domain leads to a
  website answering elsewhere (pointing it here would take that website offline);
- sous-domaine: identifiers under Synapse's own name, which serves the files; nothing on the
  domain.

Pure: the documents come from the rendered bundle, what was seen is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kit_collab.bundle.model import Bundle
from kit_collab.check.findings import ERROR, OK, WARNING, Finding
from kit_collab.check.rules.dns import DnsAnswer, ServerAddresses
from kit_collab.check.rules.http import HttpObservation
from kit_collab.i18n import tr
from kit_collab.profile.model import DOMAINE_VERS_SERVEUR, SITE_EXISTANT, Profile

SERVICE = "matrix"
PREFIX = "/.well-known/matrix/"
CORS = "access-control-allow-origin"


@dataclass(frozen=True)
class Delegation:
    """The documents the commune's identifiers need, and where they are read."""

    mode: str
    host: str  # the name after ":" in identifiers: the files are served at its root
    client: dict[str, Any]
    server: dict[str, Any] | None  # None: federation closed, nothing may announce it

    @property
    def on_website(self) -> bool:
        """Served by the commune's existing website: read there, never through this server."""
        return self.mode == SITE_EXISTANT

    def url(self, name: str) -> str:
        return f"https://{self.host}{PREFIX}{name}"

    def documents(self) -> list[tuple[str, dict[str, Any] | None]]:
        """(name, expected JSON) that ``check`` reads itself: both on a website; on this
        server, the client document is a recipe check already (well-known-client)."""
        server = ("server", self.server)
        return [("client", self.client), server] if self.on_website else [server]


def delegation(profile: Profile, bundle: Bundle) -> Delegation | None:
    """None when Matrix is not installed."""
    matrix = profile.services.matrix
    if not matrix.actif or "matrix" not in dict(bundle.recipes):
        return None
    # Files the proxy serves ("served" in recipe.yaml) sit under the release's proxy/ folder.
    base = f"{bundle.release_dir}/proxy/matrix/well-known/"
    files = {f.path: f for f in bundle.files}
    client = json.loads(files[base + "client.json"].content)
    server_file = files.get(base + "server.json")
    server = json.loads(server_file.content) if server_file is not None else None
    return Delegation(matrix.identifiants, profile.matrix_server_name, client, server)


def _one_line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)


def webmaster_text(d: Delegation) -> list[str]:
    """What the website's manager does, step by step (site-existant)."""
    lines = [tr(f"Le site web https://{d.host} doit servir ces fichiers (5 minutes pour son "
                "webmestre ; le site ne change pas par ailleurs) :",
                f"The website https://{d.host} must serve these files (5 minutes for its "
                "webmaster; nothing else on the site changes):")]
    for name, document in (("client", d.client), ("server", d.server)):
        if document is None:
            continue
        lines += [f"  {d.url(name)}", tr(f"    contenu exact : {_one_line(document)}",
                                         f"    exact content: {_one_line(document)}")]
    lines += [tr("  Servis en HTTPS, statut 200, type application/json, avec l'en-tête "
                 "« Access-Control-Allow-Origin: * ».",
                 "  Served over HTTPS, status 200, type application/json, with the header "
                 "'Access-Control-Allow-Origin: *'."),
              tr("  Apache (.htaccess du dossier .well-known/matrix) : Header set "
                 "Access-Control-Allow-Origin \"*\" et ForceType application/json ; nginx : "
                 "location /.well-known/matrix/ { default_type application/json; add_header "
                 "Access-Control-Allow-Origin *; }",
                 "  Apache (.htaccess in .well-known/matrix): Header set "
                 "Access-Control-Allow-Origin \"*\" and ForceType application/json; nginx: "
                 "location /.well-known/matrix/ { default_type application/json; add_header "
                 "Access-Control-Allow-Origin *; }"),
              tr("  Vérifiez ensuite avec : kit-collab check <profil>",
                 "  Then check with: kit-collab check <profile>")]
    if d.server is None:
        lines.append(tr(f"  Fédération fermée : ne publiez pas {d.url('server')}.",
                        f"  Federation closed: do not publish {d.url('server')}."))
    return lines


def _json(obs: HttpObservation) -> dict[str, Any] | None:
    try:
        value = json.loads(obs.body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _fix(d: Delegation, name: str, document: dict[str, Any]) -> str:
    if d.on_website:
        return tr(f"demandez au webmestre du site de publier {d.url(name)} avec exactement : "
                  f"{_one_line(document)} (type application/json, en-tête "
                  "Access-Control-Allow-Origin: *) ; les instructions pour lui sont sous ce "
                  "tableau (kit-collab check)",
                  f"ask the website's webmaster to publish {d.url(name)} with exactly: "
                  f"{_one_line(document)} (type application/json, header "
                  "Access-Control-Allow-Origin: *); the instructions for them are under this "
                  "table (kit-collab check)")
    return tr("le fichier servi n'est pas celui rendu pour la commune : relancez kit-collab "
              "install", "the file served is not the one rendered for the commune: run "
              "kit-collab install again")


def _consequence(name: str) -> tuple[str, str]:
    if name == "server":
        return ("la fédération échouera", "federation will fail")
    return ("les applications Matrix ne trouvent pas le serveur de la commune",
            "Matrix apps cannot find the commune's server")


def document_finding(d: Delegation, name: str, expected: dict[str, Any] | None,
                     obs: HttpObservation) -> Finding:
    check, url = f"delegation {name}", d.url(name)
    where = tr("sur le site web de la commune", "on the commune's website") if d.on_website \
        else tr("sur ce serveur", "on this server")
    if expected is None:
        announced = obs.status == 200 and (_json(obs) or {}).get("m.server")
        if announced:
            return Finding(WARNING, SERVICE, check, tr(
                f"{url} annonce « {announced} » alors que la fédération est fermée : les "
                "autres serveurs essaieront en vain", f"{url} announces '{announced}' while "
                "federation is closed: other servers will try in vain"), tr(
                f"retirez ce fichier ({where})", f"remove this file ({where})"))
        return Finding(OK, SERVICE, check, tr(
            f"{url} ne délègue pas la fédération (fermée)",
            f"{url} does not delegate federation (closed)"))
    if obs.error or obs.status is None:
        return Finding(ERROR, SERVICE, check, tr(
            f"pas de réponse de {url} ({where}) : {obs.error}",
            f"no answer from {url} ({where}): {obs.error}"), _fix(d, name, expected))
    got = _json(obs) if obs.status == 200 else None
    if got is None or any(got.get(k) != v for k, v in expected.items()):
        shown = _one_line(got) if got is not None else tr(f"statut {obs.status}",
                                                         f"status {obs.status}")
        return Finding(ERROR, SERVICE, check, tr(
            f"{url} ({where}) répond {shown[:200]} au lieu de {_one_line(expected)} : "
            + _consequence(name)[0], f"{url} ({where}) answers {shown[:200]} instead of "
            f"{_one_line(expected)}: " + _consequence(name)[1]), _fix(d, name, expected))
    if name == "client" and obs.headers.get(CORS, "").strip() != "*":
        return Finding(WARNING, SERVICE, check, tr(
            f"{url} est juste mais sans l'en-tête Access-Control-Allow-Origin: * : Element "
            "dans un navigateur ne pourra pas le lire", f"{url} is right but lacks the header "
            "Access-Control-Allow-Origin: *: Element in a browser cannot read it"),
            _fix(d, name, expected))
    return Finding(OK, SERVICE, check, tr(f"{url} mène au serveur de la commune ({where})",
                                          f"{url} leads to the commune's server ({where})"))


def delegation_findings(d: Delegation, seen: Mapping[str, HttpObservation]) -> list[Finding]:
    """One finding per document ``check`` reads (``seen``: name -> what was answered)."""
    return [document_finding(d, name, expected, seen[name])
            for name, expected in d.documents() if name in seen]


# ---------------------------------------------------------------------------------------------
# Preflight: never point a domain that holds a live website at this server


def points_elsewhere(domain: DnsAnswer, server: ServerAddresses) -> list[str]:
    """The domain's addresses that are not this server's (all of them when the server's
    address is unknown)."""
    ours = {*server.v4, *server.v6}
    return [ip for ip in (*domain.a, *domain.aaaa) if ip not in ours]


def website_guard(profile: Profile, domain: DnsAnswer, server: ServerAddresses,
                  site: str | None) -> list[Finding]:
    """domaine-vers-serveur while the domain leads elsewhere and a website answers there:
    pointing the domain here would take that website offline. ``site``: what answers on
    https://<domaine>/ where the DNS leads, in a few words (None: nothing answers)."""
    matrix = profile.services.matrix
    if not matrix.actif or matrix.identifiants != DOMAINE_VERS_SERVEUR:
        return []
    elsewhere = points_elsewhere(domain, server)
    if not elsewhere or site is None:
        return []
    host = domain.host
    # Without the server's own address, "elsewhere" may be this very server: say it softly.
    return [Finding(ERROR if server.known else WARNING, SERVICE, "site web", tr(
        f"un site web répond sur https://{host} ({', '.join(elsewhere)}, {site}) : "
        f"identifiants « domaine-vers-serveur » demanderait de pointer {host} vers ce "
        "serveur, et ce site serait hors ligne",
        f"a website answers on https://{host} ({', '.join(elsewhere)}, {site}): identifiants "
        f"'domaine-vers-serveur' would require pointing {host} at this server, taking that "
        "website offline"), tr(
        "gardez le site : services.matrix.identifiants: site-existant (le webmestre publie "
        "deux petits fichiers) ou sous-domaine ; à décider avant la première installation, "
        "les identifiants ne changent plus ensuite",
        "keep the website: services.matrix.identifiants: site-existant (the webmaster "
        "publishes two small files) or sous-domaine; decide before the first install, "
        "identifiers never change afterwards"))]
