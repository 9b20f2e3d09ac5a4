"""Two communes on one server, for real (loopback sshd, the Docker bed of test_deploy.py):
one network per commune between the shared proxy and its services, so that a commune's
containers reach none of another's, while the proxy reaches them all; and the proxy mounts
only its own folder, never a commune's secrets."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit_collab import constants
from kit_collab.apply import deploy
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .conftest import base_profile
from .sshd import Sshd, running_sshd
from .test_deploy import _connect

A = dockerbed.slug("reseau-a")
B = dockerbed.slug("reseau-b")


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    with dockerbed.engine([A, B]) as tags:
        yield tags


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(dockerbed.HOST) as server:
        yield server


@pytest.fixture
def server_root(tmp_path: Path, images) -> Iterator[Path]:
    with dockerbed.server_root(tmp_path, [A, B]) as root:
        yield root


def _profile(sshd: Sshd, server_root: Path, slug: str, domain: str) -> Profile:
    return Profile.model_validate({
        "commune": {"nom": f"Commune {slug}", "domaine": domain,
                    "email_contact": f"mairie@{domain}", "slug": slug},
        "serveur": {**sshd.serveur("root").model_dump(), "racine": str(server_root),
                    "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
    })


def _install(sshd: Sshd, profile: Profile, tmp_path: Path, data_root: Path) -> deploy.Outcome:
    with _connect(sshd, profile, tmp_path) as transport:
        return deploy.install(transport, profile, load_recipes(data_root), wait_seconds=60)


def _proxy_id() -> str:
    ids = dockerbed.container_ids(dockerbed.PROXY_PROJECT)
    return ids["caddy"]


def _fetch(container: str, url: str) -> tuple[int, str]:
    """wget from inside a container by address (the stand-ins' static busybox cannot use
    the system resolver): (exit code, page or error)."""
    # busybox's own timeout: its wget -T crashes in the static build of the stand-ins.
    out = dockerbed.docker("exec", container, "timeout", "5", "wget", "-q", "-O-", url,
                           check=False, timeout=30)
    return out.returncode, out.stdout + out.stderr


def _resolves(container: str, name: str) -> bool:
    """Whether Docker's DNS gives ``name`` to the container (busybox nslookup, own client)."""
    out = dockerbed.docker("exec", container, "nslookup", name, check=False, timeout=30)
    return out.returncode == 0 and "Address" in out.stdout.split("Name:", 1)[-1]


def _https(tmp_path: Path, host: str) -> str:
    """The page the shared proxy serves for ``host``, over HTTPS with its internal CA."""
    ca = tmp_path / "ca.crt"
    ca.write_text(dockerbed.docker("exec", _proxy_id(), "cat",
                                   "/data/caddy/pki/authorities/local/root.crt").stdout)
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca), "--resolve",
                          f"{host}:443:{dockerbed.HOST}", f"https://{host}/"],
                         capture_output=True, text=True, check=False, timeout=30)
    return out.stdout + out.stderr


def _ip_on(container: str, network: str) -> str:
    out = dockerbed.docker("inspect", "--format", "{{json .NetworkSettings.Networks}}",
                           container).stdout
    return str(json.loads(out)[network]["IPAddress"])


