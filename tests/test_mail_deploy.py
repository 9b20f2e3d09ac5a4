"""The relay's password through a real install: typed once (here: its environment variable),
uploaded with the commune's secrets, kept on the server, replaced when the operator gives a
new one; and ``kit-collab check`` reporting the relay as the server sees it. A real OpenSSH
server on loopback, the machine's Docker engine with the stand-in images and the demo recipe
(tests/dockerbed.py), as tests/test_deploy.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit_collab.cli import given_secrets
from kit_collab.profile.model import Profile

from .test_deploy import SLUG, _install
from .test_deploy import data_root as data_root  # noqa: PLC0414 - fixtures, re-exported
from .test_deploy import images as images  # noqa: PLC0414
from .test_deploy import server_root as server_root  # noqa: PLC0414
from .test_deploy import sshd as sshd  # noqa: PLC0414

RELAY = {"relais": "smtp.fournisseur.fr", "identifiant": "mairie@saint-essai.fr",
         "expediteur": "ne-pas-repondre@saint-essai.fr"}


def test_relay_password_is_kept_on_the_server_and_replaced_on_request(
        sshd, server_root: Path, data_root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    given_secrets.install()
    profile = Profile.model_validate({
        "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                    "email_contact": "mairie@saint-essai.fr", "slug": SLUG},
        "serveur": {**sshd.serveur().model_dump(), "racine": str(server_root),
                    "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
        "messagerie": RELAY})
    stored = server_root / "communes" / SLUG / "secrets" / "secrets.json"

    monkeypatch.setenv("KIT_COLLAB_SMTP_PASSWORD", "Premier-Mot-De-Passe")
    first = _install(sshd, profile, tmp_path, data_root)
    assert first.applied
    assert json.loads(stored.read_text())["messagerie"] == {
        "mot_de_passe": "Premier-Mot-De-Passe"}

    # Kept: the next run asks nothing (no variable, no terminal) and changes nothing.
    monkeypatch.delenv("KIT_COLLAB_SMTP_PASSWORD")
    again = _install(sshd, profile, tmp_path, data_root)
    assert not again.applied and again.plan.noop

    # A new one given: stored in place of the old one.
    monkeypatch.setenv("KIT_COLLAB_SMTP_PASSWORD", "Second-Mot-De-Passe")
    _install(sshd, profile, tmp_path, data_root)
    assert json.loads(stored.read_text())["messagerie"] == {
        "mot_de_passe": "Second-Mot-De-Passe"}


def test_check_reports_the_relay_seen_from_the_server(
        sshd, server_root: Path, data_root: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """``kit-collab check`` over SSH: the relay is probed from the server and its finding is
    in the report. The relay here offers no STARTTLS (refused before any password)."""
    import yaml

    from . import checkbed
    from .test_mail_relay import relay

    with relay(tmp_path, "plain") as r, \
            checkbed.dnsmasq(tmp_path / "dns", {}, zone="saint-essai.fr") as dns:
        data = {
            "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                        "email_contact": "mairie@saint-essai.fr", "slug": SLUG},
            "serveur": {"hote": sshd.host, "port_ssh": sshd.port, "cle_ssh": str(sshd.client_key),
                        "hebergeur": "test", "pays": "FR", "racine": str(server_root),
                        "certificats": {"mode": "interne"}},
            "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                         "jitsi": {"actif": False}},
            "messagerie": {**RELAY, "relais": "127.0.0.1", "port": r.port}}
        path = tmp_path / "commune.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        env = {"KIT_COLLAB_RECIPES": str(data_root),
               "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
               "KIT_COLLAB_SMTP_PASSWORD": "Mot-De-Passe-Relais"}
        result = cli("check", path, "--json", "--dns", dns, "--deadline", "0",
                     "--accept-host-key", sshd.fingerprint, env=env)
    (commune,) = json.loads(result.out)["communes"]
    (found,) = [c for c in commune["rapport"]["constats"] if c["service"] == "messagerie"]
    assert found["niveau"] == "erreur" and "ne propose pas STARTTLS" in found["message"]
    assert "Mot-De-Passe-Relais" not in result.text
