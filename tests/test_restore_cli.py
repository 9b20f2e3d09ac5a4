"""``kit-collab restore`` as a user runs it, on this machine (``serveur.hote: local``, a
temporary server root) with a real restic repository on disk: the French answers before
anything is replaced (no backup, wrong password, unknown snapshot, a confirmation refused)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Result, base_profile

SLUG = "saint-essai-fr"
PASSWORD = "mot-de-passe-du-depot-0123456789"  # noqa: S105 (a test repository's)
pytestmark = pytest.mark.skipif(shutil.which("restic") is None,
                                reason="restic is not installed (Debian package restic)")


def _profile(tmp_path: Path, repo: Path) -> Path:
    data: dict[str, Any] = base_profile()
    data["serveur"] = {"hote": "local", "ip_publique": "192.0.2.10", "hebergeur": "test",
                       "pays": "FR",
                       "racine": str(tmp_path / "racine")}
    data["sauvegardes"] = {"type": "disque", "adresse": str(repo)}
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _repository(tmp_path: Path, *, snapshot: bool) -> Path:
    """A repository holding (or not) one backup of the commune, as the contract tags it."""
    repo, src = tmp_path / "depot", tmp_path / "src" / "communes" / SLUG
    (src / "secrets").mkdir(parents=True)
    (src / "secrets" / "secrets.json").write_text("{}")
    (src / "releases" / "r-1").mkdir(parents=True)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(pw)}
    subprocess.run(["restic", "init", "-q"], env=env, check=True, capture_output=True)
    if snapshot:
        subprocess.run(["restic", "backup", "-q", "--host", SLUG, "--tag", "kit-collab",
                        "--tag", f"commune={SLUG}", "--tag", "release=r-1",
                        str(src / "secrets"), str(src / "releases" / "r-1")],
                       env=env, check=True, capture_output=True)
    return repo


def test_restore_without_a_backup_section_says_where_to_copy_it_from(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    path = _profile(tmp_path, tmp_path / "depot")
    data = yaml.safe_load(path.read_text())
    del data["sauvegardes"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = cli("restore", path, "--yes", env={"KIT_COLLAB_RESTIC_PASSWORD": PASSWORD})
    assert result.code == 2, result.text
    assert "sauvegardes:" in result.text and "fiche de secours" in result.text


def test_a_wrong_password_is_said_in_french_and_nothing_is_restored(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    path = _profile(tmp_path, _repository(tmp_path, snapshot=True))
    result = cli("restore", path, "--yes", env={"KIT_COLLAB_RESTIC_PASSWORD": "faux-mot-de-passe"})
    assert result.code == 2, result.text
    assert "mot de passe du dépôt de sauvegarde incorrect" in result.text
    assert "faux-mot-de-passe" not in result.text
    assert not (tmp_path / "racine" / "communes" / SLUG / "current").exists()


def test_an_unknown_snapshot_is_named(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = _profile(tmp_path, _repository(tmp_path, snapshot=True))
    result = cli("restore", path, "--snapshot", "deadbeef", "--yes",
                 env={"KIT_COLLAB_RESTIC_PASSWORD": PASSWORD})
    assert result.code == 2, result.text
    assert "sauvegarde introuvable : deadbeef" in result.text
    assert PASSWORD not in result.text


def test_an_empty_repository_says_there_is_no_backup_of_the_commune(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    path = _profile(tmp_path, _repository(tmp_path, snapshot=False))
    result = cli("restore", path, "--yes", env={"KIT_COLLAB_RESTIC_PASSWORD": PASSWORD})
    assert result.code == 2, result.text
    assert "aucune sauvegarde de cette commune" in result.text


def test_replacing_running_data_without_yes_is_refused_and_nothing_changes(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    path = _profile(tmp_path, _repository(tmp_path, snapshot=True))
    commune = tmp_path / "racine" / "communes" / SLUG
    (commune / "releases" / "r-9").mkdir(parents=True)
    (commune / "current").symlink_to("releases/r-9")
    result = cli("restore", path, env={"KIT_COLLAB_RESTIC_PASSWORD": PASSWORD})
    assert result.code == 2, result.text
    assert "restauration annulée" in result.text and "--yes" in result.text
    assert os.readlink(commune / "current") == "releases/r-9"
    assert not (commune / "restauration.json").exists()
