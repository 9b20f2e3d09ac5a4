"""``check`` before the server exists (issue 15, item 4): ``init`` says "Ensuite : kit-collab
check" for the DNS records, but before the server was reachable ``check`` stopped at the SSH
error (exit 3) and printed no record. Now the SSH failure is one finding with its fix, and
DNS, ports and the records to create are still checked; single profile and fleet alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .sshd import free_port
from .test_operations import _commune, _inventory

SERVER = {"hote": "127.0.0.1", "hebergeur": "ovhcloud", "pays": "FR",
          "certificats": {"email_acme": "dsi@interco.fr"}}
SERVICES = {"nextcloud": {"actif": True}, "matrix": {"actif": False},
            "jitsi": {"actif": False}}


def _closed_port_server() -> dict[str, Any]:
    return {**SERVER, "port_ssh": free_port()}  # nothing listens there: a real refusal


def _ssh_finding(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["constats"] if c["controle"] == "ssh")


def test_check_before_the_server_answers_still_prints_the_dns_records(cli: Any,
                                                                     tmp_path: Path) -> None:
    from . import checkbed

    profile = tmp_path / "alpha.yaml"
    profile.write_text(yaml.safe_dump({**_commune("Alpha", "alpha.interco.fr"),
                                       "serveur": _closed_port_server(),
                                       "services": SERVICES}, allow_unicode=True), "utf-8")
    with checkbed.dnsmasq(tmp_path / "dns", {}, zone="interco.fr") as dns_server:
        as_json = cli("check", profile, "--dns", dns_server, "--deadline", "0", "--json")
        human = cli("check", profile, "--dns", dns_server, "--deadline", "0")
    assert as_json.code == 3, as_json.text
    (alpha,) = json.loads(as_json.out)["communes"]
    ssh = _ssh_finding(alpha["rapport"])
    assert ssh["niveau"] == "erreur" and "connexion refusée" in ssh["message"]
    assert ssh["correction"]  # the fix is said
    records = alpha["rapport"]["enregistrements_dns"]
    assert any(r.startswith("cloud.alpha.interco.fr.") for r in records)
    assert human.code == 3
    assert "Enregistrements DNS à créer" in human.out and "cloud.alpha.interco.fr" in human.out


def test_fleet_check_with_a_server_not_yet_reachable_reports_the_records(
        cli: Any, tmp_path: Path) -> None:
    from . import checkbed

    folder = _inventory(tmp_path / "inventaire",
                        ("alpha", _commune("Alpha", "alpha.interco.fr")),
                        defaults={"serveur": _closed_port_server(), "services": SERVICES})
    with checkbed.dnsmasq(tmp_path / "dns", {}, zone="interco.fr") as dns_server:
        result = cli("check", folder, "--dns", dns_server, "--deadline", "0", "--json")
    (alpha,) = json.loads(result.out)["communes"]
    assert alpha["code"] == 3
    assert _ssh_finding(alpha["rapport"])["niveau"] == "erreur"
    assert alpha["rapport"]["enregistrements_dns"]
