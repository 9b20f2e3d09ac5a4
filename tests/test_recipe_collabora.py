"""The Collabora Online (CODE) recipe: its own sub-domain behind the shared proxy, the WOPI
host it accepts being exactly the commune's Nextcloud, and the Nextcloud side (richdocuments)
declared as post-install tasks in the Nextcloud container."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit_collab.bundle import render
from kit_collab.check import recipe_lint as lint
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet

from .conftest import base_profile
from .test_recipe_jitsi import (
    HOSTILE,
    coturn_source,
    hostile_profile,
    load_kit_recipes,
    read_env,
    recipe_file,
    render_into,
    render_only,
)
from .validators import caddy_adapt, compose_config, validate_all

IMAGE = "collabora/code:26.04.3.1.1"


@pytest.fixture(scope="session")
def kit_recipes(tmp_path_factory: pytest.TempPathFactory) -> RecipeSet:
    """Same recipe set as the Jitsi tests (the shipped coturn, or the stub until it exists)."""
    return load_kit_recipes(tmp_path_factory)


def collabora_profile(**nextcloud: Any) -> dict[str, Any]:
    data = base_profile()
    data["services"]["nextcloud"].update({"collabora": True, **nextcloud})
    return data


def services_of(bundle: render.Bundle, out: Path) -> dict[str, Any]:
    return compose_config(out / bundle.release_dir / "compose.yaml")["services"]


def occ_tasks(bundle: render.Bundle) -> dict[str, render.Task]:
    return {t.name: t for t in bundle.tasks if t.recipe == "collabora"}


def test_lint_finds_nothing_in_collabora(kit_recipes: RecipeSet) -> None:
    # KC017 (a pin older than 120 days) depends on today's date: tests/test_pins.py has it.
    findings = [f for f in lint.lint(kit_recipes)
                if f.service == "collabora" and f.code != "KC017"]
    assert findings == [], [f.as_dict() for f in findings]


def test_cli_recipes_lint_passes_for_collabora(kit_recipes: RecipeSet, cli) -> None:
    if coturn_source(kit_recipes) != "real":
        pytest.skip("the shipped coturn recipe does not exist yet: the CLI cannot see the stub")
    report = json.loads(cli("recipes", "lint", "--json").out)
    assert [f for f in report["constats"] if f["service"] == "collabora"
            and f["code"] != "KC017"] == []  # a pin's age: test_pins.py
    assert "collabora" in report["recettes"]


def test_recipe_declares_pinned_image_sizing_and_dependencies(kit_recipes: RecipeSet) -> None:
    spec = kit_recipes["collabora"].spec
    assert spec.images == {"code": IMAGE}
    assert spec.version == "1.0.0+26.04.3.1.1"
    assert spec.active_if == ["services.nextcloud.collabora"]
    assert "nextcloud" in spec.requires and "proxy" in spec.requires
    assert spec.hostnames == {"office": "services.nextcloud.sous_domaine_collabora"}
    assert spec.resources.ram_mb >= 2048 and spec.resources.disk_gb >= 2
    assert spec.services == ["collabora"]


def test_collabora_off_renders_nothing(kit_recipes: RecipeSet) -> None:
    bundle = render_only(kit_recipes, base_profile())  # collabora defaults to false
    assert "collabora" not in dict(bundle.recipes)
    assert not any(f.recipe == "collabora" for f in bundle.files)
    assert not occ_tasks(bundle) and not any(c.recipe == "collabora" for c in bundle.checks)
    assert "collabora" not in bundle.hosts


@pytest.mark.validators
def test_bundle_with_collabora_passes_validators(kit_recipes: RecipeSet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, collabora_profile(), out)
    parsed = validate_all(bundle, out)
    svc = parsed["compose:commune"]["services"]["collabora"]
    assert svc["image"] == IMAGE
    assert svc["networks"] == {"proxy": {"aliases": ["saint-essai-fr-collabora"]}}
    assert not svc.get("ports")  # reached through the proxy only
    own = parsed[f"{bundle.release_dir}/collabora/compose.yaml"]
    assert set(own["services"]) == {"collabora"}
    manifest = parsed[f"{bundle.release_dir}/kit-collab.json"]
    assert manifest["recettes"]["collabora"] == "1.0.0+26.04.3.1.1"
    assert manifest["hotes"]["collabora"] == {"office": "office.saint-essai.fr"}
    # Plain reverse proxy on the office host, to the container's port 9980.
    text = str(caddy_adapt(out))
    assert "office.saint-essai.fr" in text and "saint-essai-fr-collabora:9980" in text


@pytest.mark.validators
def test_collabora_aliasgroup_matches_nextcloud_host__collabora_online_4828_richdocuments_2685(
        kit_recipes: RecipeSet, tmp_path: Path) -> None:
    """"No acceptable WOPI hosts found" / "Unauthorized WOPI host": Collabora must accept
    exactly the Nextcloud host (https, port 443), and Nextcloud must point at Collabora's
    public address and allow its calls. Non-default sub-domains prove nothing is assumed."""
    data = collabora_profile(sous_domaine="fichiers", sous_domaine_collabora="bureautique")
    data["serveur"].update({"hote": "serveur.saint-essai.fr", "ip_publique": "198.51.100.7"})
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, data, out)
    assert bundle.hosts["nextcloud"]["cloud"] == "fichiers.saint-essai.fr"
    assert bundle.hosts["collabora"]["office"] == "bureautique.saint-essai.fr"
    env = services_of(bundle, out)["collabora"]["environment"]
    assert env["aliasgroup1"] == "https://fichiers.saint-essai.fr:443"
    assert env["server_name"] == "bureautique.saint-essai.fr"
    assert not any(k.startswith("aliasgroup") and k != "aliasgroup1" for k in env)
    assert "domain" not in env  # the deprecated form would widen what is accepted
    tasks = occ_tasks(bundle)
    assert tasks["wopi-url"].argv == (
        "php", "occ", "config:app:set", "richdocuments", "wopi_url",
        "--value=https://bureautique.saint-essai.fr/")
    allow = tasks["wopi-allowlist"].argv
    assert allow[:5] == ("php", "occ", "config:app:set", "richdocuments", "wopi_allowlist")
    ranges = allow[5].removeprefix("--value=").split(",")
    assert "198.51.100.7" in ranges and "172.16.0.0/12" in ranges
    # The proxy routes the office host to Collabora and the cloud host to Nextcloud.
    text = str(caddy_adapt(out))
    assert "bureautique.saint-essai.fr" in text and "fichiers.saint-essai.fr" in text


@pytest.mark.validators
def test_collabora_env_tls_terminated_by_the_proxy(kit_recipes: RecipeSet,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, collabora_profile(), out)
    env = services_of(bundle, out)["collabora"]["environment"]
    assert env["extra_params"] == "--o:ssl.enable=false --o:ssl.termination=true"
    assert env["dictionaries"] == "fr_FR en_GB"
    assert env["DONT_GEN_SSL_CERT"] == "1"
    assert env["username"] == "admin"
    secret = read_env(recipe_file(bundle, "collabora", "collabora.env"))["password"]
    assert env["password"] == secret and len(secret) >= 16 and secret.isalnum()
    mode = next(f.mode for f in bundle.files if f.path.endswith("/collabora/collabora.env"))
    assert mode == 0o600


def test_nextcloud_side_is_declared_as_tasks_in_the_nextcloud_container(
        kit_recipes: RecipeSet) -> None:
    bundle = render_only(kit_recipes, collabora_profile())
    tasks = [t for t in bundle.tasks if t.recipe == "collabora"]
    assert [t.name for t in tasks] == ["richdocuments", "wopi-url", "wopi-allowlist", "activer"]
    assert all(t.service == "nextcloud" and t.user == "33" and t.env == () for t in tasks)
    assert "nextcloud" in kit_recipes["nextcloud"].spec.services
    assert "app:install richdocuments" in tasks[0].argv[-1]
    assert "php occ richdocuments:activate-config" in tasks[-1].argv[-1]


def test_richdocuments_install_task_is_idempotent(kit_recipes: RecipeSet,
                                                  tmp_path: Path) -> None:
    """app:install fails when the app is already there: the task then enables it, so a second
    install run succeeds; a real failure (not installable, not installed) still fails."""
    task = occ_tasks(render_only(kit_recipes, collabora_profile()))["richdocuments"]
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls"
    (fake / "php").write_text(
        '#!/bin/sh\necho "$*" >> "$CALLS"\n'
        'case "$2" in app:install) exit "$INSTALL_RC";; app:enable) exit "$ENABLE_RC";; esac\n',
        encoding="utf-8")
    (fake / "php").chmod(0o755)

    def run(install_rc: int, enable_rc: int) -> int:
        env = {"PATH": f"{fake}:/usr/bin:/bin", "CALLS": str(log),
               "INSTALL_RC": str(install_rc), "ENABLE_RC": str(enable_rc)}
        return subprocess.run(list(task.argv), env=env, timeout=10, check=False).returncode

    assert run(0, 1) == 0  # first install
    assert run(1, 0) == 0  # already installed: enabled instead
    assert run(1, 1) != 0  # neither: the deploy must stop and say so
    assert log.read_text().splitlines()[:3] == [
        "occ app:install richdocuments", "occ app:install richdocuments",
        "occ app:enable richdocuments"]


def test_wopi_allowlist_without_a_known_public_address(kit_recipes: RecipeSet) -> None:
    data = collabora_profile()
    data["services"]["matrix"]["actif"] = False
    data["services"]["jitsi"]["actif"] = False
    data["serveur"]["hote"] = "serveur.saint-essai.fr"  # no IP known, none required
    assert Profile.model_validate(data).serveur.adresse_publique is None
    task = occ_tasks(render_only(kit_recipes, data))["wopi-allowlist"]
    assert task.argv[-1] == "--value=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def test_discovery_health_check(kit_recipes: RecipeSet) -> None:
    bundle = render_only(kit_recipes, collabora_profile())
    (check,) = [c for c in bundle.checks if c.recipe == "collabora"]
    assert check.url == "https://office.saint-essai.fr/hosting/discovery"
    assert check.status == 200 and check.contains == "wopi-discovery"


@pytest.mark.validators
def test_hostile_commune_name_survives_in_collabora_files(kit_recipes: RecipeSet,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, hostile_profile(), out)
    validate_all(bundle, out)
    label = services_of(bundle, out)["collabora"]["labels"]["org.kit-collab.commune"]
    assert label.replace("$$", "$") == HOSTILE
    for f in bundle.files:
        if f.recipe == "collabora" and f.format in ("env", "caddyfile"):
            assert "#1" not in f.content.decode() and "$HOME" not in f.content.decode()


def _fake_bin(tmp_path: Path, php: str) -> dict[str, str]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "php").write_text(php, encoding="utf-8")
    (fake / "sleep").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")  # no real waiting
    for name in ("php", "sleep"):
        (fake / name).chmod(0o755)
    return {"PATH": f"{fake}:/usr/bin:/bin"}


@pytest.mark.validators
def test_richdocuments_tasks_wait_for_collabora(kit_recipes: RecipeSet, tmp_path: Path) -> None:
    """activate-config ran before Collabora was up and before the proxy had office.*'s
    certificate, exited 1 and was never retried. Now: Collabora has a healthcheck (the tasks
    run after `up --wait`), and activate-config (which fetches the discovery over HTTPS at the
    public address) is retried until it succeeds, then gives up with a failure."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, collabora_profile(), out)
    check = services_of(bundle, out)["collabora"]["healthcheck"]
    assert "/hosting/discovery" in " ".join(check["test"])
    task = occ_tasks(bundle)["activer"]
    counter = tmp_path / "count"
    env = _fake_bin(tmp_path, '#!/bin/sh\nn=$(cat "$COUNT" 2>/dev/null || echo 0)\n'
                              'echo $((n + 1)) > "$COUNT"\n[ "$n" -ge "$OK_AFTER" ]\n')

    def run(ok_after: int) -> tuple[int, int]:
        counter.unlink(missing_ok=True)
        code = subprocess.run(list(task.argv), env={**env, "COUNT": str(counter),
                              "OK_AFTER": str(ok_after)}, timeout=20).returncode
        return code, int(counter.read_text())

    assert run(0) == (0, 1)
    assert run(3) == (0, 4)  # Collabora's certificate came after three tries
    code, tries = run(1000)
    assert code != 0 and tries >= 30  # five minutes at ten seconds apart, then a failure


