"""The Jitsi Meet recipe (docker-jitsi-meet stable-11146-2): rendered files read back by
their consumers (compose, Caddy), the upstream compose's needs met, per-server port
allocation, and each Jitsi field failure of STACK.md pinned by a test named after it.

The recipe requires coturn. These tests use the shipped coturn recipe when it exists; until
then (recipes written concurrently) they add a throwaway coturn stub to a temporary copy of
the data root, never to the source tree. ``COTURN_SOURCE`` says which one ran.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.bundle import ports, render
from kit_collab.bundle.active import active_recipes
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.check import recipe_lint as lint
from kit_collab.operations.prepare import write_bundle
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet, load_recipes

from .conftest import EXAMPLES, ROOT, base_profile
from .validators import caddy_adapt, caddy_validate, compose_config, render_to, validate_all

JITSI_SERVICES = {"jitsi-init", "jitsi-web", "jitsi-prosody", "jitsi-jicofo", "jitsi-jvb"}
TAG = "stable-11146-2"
UPSTREAM_MIRROR = Path("/work/.mirror/jitsi+docker-jitsi-meet/repo")

# docker-compose.yml at stable-11146-2 (research notes, section 3, and the mirror check below):
# the only variables it references without a default.
UPSTREAM_WITHOUT_DEFAULT = {"CONFIG", "HTTP_PORT", "HTTPS_PORT"}
# Its ${CONFIG}/... bind mounts, by service: (container path, read-only).
UPSTREAM_CONFIG_MOUNTS = {
    "web": {("/config", False), ("/storage", False),
            ("/usr/share/jitsi-meet/transcripts", True),
            ("/usr/share/jitsi-meet/load-test", False)},
    "prosody": {("/config", False), ("/prosody-plugins-custom", False),
                ("/var/lib/prosody", False)},
    "jicofo": {("/config", False)},
    "jvb": {("/config", False)},
}
# Bind sources the rootless images write to as uid 1000 (notes, section 5).
WRITABLE_TARGETS = {"jitsi-web": {"/storage", "/usr/share/jitsi-meet/load-test"},
                    "jitsi-prosody": {"/var/lib/prosody"}}

HOSTILE = "L'Haÿ \"x\" $HOME #1 \\ : { } ${PATH} `id`"
HOSTILE_USER = "Zoë O'Brien \"Zo\" $USER \\ {x} : #3"

_STUB_RECIPE = """\
# Throwaway stand-in for the coturn recipe (tests only), with the interface jitsi relies on.
name: coturn
version: 0.0.0+stub
description: {fr: coturn (bouchon de test), en: coturn (test stub)}
active_if: [services.matrix.actif, services.jitsi.actif]
requires: [proxy]
images: {coturn: coturn/coturn:4.7.0}
resources: {ram_mb: 64, disk_gb: 1}
hostnames: {turn: services.turn.sous_domaine}
ports:
  - {name: listening, protocol: tcp+udp, base: 3478}
secrets:
  - {name: static_auth_secret}
files:
  - {template: compose.yaml.j2, dest: compose.yaml, format: compose}
services: [coturn]
health:
  - {name: stub, host: turn, path: /}
"""
_STUB_COMPOSE = """\
services:
  coturn:
    image: {{ images.coturn | compose }}
    network_mode: host
