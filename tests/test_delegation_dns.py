"""Matrix delegation on a website kept where it is (site-existant), seen through the DNS
server given to `check --dns`: the website is read where that DNS leads (as the DNS checks
read it), never through this server; and `check` never asks to point the commune's domain at
the server unless the profile chose it (issue 14, item 8).

Real here: Caddy as the town's website (its own internal authority) on this run's loopback
address and port 443, dnsmasq as the registrar's DNS, kit-collab's probes and rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit_collab.check.findings import ERROR, OK
from kit_collab.profile.model import Profile

from . import checkbed
from .conftest import RUN_HOST, base_profile, require_tool

pytestmark = pytest.mark.validators

DOMAIN = "saint-essai.fr"


def _profile(mode: str) -> Profile:
    data = base_profile()
    matrix: dict[str, Any] = {"actif": True, "federation": True, "identifiants": mode}
    if mode == "domaine-vers-serveur":
        matrix["site_web"] = f"https://www.{DOMAIN}"
    data["services"] = {"nextcloud": {"actif": False}, "jitsi": {"actif": False},
                        "matrix": matrix}
    data["serveur"]["hote"] = "127.0.0.1"  # this server: its port probes are refused at once
    return Profile.model_validate(data)


def _delegation(profile: Profile) -> Any:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.check.rules import delegation as rules
    from kit_collab.recipes.load import load_recipes

    bundle = make_bundle(profile, load_recipes(), draw=SYSTEM).bundle
    return bundle, rules.delegation(profile, bundle)


@contextlib.contextmanager
def website_on_443(tmp: Path, files: dict[str, str]) -> Iterator[Path]:
    """The town's website on RUN_HOST:443 (this run's own address): yields its root CA."""
    caddy = require_tool("caddy")
    root = tmp / "www"
    for name, text in files.items():
        path = root / ".well-known" / "matrix" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    caddyfile = tmp / "Caddyfile"
    caddyfile.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n"
        f"\thttp_port {checkbed.free_port(host=RUN_HOST)}\n\thttps_port 443\n"
        f"\tdefault_bind {RUN_HOST}\n}}\n"
        f"{DOMAIN} {{\n\theader /.well-known/matrix/* Access-Control-Allow-Origin \"*\"\n"
        "\theader /.well-known/matrix/* Content-Type application/json\n"
        f"\troot * {root}\n\tfile_server\n}}\n", encoding="utf-8")
    proc = checkbed.Proc("website caddy", [caddy, "run", "--config", str(caddyfile),
                                           "--adapter", "caddyfile"],
                         tmp / "website.log", checkbed.clean_env(tmp), tmp).start()
    ca = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        checkbed.wait_for(lambda: checkbed._caddy_serves(ca, 443, DOMAIN), proc, "website", 30)
        yield ca
    finally:
        proc.stop()


def test_existing_website_is_read_where_the_dns_given_to_check_leads(tmp_path: Path) -> None:
    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.probes.dns import make_resolver
    from kit_collab.check.probes.health import ssl_context
    from kit_collab.check.rules import delegation as rules
    from kit_collab.check.rules.names import Endpoint

    bundle, d = _delegation(_profile("site-existant"))
    assert d is not None and d.on_website
    base = f"{bundle.release_dir}/proxy/matrix/well-known/"
    files = {n: bundle.file(base + f"{n}.json").content.decode() for n in ("client", "server")}
    # "*" is this server's names (nothing listens at 127.0.0.1:1): never used for the website.
    nowhere = {"*": Endpoint("127.0.0.1", 1)}
    with website_on_443(tmp_path / "site", files) as ca, \
            checkbed.dnsmasq(tmp_path / "dns", {DOMAIN: [RUN_HOST]}, zone=DOMAIN) as dns:
        seen = probe.read_documents(d, resolve=nowhere, ctx=ssl_context(ca),
                                    resolver=make_resolver(dns, timeout=2))
    found = {f.check: f for f in rules.delegation_findings(d, seen)}
    assert {k: f.level for k, f in found.items()} == {"delegation client": OK,
                                                      "delegation server": OK}, found
    assert "sur le site web de la commune" in found["delegation client"].message


def test_website_name_missing_from_the_dns_given_is_said_and_read_nowhere_else(
        tmp_path: Path) -> None:
    from kit_collab.check.probes import delegation as probe
    from kit_collab.check.probes.dns import make_resolver
    from kit_collab.check.probes.health import ssl_context
    from kit_collab.check.rules import delegation as rules
    from kit_collab.check.rules.names import Endpoint

    _bundle, d = _delegation(_profile("site-existant"))
    with checkbed.dnsmasq(tmp_path / "dns", {f"matrix.{DOMAIN}": ["127.0.0.1"]},
                          zone=DOMAIN) as dns:
        seen = probe.read_documents(d, resolve={"*": Endpoint("127.0.0.1", 1)},
                                    ctx=ssl_context(), resolver=make_resolver(dns, timeout=2))
    found = rules.delegation_findings(d, seen)
    assert [f.level for f in found] == [ERROR, ERROR]
    assert all(f"{DOMAIN} n'a pas d'adresse dans le DNS (aucun enregistrement A ni AAAA)"
               in f.message
               for f in found), found
    assert all("webmestre" in f.fix for f in found)


@pytest.mark.parametrize(("mode", "asked"), [
    ("site-existant", False), ("sous-domaine", False), ("domaine-vers-serveur", True)])
def test_check_asks_to_point_the_domain_at_the_server_only_when_chosen(
        tmp_path: Path, mode: str, asked: bool) -> None:
    """Issue 14, item 8: `check` told the secretary to point the domain's A record at the
    new server, which takes the town's website offline. The domain leads to its website
    elsewhere; only domaine-vers-serveur may ask for the record (and then refuses while
    that website answers, see test_matrix_modes)."""
    from kit_collab.operations import diagnose

    profile = _profile(mode)
    bundle, _d = _delegation(profile)
    names = {f"{p}.{DOMAIN}": ["127.0.0.1"] for p in ("matrix", "discussion", "turn")}
    with checkbed.dnsmasq(tmp_path / "dns", {**names, DOMAIN: ["192.0.2.80"]},
                          zone=DOMAIN) as dns:
        findings, records = diagnose.preflight_and_records(profile, bundle, None,
                                                           dns_server=dns, timeout=1)
    about_domain = [f for f in findings if f.check == f"dns {DOMAIN}"]
    bare = [r.zone_line() for r in records if r.zone_line().startswith(f"{DOMAIN}.")]
    assert bool(bare) == asked, (bare, [r.zone_line() for r in records])
    assert bool(about_domain) == asked, about_domain
