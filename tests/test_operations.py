"""The command line over one profile and over an inventory behaves the same: the options of
``check`` and ``install`` reach every commune, ``--json`` prints one document shape, list
options split on commas, and ``validate`` checks an inventory as a whole. Each test is named
after the symptom it pins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLES, base_profile
from .sshd import free_port

DEFAULTS = {"serveur": {"hote": "127.0.0.1", "hebergeur": "ovhcloud", "pays": "FR",
                        "certificats": {"email_acme": "dsi@interco.fr"}},
            "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                         "jitsi": {"actif": False}}}


def _commune(name: str, domain: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"commune": {"nom": name, "domaine": domain,
                                        "email_contact": f"mairie@{domain}"}}
    data.update(extra)
    return data


def _inventory(folder: Path, *communes: tuple[str, dict[str, Any]],
               defaults: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "defauts.yaml").write_text(yaml.safe_dump(defaults or DEFAULTS), "utf-8")
    for name, data in communes:
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return folder


def _three(tmp_path: Path) -> Path:
    return _inventory(tmp_path / "inventaire", ("alpha", _commune("Alpha", "alpha.interco.fr")),
                      ("beta", _commune("Bêta", "beta.interco.fr")),
                      ("gamma", _commune("Gamma", "gamma.interco.fr")))


@pytest.fixture
def no_ssh(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any SSH connection attempt is recorded and refused."""
    from kit_collab.apply import transport
    from kit_collab.errors import ConnectError

    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise ConnectError("connexion SSH tentée")

    monkeypatch.setattr(transport, "connect", refuse)
    return attempts


# ---------------------------------------------------------------------------------------------
# check over an inventory


def test_check_inventory_keeps_no_server_resolve_dns_deadline_and_dns_records(
        cli: Any, tmp_path: Path, no_ssh: list[Any]) -> None:
    from . import checkbed

    folder = _three(tmp_path)
    with checkbed.dnsmasq(tmp_path / "dns", {}, zone="interco.fr") as dns_server:
        result = cli("check", folder, "--no-server", "--dns", dns_server, "--resolve",
                     "*:127.0.0.1", "--deadline", "0", "--json", "--seulement", "alpha")
    assert no_ssh == []  # --no-server: no SSH at all
    report = json.loads(result.out)
    (alpha,) = report["communes"]
    assert alpha["commune"] == "alpha-interco-fr" and alpha["code"] == result.code != 3
    # The DNS records to create are in the fleet's report, per commune.
    assert "cloud.alpha.interco.fr. 3600 IN A 127.0.0.1" in alpha["rapport"][
        "enregistrements_dns"]
    checks = {c["controle"] for c in alpha["rapport"]["constats"]}
    assert "dns cloud.alpha.interco.fr" in checks and "version" not in checks


def test_check_inventory_keeps_ca_cert(cli: Any, tmp_path: Path, no_ssh: list[Any]) -> None:
    folder = _three(tmp_path)
    bogus = tmp_path / "pas-un-certificat.pem"
    bogus.write_text("rien\n", "utf-8")
    result = cli("check", folder, "--no-server", "--ca-cert", bogus)
    assert result.code == 2, result.text  # read (and refused) before anything runs
    assert no_ssh == []


# ---------------------------------------------------------------------------------------------
# install over an inventory


def _fake_install(monkeypatch: pytest.MonkeyPatch, seen: list[dict[str, Any]]) -> None:
    """deploy.install records its options and "applies" the bundle rendered here; the
    health checks find nothing; the connection is a stand-in."""
    from kit_collab.apply import deploy, transport
    from kit_collab.check.probes import health
    from kit_collab.operations.prepare import prepare

    def install(transport_: Any, profile: Any, recipes: Any, **kwargs: Any) -> Any:
        seen.append({"commune": profile.commune.code, **kwargs})
        prepared = prepare(_PATHS[profile.commune.code], persist=False)
        plan = SimpleNamespace(previous="", added=("a",), changed=(), removed=(), restart=(),
                               release=prepared.bundle.release)
        return deploy.Outcome(plan=plan, bundle=prepared.bundle, applied=True,
                              secrets=prepared.secrets)

    class Stand:
        def close(self) -> None:
            pass

        def run(self, *_a: Any, **_k: Any) -> Any:  # occ app:list: every promised app enabled
            apps = {a: "1.0" for a in ("calendar", "contacts", "deck", "groupfolders",
                                       "richdocuments")}
            return SimpleNamespace(code=0, stdout=json.dumps({"enabled": apps}).encode())

    monkeypatch.setattr(deploy, "install", install)
    monkeypatch.setattr(transport, "connect", lambda *a, **k: Stand())
    monkeypatch.setattr(health, "run_health", lambda *a, **k: [])