"""


# ---------------------------------------------------------------------------------------------
# Helpers shared with test_recipe_collabora.py (no test_ names here: importing them is safe)


def _data_root(tmp: Path) -> tuple[Path, str]:
    if (ROOT / "recipes" / "coturn" / "recipe.yaml").is_file():
        return ROOT, "real"
    root = tmp / "data"
    shutil.copytree(ROOT / "recipes", root / "recipes")
    (root / "recipes" / "coturn").mkdir(exist_ok=True)
    (root / "recipes" / "coturn" / "templates").mkdir(exist_ok=True)
    (root / "recipes" / "coturn" / "recipe.yaml").write_text(_STUB_RECIPE, encoding="utf-8")
    (root / "recipes" / "coturn" / "templates" / "compose.yaml.j2").write_text(_STUB_COMPOSE,
                                                                     encoding="utf-8")
    return root, "stub"


_LOADED: list[RecipeSet] = []


def load_kit_recipes(tmp_path_factory: pytest.TempPathFactory) -> RecipeSet:
    """The recipe set these tests use, loaded once per session."""
    if not _LOADED:
        root, _source = _data_root(tmp_path_factory.mktemp("recipes"))
        _LOADED.append(load_recipes(root))
    return _LOADED[0]


@pytest.fixture(scope="session")
def kit_recipes(tmp_path_factory: pytest.TempPathFactory) -> RecipeSet:
    return load_kit_recipes(tmp_path_factory)


def coturn_source(recipes: RecipeSet) -> str:
    """"real" when the shipped coturn recipe is in use, "stub" otherwise."""
    return "real" if recipes.root == ROOT else "stub"


def render_into(recipes: RecipeSet, data: dict[str, Any], out: Path, *,
                allocated: dict[ports.Key, int] | None = None) -> render.Bundle:
    """Render and write a bundle like ``validators.render_to`` (which it is, for the shipped
    data root), with a chosen recipe set and port allocation."""
    if recipes.root == ROOT and allocated is None:
        return render_to(data, out)
    profile = Profile.model_validate(data)
    bundle = make_bundle(profile, recipes, draw=SYSTEM, recorded_ports=allocated).bundle
    write_bundle(bundle, str(out))
    return bundle


def render_only(recipes: RecipeSet, data: dict[str, Any]) -> render.Bundle:
    profile = Profile.model_validate(data)
    return make_bundle(profile, recipes, draw=SYSTEM).bundle


def recipe_file(bundle: render.Bundle, recipe: str, name: str) -> str:
    return bundle.file(f"{bundle.release_dir}/{recipe}/{name}").content.decode("utf-8")


def read_env(text: str) -> dict[str, str]:
    """Our own .env files (KEY="value", written by the env filter): enough for the pure tests;
    the validator tests read them through compose itself."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r"\1", value[1:-1])
        out[key] = value
    return out


def commune_services(bundle: render.Bundle, out: Path) -> dict[str, Any]:
    return compose_config(out / bundle.release_dir / "compose.yaml")["services"]


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


def hostile_profile() -> dict[str, Any]:
    data = base_profile()
    data["commune"]["nom"] = HOSTILE
    data["utilisateurs"][0]["nom"] = HOSTILE_USER
    data["services"]["nextcloud"]["collabora"] = True
    return data


def published(service: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service.get("ports") or [])


# ---------------------------------------------------------------------------------------------
# Lint and sample render


def test_lint_finds_nothing_in_jitsi(kit_recipes: RecipeSet) -> None:
    findings = [f for f in lint.lint(kit_recipes)  # KC017 depends on the date: test_pins.py
                if f.service in ("jitsi", "collabora") and f.code != "KC017"]
    assert findings == [], [f.as_dict() for f in findings]


def test_lint_sample_profile_renders_jitsi(kit_recipes: RecipeSet) -> None:
    """KC012 (services, images, task services) only runs when the all-on sample renders."""
    bundle = render_only(kit_recipes, copy.deepcopy(lint.SAMPLE_PROFILE))
    assert ("jitsi", "1.0.0+" + TAG) in bundle.recipes


def test_cli_recipes_lint_passes_for_jitsi(kit_recipes: RecipeSet, cli) -> None:
    if coturn_source(kit_recipes) != "real":
        pytest.skip("the shipped coturn recipe does not exist yet: the CLI cannot see the stub")
    import json

    result = cli("recipes", "lint", "--json")
    report = json.loads(result.out)
    mine = [f for f in report["constats"] if f["service"] in ("jitsi", "collabora")
            and f["code"] != "KC017"]  # a pin's age: test_pins.py
    assert mine == []
    assert "jitsi" in report["recettes"]


