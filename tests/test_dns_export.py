"""DNS for people and for fleets (issue 15, item 9): records in registrar form, an export of a
whole inventory that works before any server is reachable, a per-server total in the fleet's
dry run, and a private or loopback public address as a warning."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from kit_collab.check.rules.dns_records import Record, address_findings, as_zone, wanted

from .test_operations import _commune, _inventory, no_ssh  # noqa: F401

SERVER = {"hote": "198.51.100.20", "hebergeur": "ovhcloud", "pays": "FR",
          "certificats": {"email_acme": "dsi@interco.fr"}}
SERVICES = {"nextcloud": {"actif": True}, "matrix": {"actif": False},
            "jitsi": {"actif": False}}


def _fleet(tmp_path: Path) -> Path:
    return _inventory(tmp_path / "inventaire",
                      ("alpha", _commune("Alpha", "alpha.interco.fr")),
                      ("beta", _commune("Bêta", "beta.interco.fr")),
                      defaults={"serveur": SERVER, "services": SERVICES})


def test_registrar_form_has_type_subdomain_target_ttl() -> None:
    (record,) = wanted("alpha", "alpha.fr", ["cloud.alpha.fr"], ["203.0.113.7"])
    assert (record.kind, record.subdomain, record.target, record.ttl) == (
        "A", "cloud", "203.0.113.7", 3600)
    assert Record("a", "alpha.fr", "alpha.fr", "A", "203.0.113.7").subdomain == "@"
    assert wanted("a", "alpha.fr", ["cloud.alpha.fr"], ["2001:db8::1"])[0].kind == "AAAA"


def test_server_known_by_name_only_gives_cnames_and_a_bare_domain_to_fill() -> None:
    found = wanted("a", "alpha.fr", ["cloud.alpha.fr", "alpha.fr"], [], "srv1.interco.fr")
    assert found[0].kind == "CNAME" and found[0].target == "srv1.interco.fr"
    assert found[0].zone_line() == "cloud.alpha.fr. 3600 IN CNAME srv1.interco.fr."
    assert found[1].target == "à compléter"
    assert "; alpha.fr. 3600 IN A (à compléter)" in as_zone(found)


def test_inventory_export_works_before_any_server_exists(cli: Any, tmp_path: Path,
                                                         no_ssh: list[Any]) -> None:  # noqa: F811
    folder = _fleet(tmp_path)
    out = tmp_path / "dns.csv"
    result = cli("dns", folder, "--format", "csv", "--sortie", out)
    assert result.code == 0, result.text
    assert no_ssh == []  # nothing connected anywhere
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert {(r["zone"], r["type"], r["sous_domaine"], r["cible"]) for r in rows} >= {
        ("alpha.interco.fr", "A", "cloud", "198.51.100.20"),
        ("beta.interco.fr", "A", "cloud", "198.51.100.20")}
    zone = cli("dns", folder, "--format", "zone", "--seulement", "beta-interco-fr")
    assert "cloud.beta.interco.fr. 3600 IN A 198.51.100.20" in zone.out
    assert "alpha" not in zone.out
    as_json = json.loads(cli("dns", folder, "--json").out)
    assert {r["commune"] for r in as_json["enregistrements"]} == {
        "alpha-interco-fr", "beta-interco-fr"}


def test_dns_table_for_one_profile(cli: Any, tmp_path: Path) -> None:
    folder = _fleet(tmp_path)
    result = cli("dns", folder / "alpha.yaml")
    assert result.code == 0
    assert "Sous-domaine" in result.out and "cloud" in result.out


def test_unknown_format_is_an_input_error(cli: Any, tmp_path: Path) -> None:
    result = cli("dns", _fleet(tmp_path), "--format", "bind")
    assert result.code == 2 and "--format bind" in result.err


def test_fleet_dry_run_sums_the_needs_per_server(cli: Any, tmp_path: Path) -> None:
    folder = _fleet(tmp_path)
    report = json.loads(cli("install", folder, "--dry-run", "--json").out)
    (server,) = report["serveurs"]
    assert server["serveur"] == "198.51.100.20"
    assert sorted(server["communes"]) == ["alpha-interco-fr", "beta-interco-fr"]
    one = report["communes"][0]["rapport"]["besoins"]["ram_mb"]
    assert server["ram_mb"] == 2 * one
    human = cli("install", folder, "--dry-run")
    assert "Besoins par serveur" in human.out


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.2", "127.0.0.1", "100.64.0.1",
                                     "fd00::1"])
def test_private_or_loopback_public_address_is_a_warning(address: str) -> None:
    (finding,) = address_findings(address)
    assert finding.level == "avertissement" and "serveur.ip_publique" in finding.fix


def test_a_public_address_is_fine() -> None:
    assert address_findings("8.8.8.8") == []
    assert address_findings("2a01:4f8::1") == []
