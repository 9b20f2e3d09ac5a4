"""The HTTP checks the recipes declare, with deeper rules for some documents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kit_collab import constants
from kit_collab.apply.scripts import remote
from kit_collab.bundle.render import Bundle, Check
from kit_collab.check.findings import ERROR, OK, WARNING, Finding, Verdict
from kit_collab.check.rules.hostnames import backends
from kit_collab.check.rules.tls import _proxy_logs_fix
from kit_collab.i18n import tr


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


def _check_rule(check: Check, obs: HttpObservation, ctx: _Ctx) -> Verdict:
    label = tr(f"{check.url} (contrôle « {check.name} »)", f"{check.url} (check '{check.name}')")
    if obs.error or obs.status is None:
        return ERROR, tr(f"pas de réponse de {label} : {obs.error}",
                         f"no answer from {label}: {obs.error}"), tr(
            "vérifiez que le proxy tourne (kit-collab status) ; " + _proxy_logs_fix(),
            "check that the proxy runs (kit-collab status); " + _proxy_logs_fix())
    if obs.status != check.status:
        return _status_rule(check, obs, ctx, label)
    header = _header_rule(check, obs, label)
    if header:
        return header
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


def _status_rule(check: Check, obs: HttpObservation, ctx: _Ctx, label: str) -> Verdict:
    """Another status than the recipe declares: the service behind is down (a gateway
    error from the proxy), or the configuration in place is not the recipe's."""
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


def _header_rule(check: Check, obs: HttpObservation, label: str) -> Verdict | None:
    """The first declared header missing or different (HSTS only warns)."""
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
    return None


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
               label: str) -> Verdict:
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
                    ctx: _Ctx) -> Verdict | None:
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
                       ctx: _Ctx) -> Verdict | None:
    wanted = f"https://{ctx.bundle.hosts['matrix']['synapse']}"
    got = ((_json_of(obs).get("m.homeserver") or {}).get("base_url") or "").rstrip("/")
    if got != wanted:
        return ERROR, tr(f"{check.url} annonce « {got} » au lieu de {wanted} : les applications "
                         "Matrix ne trouvent pas le serveur",
                         f"{check.url} announces '{got}' instead of {wanted}: Matrix apps "
                         "cannot find the server"), _redeploy()
    return OK, tr(f"{check.url} mène à {wanted} (CORS ouvert)",
                  f"{check.url} leads to {wanted} (CORS open)"), ""


_DEEP = {
    ("matrix", "element"): _element_config,
    ("matrix", "well-known-client"): _well_known_client,
}