def test_recipe_declares_pinned_images_and_sizing(kit_recipes: RecipeSet) -> None:
    spec = kit_recipes["jitsi"].spec
    assert spec.images == {name: f"ghcr.io/jitsi/{name}:{TAG}"
                           for name in ("web", "prosody", "jicofo", "jvb")}
    assert spec.version.endswith("+" + TAG)
    assert spec.requires == ["proxy", "coturn"]
    assert spec.hostnames == {"visio": "services.jitsi.sous_domaine"}
    # STACK.md sizing: 4 GB of RAM for small meetings.
    assert spec.resources.ram_mb >= 4096 and spec.resources.cpu >= 2
    assert set(spec.services) == JITSI_SERVICES


# ---------------------------------------------------------------------------------------------
# Validators on the full bundle


@pytest.mark.validators
def test_bundle_passes_validators(kit_recipes: RecipeSet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, example("petite-commune.yaml"), out)
    parsed = validate_all(bundle, out)
    project = parsed["compose:commune"]
    assert set(project["services"]) >= JITSI_SERVICES
    assert {"meet.jitsi", "proxy"} <= set(project["networks"])
    assert project["networks"]["proxy"]["external"] is True
    jitsi_compose = parsed[f"{bundle.release_dir}/jitsi/compose.yaml"]
    assert set(jitsi_compose["services"]) == JITSI_SERVICES
    assert set(jitsi_compose["volumes"]) == {
        "jitsi_web_config", "jitsi_web_storage", "jitsi_web_transcripts", "jitsi_web_load_test",
        "jitsi_prosody_config", "jitsi_prosody_plugins", "jitsi_prosody_data",
        "jitsi_jicofo_config", "jitsi_jvb_config"}
    for name in JITSI_SERVICES:
        assert project["services"][name]["image"] in kit_recipes["jitsi"].spec.images.values()
    manifest = parsed[f"{bundle.release_dir}/kit-collab.json"]
    assert manifest["recettes"]["jitsi"] == "1.0.0+" + TAG
    assert set(manifest["services"]["jitsi"]) == JITSI_SERVICES
    assert manifest["ports"]["jitsi"]["media"] == bundle.ports["jitsi"]["media"]
    assert {c["nom"] for c in manifest["controles"] if c["recette"] == "jitsi"} == {
        "web", "config", "xmpp-websocket"}


@pytest.mark.validators
def test_env_defines_what_each_jitsi_service_needs(kit_recipes: RecipeSet,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, example("petite-commune.yaml"), out)
    services = commune_services(bundle, out)
    env = {name: services[name].get("environment") or {} for name in JITSI_SERVICES}
    secrets = _secrets_from(bundle, out)
    public_url = "https://visio.lhay-sur-mer.fr"
    common = {"TZ": "Europe/Paris", "PUBLIC_URL": public_url, "ENABLE_AUTH": "1",
              "AUTH_TYPE": "internal", "ENABLE_GUESTS": "1", "XMPP_DOMAIN": "meet.jitsi",
              "XMPP_SERVER": "xmpp.meet.jitsi", "XMPP_PORT": "5222"}
    for name in ("jitsi-web", "jitsi-prosody", "jitsi-jicofo", "jitsi-jvb"):
        for key, value in common.items():
            assert env[name].get(key) == value, (name, key)
    web = env["jitsi-web"]
    assert web["DISABLE_HTTPS"] == "1" and web["ENABLE_HTTP_REDIRECT"] == "0"
    assert web["ENABLE_LETSENCRYPT"] == "0" and web["ENABLE_XMPP_WEBSOCKET"] == "1"
    assert web["XMPP_BOSH_URL_BASE"] == "http://xmpp.meet.jitsi:5280"
    # Containers refuse to start without the component passwords: set, generated, not empty.
    prosody = env["jitsi-prosody"]
    assert prosody["JICOFO_AUTH_PASSWORD"] == secrets["JICOFO_AUTH_PASSWORD"] != ""
    assert prosody["JVB_AUTH_PASSWORD"] == secrets["JVB_AUTH_PASSWORD"] != ""
    assert env["jitsi-jicofo"]["JICOFO_AUTH_PASSWORD"] == secrets["JICOFO_AUTH_PASSWORD"]
    assert env["jitsi-jvb"]["JVB_AUTH_PASSWORD"] == secrets["JVB_AUTH_PASSWORD"]
    assert secrets["JICOFO_AUTH_PASSWORD"] != secrets["JVB_AUTH_PASSWORD"]
    # Each secret reaches only the services that use it.
    assert not any(k.endswith("PASSWORD") or k == "TURN_CREDENTIALS" for k in web)
    assert "JICOFO_AUTH_PASSWORD" not in env["jitsi-jvb"]
    assert "JVB_AUTH_PASSWORD" not in env["jitsi-jicofo"]
    assert "TURN_CREDENTIALS" not in env["jitsi-jvb"]
    # No variable is left empty (an empty value is not the same as an unset one).
    for name, values in env.items():
        assert all(v != "" for v in values.values()), name
    modes = {f.path.rsplit("/", 1)[1]: f.mode for f in bundle.files if f.recipe == "jitsi"}
    assert modes["prosody.env"] == modes["jicofo.env"] == modes["jvb.env"] == 0o600
    assert "PASSWORD" not in recipe_file(bundle, "jitsi", "jitsi.env")


