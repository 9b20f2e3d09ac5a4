"""Matrix never takes the website (issue 14, item 8): how identifiers find their server,
chosen in the profile (services.matrix.identifiants), rendered, checked and guarded.

- site-existant: @agent:<domaine>; nothing served on the domain here; ``check`` reads the two
  files on the real website (a separate Caddy with its own authority, on loopback).
- domaine-vers-serveur: @agent:<domaine>; the domain's site here serves the files and
  redirects everything else to the website; the preflight refuses it while a website
  answers on the domain elsewhere.
- sous-domaine: @agent:matrix.<domaine>; the files served by Synapse's own name.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.check.findings import ERROR, OK, WARNING
from kit_collab.profile.model import Profile

from .conftest import RUN_HOST, base_profile, require_tool
from .validators import caddy_adapt, caddy_validate, render_to

DOMAIN = "saint-essai.fr"
SYNAPSE = f"matrix.{DOMAIN}"
MODES = ("site-existant", "domaine-vers-serveur", "sous-domaine")


def _profile(mode: str, *, site_web: str | None = None, federation: bool = False
             ) -> dict[str, Any]:
    data = base_profile()
    matrix: dict[str, Any] = {"actif": True, "federation": federation, "identifiants": mode}
    if site_web:
        matrix["site_web"] = site_web
    data["services"] = {"nextcloud": {"actif": False}, "jitsi": {"actif": False},
                        "matrix": matrix}
    return data


def _render(tmp: Path, data: dict[str, Any]) -> tuple[Any, Path]:
    out = tmp / "out"
    return render_to(data, out), out


def _sites(adapted: dict[str, Any]) -> set[str]:
    hosts: set[str] = set()
    for server in adapted["apps"]["http"]["servers"].values():
        for route in server.get("routes", []):
            for match in route.get("match", []):
                hosts.update(match.get("host", []))
    return hosts


# ---------------------------------------------------------------------------------------------
# The profile


def test_default_mode_keeps_the_website_and_the_domain_identifiers() -> None:
    profile = Profile.model_validate(base_profile())
    assert profile.services.matrix.identifiants == "site-existant"
    assert profile.matrix_server_name == DOMAIN


def test_sub_domain_mode_puts_identifiers_under_synapse_name() -> None:
    profile = Profile.model_validate(_profile("sous-domaine"))
    assert profile.matrix_server_name == SYNAPSE


def test_bad_mode_exits_2_naming_field_and_line(cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(_profile("vers-le-site"))
    result = cli("validate", str(path))
    assert result.code == 2
    assert "services.matrix.identifiants" in result.text
    line = next(i for i, text in enumerate(path.read_text("utf-8").splitlines(), 1)
                if "vers-le-site" in text)
    assert f":{line}" in result.text
    assert "site-existant" in result.text  # the values allowed


def test_redirect_to_the_domain_itself_is_refused_with_its_line(cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(_profile("domaine-vers-serveur", site_web=f"https://{DOMAIN}/"))
    result = cli("validate", str(path))
    assert result.code == 2
    assert "services.matrix.site_web" in result.text and "www." in result.text
    line = next(i for i, text in enumerate(path.read_text("utf-8").splitlines(), 1)
                if "site_web" in text)
    assert f":{line}" in result.text


def test_bad_website_address_exits_2(cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(_profile("domaine-vers-serveur", site_web="www.saint-essai.fr"))
    result = cli("validate", str(path))
    assert result.code == 2 and "services.matrix.site_web" in result.text


# ---------------------------------------------------------------------------------------------
# Rendered per mode, read back by the real Caddy and Synapse's own config loader


@pytest.mark.validators
@pytest.mark.parametrize("mode", MODES)
def test_caddyfile_per_mode_passes_caddy_validate(tmp_path: Path, mode: str) -> None:
    site = "https://www.saint-essai.fr" if mode == "domaine-vers-serveur" else None
    bundle, out = _render(tmp_path, _profile(mode, site_web=site, federation=True))
    result = caddy_validate(out)
    assert result.returncode == 0, result.stderr
    hosts = _sites(caddy_adapt(out))
    assert SYNAPSE in hosts
    # The town's website is never taken, unless the domain is pointed here on purpose.
    assert (DOMAIN in hosts) == (mode == "domaine-vers-serveur")
    checks = {(c.host, c.path) for c in bundle.checks if c.recipe == "matrix"}
    assert any(h == DOMAIN for h, _ in checks) == (mode == "domaine-vers-serveur")


@pytest.mark.validators
def test_domain_mode_redirects_everything_else_to_the_website(tmp_path: Path) -> None:
    _bundle, out = _render(tmp_path, _profile("domaine-vers-serveur",
                                              site_web="https://www.saint-essai.fr/"))
    text = json.dumps(caddy_adapt(out))
    assert '"https://www.saint-essai.fr{http.request.uri}"' in text
    assert '"/.well-known/matrix/*"' in text


@pytest.mark.validators
@pytest.mark.parametrize(("mode", "server_name"), [
    ("site-existant", DOMAIN), ("domaine-vers-serveur", DOMAIN), ("sous-domaine", SYNAPSE)])
def test_synapse_server_name_per_mode(tmp_path: Path, mode: str, server_name: str) -> None:
    from synapse.config.homeserver import HomeServerConfig

    bundle, out = _render(tmp_path, _profile(mode))
    release = out / bundle.release_dir / "matrix"
    config = yaml.safe_load((release / "homeserver.yaml").read_text("utf-8"))
    config.update(signing_key_path=str(release / "signing.key"),
                  log_config=str(release / "log.config"),
                  media_store_path=str(tmp_path / "media"),
                  pid_file=str(tmp_path / "homeserver.pid"))
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    parsed = HomeServerConfig.load_config("kit-collab", ["-c", str(path)])
    assert parsed.server.server_name == server_name
    element = json.loads((release / "config.json").read_text("utf-8"))
    assert element["default_server_config"]["m.homeserver"]["server_name"] == server_name
    # Served by the proxy ("served" in recipe.yaml): under the release's proxy/ folder.
    client = json.loads((release.parent / "proxy" / "matrix" / "well-known" / "client.json")
                        .read_text("utf-8"))
    assert client == {"m.homeserver": {"base_url": f"https://{SYNAPSE}"}}


# ---------------------------------------------------------------------------------------------
# A separate "website": the real Caddy with its own internal authority, on this run's loopback
# address, serving the files its webmaster published (the files are the test's input).


@contextlib.contextmanager
def website(tmp: Path, files: dict[str, str], *, cors: bool = True) -> Iterator[tuple[int, Path]]:
    """Yields (HTTPS port, the website's root certificate)."""
    from . import checkbed

    caddy = require_tool("caddy")
    root = tmp / "www"
    for name, text in files.items():
        path = root / ".well-known" / "matrix" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<title>Mairie de Saint-Essai</title>", encoding="utf-8")
    http_port, https_port = (checkbed.free_port(host=RUN_HOST) for _ in range(2))
    headers = ("\theader /.well-known/matrix/* Access-Control-Allow-Origin \"*\"\n"
               if cors else "")
    caddyfile = tmp / "Caddyfile"
    caddyfile.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n\tdefault_bind {RUN_HOST}\n}}\n"
        f"{DOMAIN} {{\n{headers}"
        "\theader /.well-known/matrix/* Content-Type application/json\n"
        f"\troot * {root}\n\tfile_server\n}}\n", encoding="utf-8")
    env = checkbed.clean_env(tmp)
    proc = checkbed.Proc("website caddy", [caddy, "run", "--config", str(caddyfile),
                                           "--adapter", "caddyfile"],
                         tmp / "website.log", env, tmp).start()
    ca = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        checkbed.wait_for(lambda: checkbed._caddy_serves(ca, https_port, DOMAIN), proc,
                          "website", 30)
        yield https_port, ca
    finally:
        proc.stop()


