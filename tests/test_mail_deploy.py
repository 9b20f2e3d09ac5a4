"""The relay's password through a real install: typed once (here: its environment variable),
uploaded with the commune's secrets, kept on the server, replaced when the operator gives a
new one. A real OpenSSH server on loopback, the machine's Docker engine with the stand-in
images and the demo recipe (tests/dockerbed.py), as tests/test_deploy.py."""

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