def _secrets_from(bundle: render.Bundle, out: Path) -> dict[str, str]:
    prosody = read_env((out / bundle.release_dir / "jitsi" / "prosody.env").read_text())
    return {k: prosody[k] for k in ("JICOFO_AUTH_PASSWORD", "JVB_AUTH_PASSWORD")}


@pytest.mark.validators
def test_env_covers_what_the_pinned_upstream_compose_needs(kit_recipes: RecipeSet,
                                                           tmp_path: Path) -> None:
    """The upstream compose needs CONFIG, HTTP_PORT and HTTPS_PORT from its .env (no default).
    Ours interpolates nothing, so they have no role left; this checks what replaced each:
    CONFIG's bind mounts are named volumes at the same container paths, and HTTP_PORT /
    HTTPS_PORT's published ports are gone (the proxy reaches web's port 8000 on the proxy
    network; HTTPS is off). Variables it defaulted that matter are set explicitly."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, example("petite-commune.yaml"), out)
    raw = recipe_file(bundle, "jitsi", "compose.yaml")
    code = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("#"))
    assert re.findall(r"(?<!\$)\$\{?[A-Za-z_]", code) == []  # no interpolation at all
    services = commune_services(bundle, out)
    for upstream, mounts in UPSTREAM_CONFIG_MOUNTS.items():
        ours = {(m["target"], bool(m.get("read_only"))): m["type"]
                for m in services[f"jitsi-{upstream}"]["volumes"]}
        for mount in mounts:
            assert ours.get(mount) == "volume", (upstream, mount)  # CONFIG -> named volume
    assert published(services["jitsi-web"]) == []  # HTTP_PORT, HTTPS_PORT
    sites = caddy_adapt(out)
    assert "lhay-sur-mer-fr-jitsi:8000" in str(sites)
    jvb = services["jitsi-jvb"]["environment"]
    for key in ("JVB_PORT", "XMPP_SERVER", "XMPP_PORT", "PROSODY_HTTP_PORT"):
        assert jvb.get(key), key


def test_upstream_compose_at_pinned_tag_matches_what_the_tests_assume() -> None:
    """Read the pinned upstream compose when its mirror is on this machine (research input,
    never copied): the variables without default and the ${CONFIG} mounts are the ones above."""
    git = shutil.which("git")
    if git is None or not ((UPSTREAM_MIRROR / "HEAD").exists()
                           or (UPSTREAM_MIRROR / ".git").exists()):
        pytest.skip("no local mirror of jitsi/docker-jitsi-meet")
    shown = subprocess.run([git, "-C", str(UPSTREAM_MIRROR), "show", f"{TAG}:docker-compose.yml"],
                           capture_output=True, text=True, timeout=30)
    if shown.returncode != 0:
        pytest.skip(f"tag {TAG} not in the mirror")
    text = shown.stdout
    names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}", text)
    assert {n for n, default in names if not default} == UPSTREAM_WITHOUT_DEFAULT
    upstream = yaml.safe_load(text)["services"]
    for service, mounts in UPSTREAM_CONFIG_MOUNTS.items():
        found = set()
        for volume in upstream[service].get("volumes", []):
            source, target, *opts = volume.split(":")
            assert source.startswith("${CONFIG}/")
            found.add((target, "ro" in ",".join(opts).split(",")))
        assert found == mounts, service


@pytest.mark.validators
def test_guests_follow_the_profile(kit_recipes: RecipeSet, tmp_path: Path) -> None:
    data = base_profile()
    data["services"]["jitsi"]["invites"] = False
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, data, out)
    services = commune_services(bundle, out)
    for name in ("jitsi-web", "jitsi-prosody"):
        env = services[name]["environment"]
        assert env["ENABLE_AUTH"] == "1" and env["AUTH_TYPE"] == "internal"
        assert env["ENABLE_GUESTS"] == "0"  # the images read it as a boolean


@pytest.mark.validators
def test_storage_dirs_exist_and_belong_to_uid_1000_before_first_start(
        kit_recipes: RecipeSet, tmp_path: Path) -> None:
    """Rootless images refuse to start when their data dirs are not writable by uid 1000, and
    Docker creates a new volume as root: jitsi-init (root, minimal capabilities, no network)
    creates them on the named volumes, leaves a marker so Docker never re-copies the image's
    ownership into them, and hands them to 1000:1000; the services wait for it."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, base_profile(), out)
    services = commune_services(bundle, out)
    init = services["jitsi-init"]
    assert init["user"] == "0:0" and init["network_mode"] == "none"
    assert init["cap_drop"] == ["ALL"] and set(init["cap_add"]) <= {"CHOWN", "DAC_OVERRIDE",
                                                                       "FOWNER"}
    assert init["restart"] == "no"
    init_volumes = {m["source"]: m["target"] for m in init["volumes"]}
    for name, targets in WRITABLE_TARGETS.items():
        svc = services[name]
        assert svc["depends_on"]["jitsi-init"]["condition"] == "service_completed_successfully"
        for mount in svc["volumes"]:
            if mount["target"] in targets:
                assert mount["type"] == "volume" and mount["source"] in init_volumes
    # Run the init script itself on a scratch copy of its mount points.
    script = init["entrypoint"][2].replace("$$", "$")
    scratch = tmp_path / "kit-collab"
    for target in init_volumes.values():
        (scratch / Path(target).name).mkdir(parents=True)
    script = script.replace("/kit-collab", str(scratch))
    check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
    assert check.returncode == 0, check.stderr
    if os.geteuid() != 0:
        pytest.skip("chown to uid 1000 needs root here")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    for target in init_volumes.values():
        path = scratch / Path(target).name
        assert (path.stat().st_uid, path.stat().st_gid) == (1000, 1000), path
        assert (path / ".kit-collab").is_file()
    # Idempotent: a second run (every `compose up`) succeeds too.
    again = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10)
    assert again.returncode == 0, again.stderr


