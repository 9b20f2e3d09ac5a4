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
    client = json.loads((release / "well-known" / "client.json").read_text("utf-8"))
    assert client == {"m.homeserver": {"base_url": f"https://{SYNAPSE}"}}
