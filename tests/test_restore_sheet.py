"""The recovery sheet: what it says (destination, password, the three commands, who to call),
escaped, written privately beside the agents' sheets, never printed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kit_collab.errors import RenderError
from kit_collab.handover.recovery import RECOVERY, render_recovery, write_recovery
from kit_collab.profile.model import Profile
from kit_collab.redact import redact

from .conftest import base_profile

PASSWORD = "k3y9zq0r5m2x8c4v7b1n6a0s9d8f7g6h"  # noqa: S105 (a test value)


def _profile(**backup: str) -> Profile:
    data = base_profile()
    data["commune"]["nom"] = "L'Haÿ <script>alert(1)</script>"
    data["sauvegardes"] = {"type": "rest", "adresse": "https://sauvegarde.example.fr:8000/c/",
                           "pays": "FR", **backup}
    data["assistance"] = {"nom": "Service informatique", "telephone": "04 90 12 34 56"}
    return Profile.model_validate(data)


def test_the_sheet_holds_what_a_new_server_needs() -> None:
    html = render_recovery(_profile(), PASSWORD)
    assert PASSWORD in html
    assert "https://sauvegarde.example.fr:8000/c/" in html
    assert "kit-collab restore commune.yaml" in html
    assert "serveur.hote" in html and "pipx install" in html
    assert "04 90 12 34 56" in html and "Service informatique" in html
    assert "KIT_COLLAB_REST_USER" in html  # named, never their values
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_no_sheet_without_a_password_or_a_destination() -> None:
    with pytest.raises(RenderError):
        render_recovery(_profile(), "")
    with pytest.raises(RenderError):
        render_recovery(Profile.model_validate(base_profile()), PASSWORD)


def test_the_sheet_is_private_and_its_password_never_reaches_a_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "fiches-commune"
    path = write_recovery(_profile(), PASSWORD, folder)
    assert path == folder / RECOVERY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    assert PASSWORD not in redact(f"restic failed with {PASSWORD}")