@pytest.mark.validators
def test_proxy_forwards_everything_on_the_jitsi_host_to_web(kit_recipes: RecipeSet,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, base_profile(), out)
    validate_all(bundle, out)  # caddy validate on the whole Caddyfile, compose on each file
    routes = caddy_adapt(out)["apps"]["http"]["servers"]
    route = _route_for(routes, "visio.saint-essai.fr")
    # No path matcher: everything (the XMPP websocket and BOSH included) goes to web.
    assert all(set(m) == {"host"} for m in route["match"])
    assert "saint-essai-fr-jitsi:8000" in str(route["handle"])
    web = commune_services(bundle, out)["jitsi-web"]
    assert web["networks"]["proxy"]["aliases"] == ["saint-essai-fr-jitsi"]


def _route_for(servers: dict[str, Any], host: str) -> dict[str, Any]:
    for server in servers.values():
        for route in server.get("routes", []):
            if any(host in m.get("host", []) for m in route.get("match", [])):
                return route
    raise AssertionError(f"no route for {host}")


def test_health_checks_target_the_jitsi_host(kit_recipes: RecipeSet) -> None:
    bundle = render_only(kit_recipes, base_profile())
    checks = {c.name: c for c in bundle.checks if c.recipe == "jitsi"}
    assert checks["web"].url == "https://visio.saint-essai.fr/"
    assert checks["web"].contains == "app.bundle.min.js"
    assert checks["xmpp-websocket"].url == "https://visio.saint-essai.fr/xmpp-websocket"
    assert checks["config"].url == "https://visio.saint-essai.fr/config.js"


