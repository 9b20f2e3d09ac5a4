"""Rendered bundles pass the real validators: caddy, compose, PHP, YAML and JSON parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kit_collab.check.recipe_lint import SAMPLE_PROFILE

from .conftest import EXAMPLES, base_profile
from .validators import render_to, validate_all

pytestmark = pytest.mark.validators


def _example(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


PROFILES = {
    "petite-commune": lambda: _example("petite-commune.yaml"),
    "minimale": lambda: _example("minimale.yaml"),
    "tout-actif": lambda: SAMPLE_PROFILE,
    "tls-interne": lambda: {**base_profile(), "serveur": {
        **base_profile()["serveur"], "certificats": {"mode": "interne"}}},
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_bundle_passes_validators(tmp_path: Path, name: str) -> None:
    bundle = render_to(PROFILES[name](), tmp_path / "out")
    parsed = validate_all(bundle, tmp_path / "out")
    from kit_collab.recipes.load import load_recipes

    recipes = load_recipes()
    services = set(parsed["compose:commune"]["services"])
    declared = {s for name, _v in bundle.recipes if recipes[name].spec.scope == "commune"
                for s in recipes[name].spec.services}
    assert services == declared
    assert set(parsed["compose:proxy"]["services"]) == {"caddy"}


def test_nextcloud_environment_is_complete(tmp_path: Path) -> None:
    """A missing DB variable makes Nextcloud fall back to SQLite; an empty
    REDIS_HOST_PASSWORD breaks sessions. compose must see every variable, none empty."""
    bundle = render_to(_example("petite-commune.yaml"), tmp_path / "out")
    parsed = validate_all(bundle, tmp_path / "out")
    env = parsed["compose:commune"]["services"]["nextcloud"]["environment"]
    for key in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_HOST",
                "NEXTCLOUD_ADMIN_USER", "NEXTCLOUD_ADMIN_PASSWORD", "REDIS_HOST",
                "REDIS_HOST_PASSWORD", "OVERWRITEPROTOCOL", "OVERWRITEHOST", "OVERWRITECLIURL",
                "TRUSTED_PROXIES"):
        assert env.get(key), key
    assert "APACHE_DISABLE_REWRITE_IP" not in env  # any value, even 0, would disable it
    assert env["OVERWRITEHOST"] == "cloud.lhay-sur-mer.fr"
    assert env["OVERWRITECLIURL"] == "https://cloud.lhay-sur-mer.fr"
    php = parsed[f"{bundle.release_dir}/nextcloud/kit-collab.config.php"]
    assert php["trusted_domains"] == ["cloud.lhay-sur-mer.fr"]
    assert php["overwriteprotocol"] == "https"


def test_nextcloud_proxy_site(tmp_path: Path) -> None:
    """Caddy's own adapter: HSTS of at least 15552000 s, 301 DAV redirects, X-Real-IP set."""
    from .validators import caddy_adapt

    bundle = render_to(_example("petite-commune.yaml"), tmp_path / "out")
    validate_all(bundle, tmp_path / "out")
    text = str(caddy_adapt(tmp_path / "out"))
    assert "cloud.lhay-sur-mer.fr" in text
    assert "max-age=31536000" in text
    assert "/.well-known/caldav" in text and "/remote.php/dav" in text and "301" in text
    assert "X-Real-Ip" in text and "{http.request.remote.host}" in text