_PATHS: dict[str, Path] = {}


def test_fleet_install_keeps_fiches_and_lock_wait(cli: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = base_profile()
    data["services"] = DEFAULTS["services"]
    folder = _inventory(tmp_path / "inventaire")
    for name, domain in (("alpha", "alpha.interco.fr"), ("beta", "beta.interco.fr")):
        one = {**data, "commune": _commune(name.title(), domain)["commune"]}
        del one["serveur"]
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(one, allow_unicode=True), "utf-8")
        _PATHS[f"{name}-interco-fr"] = path
    seen: list[dict[str, Any]] = []
    _fake_install(monkeypatch, seen)
    sheets = tmp_path / "fiches"
    result = cli("install", folder, "--yes", "--json", "--lock-wait", "7", "--fiches", sheets,
                 env={"KIT_COLLAB_WAIT": "0"})
    assert result.code == 0, result.text
    assert sorted(s["lock_wait"] for s in seen) == [7, 7]
    for slug in ("alpha-interco-fr", "beta-interco-fr"):
        assert (sheets / f"fiches-{slug}").is_dir()
        assert not (folder / f"fiches-{slug}").exists()


# ---------------------------------------------------------------------------------------------
# install --dry-run


def test_install_dry_run_json_prints_json_for_a_profile_and_an_inventory(
        cli: Any, tmp_path: Path) -> None:
    single = cli("install", EXAMPLES / "petite-commune.yaml", "--dry-run", "--json")
    assert single.code == 0, single.text
    doc = json.loads(single.out)
    assert doc["commande"] == "install" and doc["simulation"] is True
    (commune,) = doc["communes"]
    assert commune["code"] == 0 and commune["commune"] == "lhay-sur-mer-fr"
    assert "https://cloud.lhay-sur-mer.fr" in json.dumps(commune["rapport"]["recettes"])
    fleet = cli("install", _three(tmp_path), "--dry-run", "--json")
    assert fleet.code == 0, fleet.text
    assert [c["commune"] for c in json.loads(fleet.out)["communes"]] == [
        "alpha-interco-fr", "beta-interco-fr", "gamma-interco-fr"]
    assert set(json.loads(fleet.out)["communes"][0]) == set(commune)


def test_install_dry_run_seulement_splits_on_commas(cli: Any, tmp_path: Path) -> None:
    folder = _three(tmp_path)
    result = cli("install", folder, "--dry-run", "--json", "--seulement", "alpha,beta")
    assert result.code == 0, result.text
    assert [c["commune"] for c in json.loads(result.out)["communes"]] == [
        "alpha-interco-fr", "beta-interco-fr"]
    skip = cli("install", folder, "--dry-run", "--json", "--sauf", "alpha, gamma")
    assert [c["commune"] for c in json.loads(skip.out)["communes"]] == ["beta-interco-fr"]


# ---------------------------------------------------------------------------------------------
# validate an inventory


def test_validate_inventory_folder_validates_the_inventory(cli: Any, tmp_path: Path) -> None:
    folder = _three(tmp_path)
    result = cli("validate", folder)
    assert result.code == 0, result.text
    assert "est un dossier" not in result.text
    assert result.out.count("profil valide") == 3