def test_jitsi_off_renders_nothing(kit_recipes: RecipeSet) -> None:
    data = base_profile()
    data["services"]["jitsi"]["actif"] = False
    bundle = render_only(kit_recipes, data)
    assert "jitsi" not in dict(bundle.recipes)
    assert not any(f.recipe == "jitsi" for f in bundle.files)
    assert not any(t.recipe == "jitsi" for t in bundle.tasks)
    assert "jitsi" not in bundle.ports


# ---------------------------------------------------------------------------------------------
# Ports: several communes on one server


def _commune(name: str, domain: str) -> dict[str, Any]:
    data = base_profile()
    data["commune"].update({"nom": name, "domaine": domain, "email_contact": f"mairie@{domain}"})
    data["utilisateurs"][0]["email"] = f"marie@{domain}"
    return data


@pytest.mark.validators
def test_two_communes_on_one_server_get_distinct_udp_media_ports(kit_recipes: RecipeSet,
                                                                tmp_path: Path) -> None:
    communes = [_commune("Saint-Un", "saint-un.fr"), _commune("Saint-Deux", "saint-deux.fr")]
    profiles = [Profile.model_validate(c) for c in communes]
    requests = [req for p in profiles for req in ports.port_requests(
        p.commune.code, active_recipes(p, kit_recipes))]
    allocated = ports.allocate(requests)
    out = tmp_path / "server"
    bundles = [render_into(kit_recipes, c, out, allocated=allocated) for c in communes]
    seen = []
    for profile, bundle in zip(profiles, bundles, strict=True):
        media = allocated[(profile.commune.code, "jitsi", "media")]
        services = commune_services(bundle, out)
        jvb = services["jitsi-jvb"]
        assert jvb["environment"]["JVB_PORT"] == str(media)
        assert published(jvb) == [{"mode": "ingress", "target": media, "published": str(media),
                                   "protocol": "udp"}]
        turn = allocated[(profile.commune.code, "coturn", "listening")]
        assert services["jitsi-prosody"]["environment"]["TURN_PORT"] == str(turn)
        seen.append(media)
    assert seen[0] != seen[1]
    assert min(seen) == 10000  # the declared base
    # Both communes' sites go through the one Caddy of the server.
    result = caddy_validate(out)
    assert result.returncode == 0, result.stderr
    text = str(caddy_adapt(out))
    assert "saint-un-fr-jitsi:8000" in text and "saint-deux-fr-jitsi:8000" in text


def test_media_port_comes_from_the_allocation_never_a_constant(kit_recipes: RecipeSet) -> None:
    profile = Profile.model_validate(base_profile())
    key = (profile.commune.code, "jitsi", "media")
    requests = ports.port_requests(profile.commune.code, active_recipes(profile, kit_recipes))
    allocated = ports.allocate(requests, existing={key: 10042})
    bundle = make_bundle(profile, kit_recipes, draw=SYSTEM, recorded_ports=allocated).bundle
    assert read_env(recipe_file(bundle, "jitsi", "jitsi.env"))["JVB_PORT"] == "10042"
    assert '"10042:10042/udp"' in recipe_file(bundle, "jitsi", "compose.yaml")
    for path in ("compose.yaml.j2", "jitsi.env.j2"):
        template = (kit_recipes["jitsi"].template_dir / path).read_text(encoding="utf-8")
        assert "10000" not in template, path


# ---------------------------------------------------------------------------------------------
# Field failures of STACK.md, one test each, named after the upstream issues