def _webmaster_files(bundle: Any, out: Path) -> dict[str, str]:
    folder = out / bundle.release_dir / "proxy" / "matrix" / "well-known"
    return {p.stem: p.read_text("utf-8") for p in folder.glob("*.json")}


def _check_report(profile_path: Path, resolve: list[str], ca: Path, capsys: Any,
                  as_json: bool = True) -> tuple[int, Any]:
    from kit_collab.cli.commands import check

    code = check.run(profile_path, as_json=as_json, resolve=resolve, ca_cert=ca,
                     accept_host_key=None, server=False, deadline=1, dns_server=None)
    text = capsys.readouterr().out
    return code, (json.loads(text)["communes"][0]["rapport"] if as_json else text)


@pytest.fixture
def dns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DNS at all for the preflight (this machine has none for the commune's names): the
    findings looked at here are the delegation's."""
    from kit_collab.check.probes import dns as dnscheck
    from kit_collab.check.rules import DnsAnswer

    monkeypatch.setattr(dnscheck, "lookup_all", lambda hosts, _r: {
        h: DnsAnswer(h, error="nxdomain") for h in hosts})


def _delegation(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["controle"]: c for c in report["constats"]
            if c["controle"].startswith("delegation ")}


@pytest.mark.validators
def test_check_reads_the_files_on_the_existing_website_mismatch_then_match(
        tmp_path: Path, write_profile: Any, capsys: Any, dns_none: None) -> None:
    data = _profile("site-existant", federation=True)
    # The server on loopback: the preflight's port probes are refused at once.
    data["serveur"].update(racine=str(tmp_path / "racine"), hote="127.0.0.1")
    bundle, out = _render(tmp_path / "render", data)
    expected = _webmaster_files(bundle, out)
    assert set(expected) == {"client", "server"}
    profile_path = write_profile(data)
    # The "*" entry is this server's names (nothing listens there): never used for the
    # website, which is reached only through the entry naming the domain.
    wrong = {"client": '{"m.homeserver": {"base_url": "https://matrix.example.org"}}',
             "server": expected["server"]}
    with website(tmp_path / "site-wrong", wrong) as (port, ca):
        resolve = ["*:1:127.0.0.1", f"{DOMAIN}:{port}:{RUN_HOST}"]
        code, report = _check_report(profile_path, resolve, ca, capsys)
        found = _delegation(report)
        assert code == 1
        client = found["delegation client"]
        assert client["niveau"] == "erreur"
        assert "https://matrix.example.org" in client["message"]
        assert "sur le site web de la commune" in client["message"]
        # The fix gives the webmaster the exact content to publish.
        assert json.dumps(json.loads(expected["client"]), ensure_ascii=False) in \
            client["correction"]
        assert found["delegation server"]["niveau"] == "ok"
        assert any(expected["client"].strip() in line or "contenu exact" in line
                   for line in report["delegation_matrix"])
        code, text = _check_report(profile_path, resolve, ca, capsys, as_json=False)
        assert "https://saint-essai.fr/.well-known/matrix/client" in text
        assert "Access-Control-Allow-Origin: *" in text
    with website(tmp_path / "site-right", expected) as (port, ca):
        resolve = ["*:1:127.0.0.1", f"{DOMAIN}:{port}:{RUN_HOST}"]
        _code, report = _check_report(profile_path, resolve, ca, capsys)
        found = _delegation(report)
        assert {k: v["niveau"] for k, v in found.items()} == {
            "delegation client": "ok", "delegation server": "ok"}, found
    # The website is never asked through this server: no --resolve entry for the domain,
    # "*" alone, and nothing is read from 127.0.0.1:1.
    _code, report = _check_report(profile_path, ["*:1:127.0.0.1"], ca, capsys)
    client = _delegation(report)["delegation client"]
    assert client["niveau"] == "erreur" and "127.0.0.1" not in client["message"]


@pytest.mark.validators
def test_existing_website_without_cors_is_a_warning(tmp_path: Path) -> None:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.probes.health import ssl_context
    from kit_collab.check.rules import delegation as rules
    from kit_collab.check.rules.names import Endpoint
    from kit_collab.recipes.load import load_recipes

    profile = Profile.model_validate(_profile("site-existant"))
    bundle = make_bundle(profile, load_recipes(), draw=SYSTEM).bundle
    d = rules.delegation(profile, bundle)
    assert d is not None and d.on_website
    client = bundle.file(f"{bundle.release_dir}/proxy/matrix/well-known/client.json").content
    with website(tmp_path, {"client": client.decode()}, cors=False) as (port, ca):
        seen = probe.read_documents(d, resolve={DOMAIN: Endpoint(RUN_HOST, port)},
                                    ctx=ssl_context(ca))
    found = {f.check: f for f in rules.delegation_findings(d, seen)}
    assert found["delegation client"].level == WARNING
    assert "Access-Control-Allow-Origin" in found["delegation client"].message
    # Federation closed: the website publishes no server file, which is right.
    assert found["delegation server"].level == OK


@pytest.mark.validators
def test_preflight_refuses_pointing_a_domain_whose_website_answers_elsewhere(
        tmp_path: Path) -> None:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.operations import diagnose
    from kit_collab.recipes.load import load_recipes

    from . import checkbed

    data = _profile("domaine-vers-serveur", site_web="https://www.saint-essai.fr")
    data["serveur"]["hote"] = "127.0.0.1"  # this server; the website is elsewhere (RUN_HOST)
    assert RUN_HOST != "127.0.0.1"
    profile = Profile.model_validate(data)
    bundle = make_bundle(profile, load_recipes(), draw=SYSTEM).bundle
    with website(tmp_path / "site", {}) as (port, _ca), \
            checkbed.dnsmasq(tmp_path / "dns", {DOMAIN: [RUN_HOST]}, zone=DOMAIN) as dns:
        findings = diagnose.preflight(profile, bundle, None, dns_server=dns,
                                      resolve=[f"{DOMAIN}:{port}:{RUN_HOST}"], timeout=2)
    guard = [f for f in findings if f.check == "site web"]
    assert [f.level for f in guard] == [ERROR]
    assert f"un site web répond sur https://{DOMAIN} ({RUN_HOST}" in guard[0].message
    assert "serait hors ligne" in guard[0].message
    assert "site-existant" in guard[0].fix
    # The same website in the other modes: nothing is pointed, nothing refused.
    for mode in ("site-existant", "sous-domaine"):
        other = Profile.model_validate({**data, "services": {
            **data["services"], "matrix": {"actif": True, "identifiants": mode}}})
        assert not [f for f in diagnose.preflight(other, bundle, None, dns_server=dns,
                                                  timeout=2) if f.check == "site web"]


@pytest.mark.validators
def test_domain_mode_serves_the_files_and_redirects_the_rest_through_real_caddy(
        tmp_path: Path) -> None:
    from kit_collab.check import rules as dg
    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.probes import health
    from kit_collab.check.rules import delegation as rules
    from kit_collab.check.rules.names import Endpoint

    from . import checkbed

    caddy = require_tool("caddy")
    out = tmp_path / "out"
    data = _profile("domaine-vers-serveur", site_web="https://www.saint-essai.fr")
    data["serveur"].update(hote="127.0.0.1", racine=str(out), certificats={"mode": "interne"})
    bundle = render_to(data, out)
    http_port, https_port = (checkbed.free_port(host=RUN_HOST) for _ in range(2))
    checkbed._adapt_caddy(out, bundle, http_port, https_port,
                          {"matrix-synapse": 1, "matrix-element": 1})
    proc = checkbed.Proc("caddy", [caddy, "run", "--config", str(out / "proxy" / "Caddyfile"),
                                   "--adapter", "caddyfile"], tmp_path / "caddy.log",
                         checkbed.clean_env(tmp_path), out / "proxy").start()
    ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        checkbed.wait_for(lambda: checkbed._caddy_serves(ca, https_port, DOMAIN), proc,
                          "caddy", 30)
        target = Endpoint(RUN_HOST, https_port)
        ctx = health.ssl_context(ca)
        redirect = next(c for c in bundle.checks if c.name == "site-web-redirige")
        with health.http_client(ctx) as client:
            seen = health.observe(client, redirect, target)
        assert seen.status == 302
        assert seen.headers["location"] == "https://www.saint-essai.fr/"
        assert dg.check_finding(redirect, seen, bundle).level == OK
        with health.http_client(ctx) as client:
            deep = health.observe(client, dg_check(redirect, "/actualites/conseil?x=1"), target)
        assert deep.headers["location"] == "https://www.saint-essai.fr/actualites/conseil?x=1"
        well_known = next(c for c in bundle.checks if c.name == "well-known-client")
        assert well_known.host == DOMAIN
        with health.http_client(ctx) as client:
            seen = health.observe(client, well_known, target)
        assert dg.check_finding(well_known, seen, bundle).level == OK
        profile = Profile.model_validate(data)
        d = rules.delegation(profile, bundle)
        assert d is not None and not d.on_website
        found = rules.delegation_findings(d, probe.read_documents(
            d, resolve={"*": target}, ctx=ctx, deadline=5))
        assert [(f.check, f.level) for f in found] == [("delegation server", OK)]
    finally:
        proc.stop()


def dg_check(check: Any, path: str) -> Any:
    from dataclasses import replace

    return replace(check, path=path)


# ---------------------------------------------------------------------------------------------
# init asks in plain words; identifiers never change after the first install


class _Answers:
    def __init__(self, replies: dict[str, str]) -> None:
        self.replies, self.asked, self.told = replies, [], []

    def ask(self, text: str, default: str | None) -> str:
        self.asked.append(text)
        reply = next((r for start, r in self.replies.items() if start in text), "")
        return reply or (default or "")

    def confirm(self, text: str, default: bool) -> bool:
        return False

    def tell(self, text: str, *, error: bool = False, heading: bool = False) -> None:
        self.told.append(text)


_BASE_REPLIES = {"Nom de la commune": "Saint-Essai", "Domaine de la commune": DOMAIN,
                 "Adresse du serveur": "203.0.113.10", "Hébergeur": "ovhcloud"}


@pytest.mark.parametrize(("site", "webmaster", "mode"), [
    ("oui", "oui", "site-existant"), ("oui", "non", "sous-domaine"),
    ("non", "", "domaine-vers-serveur")])
def test_init_asks_about_the_website_in_plain_words(site: str, webmaster: str,
                                                    mode: str) -> None:
    from kit_collab.profile import wizard

    dialog = _Answers({**_BASE_REPLIES, "déjà un site web": site,
                       "deux petits fichiers": webmaster})
    answers = wizard.collect(dialog)
    assert f"Votre commune a-t-elle déjà un site web à l'adresse {DOMAIN} ? (oui/non)" in \
        dialog.asked
    profile = wizard.check_text(wizard.profile_text(answers, None), "commune.yaml")
    assert profile.services.matrix.identifiants == mode
    assert profile.matrix_server_name == (SYNAPSE if mode == "sous-domaine" else DOMAIN)
    assert any("définitif" in t for t in dialog.told) == (site == "oui")


def _state(**kw: Any) -> Any:
    from kit_collab.plan.state import State

    return State(release="r-1", hosts={"base": {"domaine": DOMAIN}, "matrix": {}}, **kw)


def test_identifiers_never_change_after_the_first_install() -> None:
    from kit_collab.errors import ProfileError
    from kit_collab.plan import identity
    from kit_collab.plan.state import State, from_json

    sub = Profile.model_validate(_profile("sous-domaine"))
    site = Profile.model_validate(_profile("site-existant"))
    # Installed before the name was recorded: Matrix's identifiers were the domain's.
    with pytest.raises(ProfileError) as caught:
        identity.check_matrix_identity(sub, _state())
    assert caught.value.exit_code == 2
    assert f"@agent:{DOMAIN}" in caught.value.message and f"@agent:{SYNAPSE}" in \
        caught.value.message
    identity.check_matrix_identity(site, _state())  # same identifiers, another way: fine
    identity.check_matrix_identity(
        Profile.model_validate(_profile("domaine-vers-serveur")), _state())
    recorded = _state(matrix_server_name=SYNAPSE)
    with pytest.raises(ProfileError):
        identity.check_matrix_identity(site, recorded)
    identity.check_matrix_identity(sub, recorded)
    # Recorded at the commit and read back from state.json.
    assert from_json(recorded.as_json()).matrix_server_name == SYNAPSE
    # Said before the first install only.
    assert "ne pourront plus changer" in identity.first_install_note(sub, State())
    assert f"@agent:{SYNAPSE}" in identity.first_install_note(sub, State())
    assert identity.first_install_note(sub, recorded) == ""


def test_domain_site_has_no_backend_and_sub_domain_mode_serves_nothing_on_the_domain(
        ) -> None:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.fleet import inventory
    from kit_collab.recipes.load import load_recipes

    recipes = load_recipes()
    for mode in MODES:
        profile = Profile.model_validate(_profile(mode, site_web="https://www.saint-essai.fr"))
        bundle = make_bundle(profile, recipes, draw=SYSTEM).bundle
        sites = {a: s for s in bundle.sites for a in s.addresses}
        claimed = {name for name, _path in inventory.hostnames(profile, recipes)}
        assert claimed == set(sites)  # the fleet compares what the proxy serves
        if mode == "domaine-vers-serveur":
            assert sites[DOMAIN].recipe == "matrix" and sites[DOMAIN].backends == ()
        else:
            assert DOMAIN not in sites