def test_communes_cannot_reach_each_other_while_the_proxy_reaches_both(
        sshd, server_root, tmp_path) -> None:
    data_root = dockerbed.demo_data_root(tmp_path)
    profile_a = _profile(sshd, server_root, A, "reseau-a.fr")
    profile_b = _profile(sshd, server_root, B, "reseau-b.fr")
    assert _install(sshd, profile_a, tmp_path, data_root).applied
    assert _install(sshd, profile_b, tmp_path, data_root).applied
    web_a = dockerbed.container_ids(A)["demo-web"]
    web_b = dockerbed.container_ids(B)["demo-web"]
    net_a, net_b = constants.commune_network(A), constants.commune_network(B)

    # The proxy, recreated by B's install, joins both communes' networks and serves both
    # (Caddy reaches each commune's service by its alias).
    proxy = _proxy_id()
    for slug, domain in ((A, "reseau-a.fr"), (B, "reseau-b.fr")):
        assert _resolves(proxy, f"{slug}-demo")
        assert "kit-collab" in _https(tmp_path, f"cloud.{domain}"), slug
    ip_a, ip_b = _ip_on(web_a, net_a), _ip_on(web_b, net_b)

    # A's container resolves B's alias nowhere, and B's address is not routed to it;
    # inside A, its own alias resolves (the check could fail).
    assert _resolves(web_a, f"{A}-demo")
    assert not _resolves(web_a, f"{B}-demo")
    assert not _resolves(web_b, f"{A}-demo")
    code, page = _fetch(web_a, f"http://{ip_a}:8080/")
    assert code == 0 and "kit-collab" in page  # wget by address works in there
    code, err = _fetch(web_a, f"http://{ip_b}:8080/")
    assert code != 0, err
    code, err = _fetch(web_b, f"http://{ip_a}:8080/")
    assert code != 0, err

    # B removed: the proxy's compose still comes up (the network it declares is its own),
    # and A is still served.
    with _connect(sshd, profile_b, tmp_path) as transport:
        deploy.remove(transport, profile_b)
    assert not (server_root / "proxy" / "communes" / B).exists()
    up = dockerbed.docker("compose", "-p", dockerbed.PROXY_PROJECT, "-f",
                          str(server_root / "proxy" / "compose.yaml"), "up", "-d", check=False)
    assert up.returncode == 0, up.stderr
    assert "kit-collab" in _https(tmp_path, "cloud.reseau-a.fr")
    # A's next install drops B's network from the proxy.
    (data_root / "recipes" / "demo" / "templates" / "index.html.j2").write_text("kit-collab v3\n")
    again = _install(sshd, profile_a, tmp_path, data_root)
    assert "compose.yaml" in again.plan.proxy_changed
    compose = (server_root / "proxy" / "compose.yaml").read_text()
    assert net_a in compose and net_b not in compose


def test_the_proxy_mounts_only_its_folder_and_cannot_read_secrets(
        sshd, server_root, tmp_path) -> None:
    data_root = dockerbed.demo_data_root(tmp_path)
    profile = _profile(sshd, server_root, A, "reseau-a.fr")
    outcome = _install(sshd, profile, tmp_path, data_root)
    proxy = _proxy_id()
    mounts = json.loads(dockerbed.docker("inspect", "--format", "{{json .Mounts}}",
                                         proxy).stdout)
    binds = sorted((m["Source"], m["Destination"], m["RW"]) for m in mounts
                   if m["Type"] == "bind")
    assert binds == [(str(server_root / "proxy"), str(server_root / "proxy"), False)]
    secrets = server_root / "communes" / A / "secrets" / "secrets.json"
    assert secrets.is_file()
    seen = dockerbed.docker("exec", proxy, "cat", str(secrets), check=False)
    assert seen.returncode != 0
    # What it serves is there: the commune's site, published at the switch.
    published = server_root / "proxy" / "communes" / A
    assert (published / "current").resolve() == published / outcome.bundle.release
    site = dockerbed.docker("exec", proxy, "cat", f"{published}/current/site.caddy").stdout
    assert f"{A}-demo:8080" in site
    assert not list(published.rglob("*.env"))


def test_the_proxy_compose_joins_every_commune_of_the_server() -> None:
    data = base_profile()
    data["commune"]["slug"] = "une-fr"
    made = make_bundle(Profile.model_validate(data), load_recipes(), draw=digest_draw("t"),
                       neighbours=["deux-fr", "../etc", "trois-fr"])
    compose = made.bundle.file("proxy/compose.yaml").content.decode()
    for slug in ("une-fr", "deux-fr", "trois-fr"):
        assert constants.commune_network(slug) in compose
    assert "etc" not in compose
    nextcloud = next(f for f in made.bundle.files if f.path.endswith("nextcloud/compose.yaml"))
    text = nextcloud.content.decode()
    assert constants.commune_network("une-fr") in text and "deux-fr" not in text