@pytest.mark.validators
def test_jvb_advertises_public_ip__docker_jitsi_meet_189_606_1067(kit_recipes: RecipeSet,
                                                                  tmp_path: Path) -> None:
    """No media with a third participant: JVB must announce the server's public address and
    its UDP port must be open and published as the same number JVB listens on."""
    data = base_profile()
    data["serveur"].update({"hote": "serveur.saint-essai.fr", "ip_publique": "198.51.100.7"})
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, data, out)
    jvb = commune_services(bundle, out)["jitsi-jvb"]
    assert jvb["environment"]["JVB_ADVERTISE_IPS"] == "198.51.100.7"
    media = bundle.ports["jitsi"]["media"]
    assert jvb["environment"]["JVB_PORT"] == str(media)
    assert published(jvb) == [{"mode": "ingress", "target": media, "published": str(media),
                               "protocol": "udp"}]
    spec = next(p for p in kit_recipes["jitsi"].spec.ports if p.name == "media")
    assert spec.protocol == "udp" and spec.public  # opened in the firewall
    # With the address known, JVB does not ask a third-party STUN server to guess it.
    assert jvb["environment"]["JVB_DISABLE_STUN"] == "1"
    assert "JVB_STUN_SERVERS" not in jvb["environment"]


@pytest.mark.validators
def test_jvb_publishes_one_udp_port_never_a_range_nor_fixed_tcp__coturn_1257(
        kit_recipes: RecipeSet, tmp_path: Path) -> None:
    """Large published ranges are slow and memory hungry; fixed ports (colibri 8080, jicofo
    8888, web 8000/8443) collide between communes. Only the allocated UDP port is published."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, base_profile(), out)
    services = commune_services(bundle, out)
    ports_published = [p for name in JITSI_SERVICES for p in published(services[name])]
    assert len(ports_published) == 1
    (only,) = ports_published
    assert only["protocol"] == "udp" and "-" not in only["published"]
    assert only.get("host_ip") is None  # not a 127.0.0.1:8080-style loopback binding
    assert str(only["target"]) == only["published"]




@pytest.mark.validators
def test_clients_use_the_communes_jitsi_and_turn__element_web_20021(kit_recipes: RecipeSet,
                                                                   tmp_path: Path) -> None:
    """Element finds the commune's Jitsi as hosts.jitsi.visio; the Jitsi clients get STUN and
    TURN from the commune's coturn (port and transports explicit), not from jitsi.net."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, base_profile(), out)
    assert bundle.hosts["jitsi"] == {"visio": "visio.saint-essai.fr"}
    services = commune_services(bundle, out)
    prosody = services["jitsi-prosody"]["environment"]
    turn_host = bundle.hosts["coturn"]["turn"]
    turn_port = str(bundle.ports["coturn"]["listening"])
    assert prosody["TURN_HOST"] == prosody["STUN_HOST"] == turn_host == "turn.saint-essai.fr"
    assert prosody["TURN_PORT"] == prosody["STUN_PORT"] == turn_port
    assert set(prosody["TURN_TRANSPORT"].split(",")) == {"udp", "tcp"}
    coturn_secret = read_env(recipe_file(bundle, "jitsi", "prosody.env"))["TURN_CREDENTIALS"]
    assert prosody["TURN_CREDENTIALS"] == coturn_secret != ""
    web = services["jitsi-web"]["environment"]
    assert web["P2P_STUN_SERVERS"] == f"{turn_host}:{turn_port}"
    assert web["PUBLIC_URL"] == "https://visio.saint-essai.fr"
    for name in JITSI_SERVICES:
        assert "jitsi.net" not in str(services[name].get("environment"))


def test_turn_credentials_are_the_coturn_secret(kit_recipes: RecipeSet) -> None:
    profile = Profile.model_validate(base_profile())
    bundle = make_bundle(profile, kit_recipes, draw=SYSTEM,
                         secrets={"coturn": {"static_auth_secret": "s3cr3tTURN"}}).bundle
    assert read_env(recipe_file(bundle, "jitsi", "prosody.env"))["TURN_CREDENTIALS"] == (
        "s3cr3tTURN")