def test_validate_inventory_glob_accepts_defauts_and_runs_cross_checks(
        cli: Any, tmp_path: Path) -> None:
    folder = _three(tmp_path)
    files = sorted(folder.glob("*.yaml"))  # as the shell expands inventaire/*.yaml
    assert folder / "defauts.yaml" in files
    ok = cli("validate", *files)
    assert ok.code == 0, ok.text
    (folder / "delta.yaml").write_text(yaml.safe_dump(_commune("Delta", "alpha.interco.fr") | {
        "commune": {**_commune("Delta", "alpha.interco.fr")["commune"], "slug": "delta"}}),
        "utf-8")
    clash = cli("validate", "--json", *sorted(folder.glob("*.yaml")))
    assert clash.code == 2
    report = {Path(r["fichier"]).name: r for r in json.loads(clash.out)}
    assert "defauts.yaml" not in report
    assert not report["delta.yaml"]["valide"]
    assert any("alpha.yaml" in p["message"] for p in report["delta.yaml"]["problemes"])


# ---------------------------------------------------------------------------------------------
# --json: one shape for one profile and for a fleet


@pytest.mark.parametrize("command", ["plan", "status", "users"])
def test_single_profile_json_on_ssh_failure_prints_the_fleet_document(
        cli: Any, tmp_path: Path, command: str) -> None:
    data = base_profile()
    data["serveur"].update({"hote": "127.0.0.1", "port_ssh": free_port()})
    folder = tmp_path / "inventaire"
    folder.mkdir()
    path = folder / "commune.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    single = cli(command, path, "--json")
    assert single.code == 3, single.text  # connection failure: exit code unchanged
    doc = json.loads(single.out)
    assert doc["commande"] == command
    (commune,) = doc["communes"]
    assert commune["code"] == 3 and commune["resultat"] == "erreur"
    assert "127.0.0.1" in commune["message"]
    fleet = cli(command, folder, "--json")
    assert fleet.code == 3
    assert set(json.loads(fleet.out)["communes"][0]) == set(commune)


# ---------------------------------------------------------------------------------------------
# selections


def test_empty_fleet_selection_is_an_input_error(cli: Any, tmp_path: Path,
                                                 no_ssh: list[Any]) -> None:
    folder = _three(tmp_path)
    for command in (["plan"], ["status"], ["install", "--dry-run"], ["check"]):
        result = cli(*command, folder, "--seulement", "alpha", "--sauf", "alpha")
        assert result.code == 2, (command, result.text)
        assert "aucune commune choisie" in result.err
    assert no_ssh == []


# ---------------------------------------------------------------------------------------------
# start-up


def _modules_after(*argv: str) -> set[str]:
    import kit_collab

    code = ("import sys\nfrom kit_collab.cli.app import run\n"
            f"code = run({list(argv)!r})\n"
            "print('--modules--')\nprint('\\n'.join(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**os.environ,
                                 "PYTHONPATH": str(Path(kit_collab.__file__).parents[1])})
    assert result.returncode == 0, result.stderr
    # Only what follows the marker: the help's own words ("dns" is a command) are not modules.
    return set(result.stdout.split("--modules--\n", 1)[1].split())


def test_validate_and_help_import_no_network_stack_nor_help_renderer_at_start() -> None:
    heavy = {"paramiko", "httpx", "dns", "dns.resolver", "jinja2"}
    validate = _modules_after("validate", str(EXAMPLES / "petite-commune.yaml"))
    assert not heavy & validate
    assert "typer.rich_utils" not in validate and "markdown_it" not in validate
    helped = _modules_after("--help")
    assert not heavy & helped
    assert "typer.rich_utils" in helped  # help displayed: the renderer is loaded then


def test_operations_and_fleet_import_no_cli_rich_nor_typer() -> None:
    """The operations are data in, data out; the fleet calls them, never a command module."""
    import ast

    import kit_collab

    package = Path(kit_collab.__file__).parent
    for folder in ("operations", "fleet"):
        for source in sorted((package / folder).glob("*.py")):
            tree = ast.parse(source.read_text("utf-8"))
            names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
            names |= {node.module or "" for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom)}
            bad = {n for n in names if n.split(".")[0] in ("rich", "typer")
                   or n.startswith("kit_collab.cli")}
            assert not bad, f"{source.name}: {sorted(bad)}"