def test_collabora_discovery_healthcheck_needs_only_bash(kit_recipes: RecipeSet,
                                                         tmp_path: Path) -> None:
    """The image purges curl and openssl: the check speaks HTTP through bash's /dev/tcp,
    here against a local server standing for coolwsd on 127.0.0.1:9980 (moved to a free port)."""
    import http.server
    import threading

    out = tmp_path / "out"
    bundle = render_into(kit_recipes, collabora_profile(), out)
    compose = yaml_load(recipe_file(bundle, "collabora", "compose.yaml"))
    test = compose["services"]["collabora"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]

    class Handler(http.server.BaseHTTPRequestHandler):
        body = b"<wopi-discovery/>"

        def do_GET(self) -> None:
            ok = self.path == "/hosting/discovery"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(self.body if ok else b"no")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = test[3].replace("/9980", f"/{server.server_address[1]}")
        assert subprocess.run(["bash", "-c", script], timeout=10).returncode == 0
        Handler.body = b"starting"
        assert subprocess.run(["bash", "-c", script], timeout=10).returncode != 0
    finally:
        server.shutdown()


@pytest.mark.validators
def test_collabora_admin_console_is_closed_at_the_proxy(kit_recipes: RecipeSet,
                                                        tmp_path: Path) -> None:
    import re

    out = tmp_path / "out"
    render_into(kit_recipes, collabora_profile(), out)
    adapted = json.dumps(caddy_adapt(out))
    (pattern,) = re.findall(r'"path_regexp": \{[^}]*"pattern": "([^"]+)"', adapted)
    pattern = json.loads(f'"{pattern}"')
    closed = ["/browser/dist/admin/admin.html", "/browser/0b27e85/admin/adminSettings.html",
              "/cool/adminws", "/cool/getMetrics"]
    open_ = ["/hosting/discovery", "/hosting/capabilities", "/browser/0b27e85/cool.html",
             "/cool/https%3A%2F%2Fcloud.saint-essai.fr%2Fwopi%2Ffiles%2F1/ws"]
    assert all(re.match(pattern, p) for p in closed)
    assert not any(re.match(pattern, p) for p in open_)
    assert '"status_code": 403' in adapted


def test_collabora_capabilities_are_a_documented_choice(kit_recipes: RecipeSet,
                                                        tmp_path: Path) -> None:
    """Without SYS_ADMIN Collabora copies its jails (slower, a warning in its console): kept
    deliberately, and the recipe says why."""
    bundle = render_only(kit_recipes, collabora_profile())
    compose = yaml_load(recipe_file(bundle, "collabora", "compose.yaml"))
    assert "cap_add" not in compose["services"]["collabora"]
    text = (kit_recipes["collabora"].recipe_dir / "recipe.yaml").read_text(encoding="utf-8")
    assert "SYS_ADMIN" in text and "copie" in text


def yaml_load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)