@pytest.mark.validators
def test_jitsi_web_never_requests_certificates__caddy_4682(kit_recipes: RecipeSet,
                                                          tmp_path: Path) -> None:
    """The shared Caddy holds ports 80/443 and the certificates. A second ACME client in the
    web container would fail over and over and burn the Let's Encrypt rate limits."""
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, base_profile(), out)
    web = commune_services(bundle, out)["jitsi-web"]
    env = web["environment"]
    assert env["ENABLE_LETSENCRYPT"] == "0" and env["DISABLE_HTTPS"] == "1"
    assert env["ENABLE_HTTP_REDIRECT"] == "0"
    assert not any(k.startswith("LETSENCRYPT_") for k in env)
    assert published(web) == []


# ---------------------------------------------------------------------------------------------
# Hostile names


@pytest.mark.validators
def test_hostile_names_survive_in_jitsi_files(kit_recipes: RecipeSet, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bundle = render_into(kit_recipes, hostile_profile(), out)
    validate_all(bundle, out)
    services = commune_services(bundle, out)
    for name in JITSI_SERVICES:
        label = services[name]["labels"]["org.kit-collab.commune"]
        assert label.replace("$$", "$") == HOSTILE, name  # compose prints "$" as "$$"
    for f in bundle.files:
        if f.recipe == "jitsi" and f.format in ("env", "caddyfile"):
            assert "#1" not in f.content.decode() and "$HOME" not in f.content.decode()
    # The agents' accounts are provisioned, not declared as tasks (tests/test_accounts.py).
    assert not [t for t in bundle.tasks if t.recipe == "jitsi"]


def _served_config_js(env: dict[str, str]) -> str:
    """config.js as the pinned Jitsi web image serves it, written here from the logic of its
    template (docker-jitsi-meet stable-11146-2, web/rootfs/defaults/system-config.js: booleans
    through ``toBool``, ENABLE_SUBDOMAINS defaulting to true, ENABLE_XMPP_WEBSOCKET to 1) and
    nginx's SSI, which turns ``subdir``'s echo into '' on the root path (meet.conf)."""
    def flag(name: str, default: str) -> bool:
        return env.get(name, default).strip().lower() in ("1", "true", "yes", "y", "on")

    host = env.get("PUBLIC_URL", "https://localhost:8443").removeprefix("https://").rstrip("/")
    subdomains = flag("ENABLE_SUBDOMAINS", "true")
    lines = ["var config = {};", "config.hosts = {};",
             f"config.hosts.domain = '{env.get('XMPP_DOMAIN', 'meet.jitsi')}';"]
    if subdomains:
        lines += ["var subdir = '';", "var subdomain = '';"]
    if flag("ENABLE_XMPP_WEBSOCKET", "1"):
        lines.append(f"config.websocket = 'wss://{host}/' + subdir + 'xmpp-websocket';"
                     if subdomains else f"config.websocket = 'wss://{host}/xmpp-websocket';")
    return "\n".join(lines) + "\n"


def test_config_check_passes_on_the_config_js_jitsi_web_really_serves(
        kit_recipes: RecipeSet) -> None:
    """Issue 14, item 4: the check looked for "/xmpp-websocket", which the real config.js
    never holds (the subdir sits between), so install failed after every real deploy."""
    from kit_collab.check.findings import ERROR, OK
    from kit_collab.check.rules.http import HttpObservation, check_finding

    bundle = render_only(kit_recipes, base_profile())
    env = read_env(recipe_file(bundle, "jitsi", "jitsi.env"))
    assert "ENABLE_SUBDOMAINS" not in env  # the image's default (true) applies
    body = _served_config_js(env)
    assert "/xmpp-websocket" not in body
    check = next(c for c in bundle.checks if c.recipe == "jitsi" and c.name == "config")
    seen = HttpObservation(check.url, 200, {"content-type": "application/javascript"},
                           body.encode())
    assert check_finding(check, seen, bundle).level == OK
    other = body.replace("visio.saint-essai.fr", "visio.autre-commune.fr")
    wrong = HttpObservation(check.url, 200, {}, other.encode())
    assert check_finding(check, wrong, bundle).level == ERROR
