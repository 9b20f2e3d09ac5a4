"""Fleet runs against several real SSH test hosts (each a throwaway sshd on loopback with its
own host key and server root) and two communes sharing one server, on this machine's Docker
engine with the stand-in demo recipe (see dockerbed.py)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kit_collab.apply import deploy
from kit_collab.apply.transport import connect
from kit_collab.operations.prepare import write_bundle
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .sshd import Sshd, free_port, running_sshd

SLUGS = [dockerbed.slug("commune-a"), dockerbed.slug("commune-b")]  # this run's own


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    with dockerbed.engine(SLUGS) as tags:
        yield tags


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """The real proxy recipe plus the demo stand-in recipe."""
    return dockerbed.demo_data_root(tmp_path)


def profile_data(sshd_host: str, port: int, fingerprint: str, key: Path, root: Path,
                 name: str, slug: str) -> dict:
    return {
        "commune": {"nom": name, "domaine": f"{slug}.fr", "email_contact": f"mairie@{slug}.fr",
                    "slug": slug},
        "serveur": {"hote": sshd_host, "port_ssh": port, "cle_ssh": str(key),
                    "empreinte_hote": fingerprint, "hebergeur": "test", "pays": "FR",
                    "racine": str(root), "certificats": {"mode": "interne",
                                                         "email_acme": "dsi@interco.fr"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
    }


def predeploy(data: dict, data_root: Path) -> None:
    """Write a commune's deployed state directly (no container): enough for a no-op run."""
    profile = Profile.model_validate(data)
    root = Path(profile.serveur.racine)
    recipes = load_recipes(data_root)
    with connect(profile.serveur) as transport:
        facts = deploy.read_facts(transport, profile)
    bundle, secrets, _ = deploy.desired(profile, recipes, facts)
    write_bundle(bundle, str(root))
    commune = root / "communes" / bundle.slug
    (commune / "secrets").mkdir(mode=0o700)
    (commune / "secrets" / "secrets.json").write_text(json.dumps(secrets))
    (commune / "state.json").write_text(json.dumps({"release": bundle.release,
                                                    "ports": bundle.ports}))
    (root / ".bootstrap").write_text("1\n")


def _tree(path: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def test_fleet_noop_over_several_hosts_with_one_unreachable(images, data_root, tmp_path, cli):
    folder = tmp_path / "inventaire"
    folder.mkdir()
    with contextlib.ExitStack() as stack:
        hosts = [stack.enter_context(running_sshd()) for _ in range(3)]
        roots = []
        for i, host in enumerate(hosts):
            root = tmp_path / f"srv{i}"
            root.mkdir()
            root.chmod(0o755)
            roots.append(root)
            data = profile_data(host.host, host.port, host.fingerprint, host.client_key, root,
                                f"Commune {i}", f"commune-{i}")
            predeploy(data, data_root)
            (folder / f"commune-{i}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        # A fourth commune whose server does not answer (a closed loopback port).
        down = profile_data("127.0.0.1", free_port(), hosts[0].fingerprint, hosts[0].client_key,
                            tmp_path / "srv-down", "Commune injoignable", "commune-down")
        (folder / "commune-down.yaml").write_text(yaml.safe_dump(down), encoding="utf-8")
        before = [_tree(r) for r in roots]
        env = {"KIT_COLLAB_RECIPES": str(data_root)}
        result = cli("install", folder, "--yes", "--json", "-j", "4", env=env)
        report = json.loads(result.out)
        by = {c["commune"]: c for c in report["communes"]}
        assert [by[f"commune-{i}"]["resultat"] for i in range(3)] == ["rien à faire"] * 3
        assert by["commune-down"]["resultat"] == "erreur"
        assert "127.0.0.1" in by["commune-down"]["message"]
        assert result.code == 3  # the unreachable server decides the exit code
        assert [_tree(r) for r in roots] == before  # nothing touched anywhere
        logs = Path(report["journaux"])
        assert (logs / "commune-0.log").is_file() and (logs / "commune-down.log").is_file()
        # --seulement / --sauf select communes; the human table names each one.
        only = cli("plan", folder, "--sauf", "commune-down", env=env)
        assert only.code == 0
        assert "commune-0" in only.out and "commune-down" not in only.out
        assert "rien à faire" in only.out


def test_two_communes_share_one_server(images, data_root, tmp_path, cli):
    folder = tmp_path / "inventaire"
    folder.mkdir()
    root = tmp_path / "srv"
    root.mkdir()
    root.chmod(0o755)
    (root / ".bootstrap").write_text("1\n")
    with running_sshd(dockerbed.HOST) as host:
        for slug in SLUGS:
            data = profile_data(host.host, host.port, host.fingerprint, host.client_key, root,
                                slug.replace("-", " ").title(), slug)
            (folder / f"{slug}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {"KIT_COLLAB_RECIPES": str(data_root)}
        result = cli("install", folder, "--yes", "--force", "--json", env=env)
        report = json.loads(result.out)
        assert result.code == 0, result.text
        assert {c["resultat"] for c in report["communes"]} == {"ok"}
        # Distinct UDP media ports, recorded on the server, stable on a re-run.
        states = {s: json.loads((root / "communes" / s / "state.json").read_text())
                  for s in SLUGS}
        media = {s: states[s]["ports"]["demo"]["media"] for s in SLUGS}
        assert len(set(media.values())) == 2
        again = json.loads(cli("install", folder, "--yes", "--json", env=env).out)
        assert {c["resultat"] for c in again["communes"]} == {"rien à faire"}
        # One commune's secrets are never mounted into the other's containers.
        ids = {s: dockerbed.container_ids(s) for s in SLUGS}
        for slug, other in (SLUGS, SLUGS[::-1]):
            mounts = dockerbed.docker("inspect", "--format", "{{json .Mounts}}",
                                      ids[slug]["demo-web"]).stdout
            assert f"/communes/{other}/" not in mounts
            assert f"/communes/{slug}/" in mounts
        # Removing one leaves the other served by the shared proxy.
        first, second = SLUGS
        removed = cli("remove", folder / f"{first}.yaml", "--yes", env=env)
        assert removed.code == 0, removed.text
        assert not dockerbed.container_ids(first)
        assert not (root / "communes" / first).exists()
        assert list((root / "retirees").glob(f"{first}-*"))
        status = cli("status", folder / f"{second}.yaml", "--json", env=env)
        assert status.code == 0
        _assert_served(host, root, data_root, folder / f"{second}.yaml")


def _assert_served(host: Sshd, root: Path, data_root: Path, path: Path) -> None:
    """HTTPS through the shared Caddy, trusting its internal CA read over SSH."""
    from kit_collab.operations import diagnose as check
    from kit_collab.profile.load import load_profile

    profile = load_profile(path)
    with connect(profile.serveur) as transport:
        facts = deploy.read_facts(transport, profile)
        bundle = deploy.desired(profile, load_recipes(data_root), facts)[0]
        ca = check.internal_ca(transport, str(root))
    findings = check.health(bundle, resolve=[f"*:{host.host}"], ca_pem=ca, deadline=30,
                            root=str(root))
    errors = [f for f in findings if f.level == "erreur"]
    assert not errors, errors
    assert any(f.level == "ok" and f"{SLUGS[1]}.fr" in f.message for f in findings)


@pytest.fixture(autouse=True)
def _known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_COLLAB_KNOWN_HOSTS", str(tmp_path / "known_hosts"))
    monkeypatch.setenv("HOME", os.environ.get("HOME", str(tmp_path)))
