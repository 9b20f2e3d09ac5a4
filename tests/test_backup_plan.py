"""Backups as pure data: the ``sauvegardes:`` section, what a snapshot holds and in which
order, the retention, the scripts' goldens and their parsers (no server, no restic)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kit_collab.apply.scripts import backup as script
from kit_collab.plan import backup, changes
from kit_collab.profile.backup_model import Sauvegardes, repository
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "scripts" / "backup"
ROOT = "/opt/kit-collab"
SLUG = "saint-essai-fr"
DATA = changes.data_of(load_recipes(REPO))
VERSIONS = {"nextcloud": "1.0.0+34.0.2", "matrix": "1.0.0+1.157.1", "jitsi": "1.0.0+11146"}


def _section(**values: Any) -> dict[str, Any]:
    return {"type": "s3", "adresse": "https://s3.fr-par.exemple.fr/seau/commune", "pays": "FR",
            **values}


def _profile(section: dict[str, Any] | None) -> Profile:
    data = base_profile()
    if section is not None:
        data["sauvegardes"] = section
    return Profile.model_validate(data)


# --- the profile section ---------------------------------------------------------------------


def test_no_section_means_no_backups_and_defaults_fill_the_rest() -> None:
    assert _profile(None).sauvegardes is None
    s = _profile(_section()).sauvegardes
    assert s is not None and s.heure == "02:30"
    assert (s.conservation.quotidiennes, s.conservation.hebdomadaires,
            s.conservation.mensuelles) == (7, 4, 12)


@pytest.mark.parametrize(("kind", "address", "repo"), [
    ("s3", "https://s3.fr-par.exemple.fr/seau/commune", "s3:https://s3.fr-par.exemple.fr/seau/commune"),
    ("sftp", "sauv@nas.exemple.fr:/srv/commune", "sftp:sauv@nas.exemple.fr:/srv/commune"),
    ("sftp", "sauv@nas.exemple.fr:2222:/srv/commune", "sftp://sauv@nas.exemple.fr:2222//srv/commune"),
    ("rest", "https://sauv.exemple.fr:8000/commune/", "rest:https://sauv.exemple.fr:8000/commune/"),
    ("disque", "/mnt/sauvegarde/commune", "/mnt/sauvegarde/commune"),
])
def test_each_destination_becomes_restics_repository_string(kind: str, address: str,
                                                              repo: str) -> None:
    s = Sauvegardes.model_validate({"type": kind, "adresse": address, "pays": "FR"})
    assert s.repository == repo == repository(kind, address)


def test_a_disk_needs_no_country() -> None:
    assert Sauvegardes.model_validate({"type": "disque", "adresse": "/mnt/x"}).pays is None


@pytest.mark.parametrize(("values", "words"), [
    ({"pays": "US"}, "hors UE/EEE (US)"),
    ({"pays": None}, "pays de la destination manquant"),
    ({"adresse": "ftp://x"}, "adresse « ftp://x » invalide pour le type s3"),
    ({"type": "sftp", "adresse": "/srv/x"}, "invalide pour le type sftp"),
    ({"heure": "25:00"}, "heure attendue au format HH:MM"),
    ({"conservation": {"quotidiennes": 0, "hebdomadaires": 0, "mensuelles": 0}},
     "au moins une sauvegarde doit être gardée"),
    ({"mot_de_passe": "x"}, "mot_de_passe"),
])
def test_a_bad_section_is_refused_in_french(values: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        _profile(_section(**values))
    assert words in str(info.value)


def test_outside_the_eu_with_a_written_reason_is_accepted() -> None:
    s = _profile(_section(pays="CH", derogation_hors_ue="convention signée avec la commune "
                          "voisine suisse")).sauvegardes
    assert s is not None and s.pays == "CH"


# --- the plan ----------------------------------------------------------------------------------


def test_the_plan_dumps_each_database_and_copies_each_volume_nextcloud_last() -> None:
    p = backup.plan(SLUG, f"{ROOT}/communes/{SLUG}", DATA, VERSIONS)
    assert [(d.service, d.base, d.quiet) for d in p.dumps] == [
        ("matrix-db", "synapse", False), ("nextcloud-db", "nextcloud", True)]
    assert [v.name for v in p.volumes] == ["jitsi_prosody_data", "matrix_data",
                                           "nextcloud_html"]
    assert p.maintenance == ("nextcloud",)
    assert p.paths("r-1") == (
        f"{ROOT}/communes/{SLUG}/sauvegarde/staging/postgres",
        f"/var/lib/docker/volumes/{SLUG}_jitsi_prosody_data/_data",
        f"/var/lib/docker/volumes/{SLUG}_matrix_data/_data",
        f"/var/lib/docker/volumes/{SLUG}_nextcloud_html/_data",
        f"{ROOT}/communes/{SLUG}/secrets", f"{ROOT}/communes/{SLUG}/state.json",
        f"{ROOT}/communes/{SLUG}/releases/r-1")
    assert p.tags("r-1") == ("kit-collab", f"commune={SLUG}", "release=r-1",
                             "recette=jitsi@1.0.0+11146", "recette=matrix@1.0.0+1.157.1",
                             "recette=nextcloud@1.0.0+34.0.2")


def test_without_nextcloud_nothing_goes_into_maintenance() -> None:
    data = {k: v for k, v in DATA.items() if k != "nextcloud"}
    p = backup.plan(SLUG, "/c", data, {})
    assert p.maintenance == () and all(not d.quiet for d in p.dumps)


def test_retention_becomes_forget_flags_and_zero_is_left_out() -> None:
    assert backup.Retention().args() == ("--keep-daily=7", "--keep-weekly=4",
                                         "--keep-monthly=12")
    assert backup.Retention(daily=3, weekly=0, monthly=1).args() == ("--keep-daily=3",
                                                                     "--keep-monthly=1")


# --- the scripts: goldens, sh -n, shellcheck ----------------------------------------------------

PLAN = backup.plan(SLUG, f"{ROOT}/communes/{SLUG}", DATA, VERSIONS)
CASES: dict[str, Callable[[], str]] = {
    "sauvegarder": lambda: script.backup_script(ROOT, PLAN),
    "sauvegarder-sftp": lambda: script.backup_script(ROOT, PLAN, ("sauv", "nas.exemple.fr", 2222)),
    "configure-s3": lambda: script.configure(ROOT, SLUG, "s3", "s3:https://s3.exemple.fr/b/c"),
    "configure-sftp": lambda: script.configure(ROOT, SLUG, "sftp", "sftp:sauv@nas:/srv/c",
                                               ("sauv", "nas", 22)),
    "install": lambda: script.install_script(ROOT, SLUG, "#!/bin/sh\n"),
    "run-progress": lambda: script.run(ROOT, SLUG, progress=True),
    "run-list": lambda: script.run(ROOT, SLUG, "lister"),
    "read-status": lambda: script.read_status(ROOT, SLUG),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_backup_script_matches_its_golden(case: str) -> None:
    text = CASES[case]()
    path = GOLDEN / f"{case}.sh"
    if os.environ.get("KIT_COLLAB_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_backup_script_passes_sh_and_shellcheck(case: str) -> None:
    result = subprocess.run(["sh", "-n"], input=CASES[case](), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    result = subprocess.run([shellcheck, "--shell=sh", "--norc", "--exclude=SC2016", "-"],
                            input=CASES[case](), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_rest_credentials_are_percent_encoded_into_the_repository_only() -> None:
    text = script.env_file("/c/secrets", "rest", "rest:https://h:8000/c/",
                           {"KIT_COLLAB_REST_USER": "mairie",
                            "KIT_COLLAB_REST_PASSWORD": "p@ss:w/rd"})
    assert "RESTIC_REPOSITORY=rest:https://mairie:p%40ss%3Aw%2Frd@h:8000/c/\n" in text
    assert "KIT_COLLAB_DESTINATION='rest rest:https://h:8000/c/'" in text
    s3 = script.env_file("/c/secrets", "s3", "s3:https://h/b", {
        "KIT_COLLAB_S3_ACCESS_KEY": "AK", "KIT_COLLAB_S3_SECRET_KEY": "S'K"})
    assert "AWS_SECRET_ACCESS_KEY='S'\"'\"'K'" in s3
    assert "RESTIC_PASSWORD_FILE=/c/secrets/restic.pass" in s3


def test_snapshot_list_reads_restic_json_and_sizes_from_the_history() -> None:
    out = ('snapshots [{"time":"2026-12-03T02:41:07.1Z","short_id":"117b8739","id":"117b87",'
           '"tags":["kit-collab","release=r-2","recette=matrix@1.0"]},'
           '{"time":"2026-12-04T02:40:00Z","id":"22222222aaaa","tags":["release=r-3"],'
           '"summary":{"total_bytes_processed":42}}]\n'
           'historique {"snapshot": "117b8739", "taille": 3000000}\nhistorique pas du json\n')
    assert script.parse_snapshots(out) == [
        {"id": "117b8739", "date": "2026-12-03T02:41:07Z", "release": "r-2", "taille": 3000000,
         "recettes": ["matrix@1.0"]},
        {"id": "22222222", "date": "2026-12-04T02:40:00Z", "release": "r-3", "taille": 42,
         "recettes": []}]


def test_status_files_and_progress_lines_are_parsed() -> None:
    last, checked = script.parse_status('derniere {"ok": true, "snapshot": "ab"}\nverification \n')
    assert last == {"ok": True, "snapshot": "ab"} and checked is None
    assert script.parse_progress(
        b'progres {"message_type":"status","percent_done":0.5,"total_bytes":100}') == (50, 100)
    assert script.parse_progress('progres {"message_type":"summary"}') is None
    assert script.parse_progress("autre chose") is None
    assert script.failure(script.WRONG_PASSWORD_EXIT) == "mot-de-passe"
    assert script.failure(1) is None
    assert script.failure(-1) == script.failure(143) == "interrompue"  # stopped by a signal


def test_credentials_come_from_the_environment_only_when_all_are_there() -> None:
    from kit_collab.operations.backup import credentials

    env = {"KIT_COLLAB_S3_ACCESS_KEY": "AK", "KIT_COLLAB_S3_SECRET_KEY": "SK"}
    assert credentials("s3", env) == env
    assert credentials("s3", {"KIT_COLLAB_S3_ACCESS_KEY": "AK"}) is None  # the server's kept
    assert credentials("disque", {}) == {} and credentials("sftp", env) == {}
