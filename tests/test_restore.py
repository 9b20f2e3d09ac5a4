"""Restore: the parsers and choices as pure data, the destination's settings file, and the
probe and files rounds run for real with this machine's restic against a disk repository
(the data round needs Docker volumes and a PostgreSQL image: tests/e2e/test_restore.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kit_collab.apply.restore import Destination
from kit_collab.apply.scripts import lock as lock_script
from kit_collab.apply.scripts import release as release_script
from kit_collab.apply.scripts import restore as script
from kit_collab.errors import ConnectError, InputError, LockError

SLUG = "saint-essai-fr"
OLD = f"/opt/kit-collab/communes/{SLUG}"


def _snap(id_: str, time: str, *tags: str, paths: tuple[str, ...] = ()) -> script.Snap:
    return script.Snap(id_, id_[:8], time, ("kit-collab", f"commune={SLUG}", *tags), paths)


PATHS = (f"{OLD}/sauvegarde/staging/postgres",
         f"/var/lib/docker/volumes/{SLUG}_nextcloud_html/_data",
         f"/var/lib/docker/volumes/{SLUG}_matrix_data/_data",
         "/var/lib/docker/volumes/autre-commune_matrix_data/_data",
         f"{OLD}/secrets", f"{OLD}/state.json", f"{OLD}/releases/r-2")


# --- pure: what a snapshot says, which one is chosen ------------------------------------------


def test_a_snapshot_names_its_release_folder_volumes_and_dumps() -> None:
    snap = _snap("a" * 64, "2026-01-02T02:31:00Z", "release=r-2", "recette=matrix@1.0+1.163",
                 paths=PATHS)
    assert snap.release == "r-2"
    assert snap.commune_dir == OLD
    assert snap.volumes == (("nextcloud_html", PATHS[1]), ("matrix_data", PATHS[2]))
    assert snap.has_dumps and not snap.safety


def test_the_latest_regular_backup_is_chosen_never_a_safety_one() -> None:
    older = _snap("1111aaaa" * 8, "2026-01-01T02:30:00Z", "release=r-1")
    newer = _snap("2222bbbb" * 8, "2026-01-02T02:30:00Z", "release=r-2")
    safety = script.Snap("3333cccc" * 8, "3333cccc", "2026-01-03T10:00:00Z",
                         (script.SAFETY_TAG, f"commune={SLUG}"), ())
    assert script.choose([older, newer, safety], None) == newer
    assert script.choose([older, newer, safety], "3333") == safety  # asked for by id
    assert script.choose([older, newer], "1111aaaa") == older
    assert script.choose([older, newer], "11") is None  # too short to be sure
    assert script.choose([older, newer], "9999") is None
    assert script.choose([], None) is None


def test_probe_output_is_read_with_its_snapshots_sorted_by_time() -> None:
    listing = json.dumps([
        {"id": "b" * 64, "short_id": "bbbbbbbb", "time": "2026-01-02T02:30:00Z",
         "tags": ["kit-collab", "release=r-2"], "paths": list(PATHS)},
        {"id": "a" * 64, "short_id": "aaaaaaaa", "time": "2026-01-01T02:30:00Z",
         "tags": ["kit-collab", "release=r-1"], "paths": list(PATHS)},
        {"not": "a snapshot"}])
    found = script.parse_probe(0, "current=r-2\nmarker={\"snapshot\": \"x\"}\nsettings=yes\n"
                                  f"snapshots={listing}\n")
    assert found.current == "r-2" and found.settings and found.marker == {"snapshot": "x"}
    assert [s.short_id for s in found.snapshots] == ["aaaaaaaa", "bbbbbbbb"]
    assert not found.failure


@pytest.mark.parametrize(("code", "output", "kind"), [
    (22, "snapshots=restic-failed snapshots code=12\nFatal: wrong password", script.PASSWORD),
    (22, "restic-failed snapshots code=1\nFatal: wrong password or no key found",
     script.PASSWORD),  # restic 0.16 and older: code 1, read the message
    (22, "restic-failed files code=10\n", script.ABSENT),
    (22, "restic-failed files code=11\n", script.LOCKED),
    (22, "restic-failed snapshots code=1\nFatal: unable to open repository at rest:https://"
         "h:8000/x/: Get \"https://h:8000/x/config\": dial tcp: connection refused",
     script.UNREACHABLE),
    (script.NO_RESTIC_EXIT, "no-restic\n", script.NO_RESTIC),
    (script.NO_SETTINGS_EXIT, "no-settings\n", script.NO_SETTINGS),
    (1, "tar: something else", script.FAILED),
])
def test_restic_failures_are_named(code: int, output: str, kind: str) -> None:
    assert script.failure_kind(code, output) == kind


def test_each_failure_is_one_french_sentence_with_its_exit_code() -> None:
    from kit_collab.apply.restore import failure
    from kit_collab.profile.model import Profile

    from .conftest import base_profile

    profile = Profile.model_validate(base_profile())
    wrong = failure(script.PASSWORD, profile)
    assert isinstance(wrong, InputError) and "mot de passe" in wrong.message
    assert isinstance(failure(script.UNREACHABLE, profile), ConnectError)
    assert isinstance(failure(script.LOCKED, profile), LockError)
    assert "injoignable" in failure(script.UNREACHABLE, profile).message


# --- the destination's settings file ----------------------------------------------------------


def test_rest_credentials_are_percent_encoded_in_the_repository_and_quoted() -> None:
    dest = Destination("rest", "rest:https://sauvegarde.example.fr:8000/commune/", "pw",
                       {"KIT_COLLAB_REST_USER": "mairie",
                        "KIT_COLLAB_REST_PASSWORD": "a@b:c'd $x"})
    text = dest.env_file("/opt/kit-collab/communes/x/secrets")
    assert ("RESTIC_REPOSITORY=rest:https://mairie:a%40b%3Ac%27d%20%24x@sauvegarde.example.fr"
            ":8000/commune/\n") in text
    assert "RESTIC_PASSWORD_FILE=/opt/kit-collab/communes/x/secrets/restic.pass" in text
    assert "pw" not in text  # the password lives in its own file only
    loaded = subprocess.run(["sh", "-c", 'set -a; . /dev/stdin; printf %s "$RESTIC_REPOSITORY"'],
                            input=text, capture_output=True, text=True, check=True).stdout
    assert loaded.endswith("a%40b%3Ac%27d%20%24x@sauvegarde.example.fr:8000/commune/")


def test_s3_keys_become_the_aws_variables_restic_reads() -> None:
    dest = Destination("s3", "s3:https://s3.fr-par.example.fr/bucket/c", "pw",
                       {"KIT_COLLAB_S3_ACCESS_KEY": "AK", "KIT_COLLAB_S3_SECRET_KEY": "S K"})
    text = dest.env_file("/s")
    assert "AWS_ACCESS_KEY_ID=AK\n" in text and "AWS_SECRET_ACCESS_KEY='S K'\n" in text
    assert "RESTIC_REPOSITORY=s3:https://s3.fr-par.example.fr/bucket/c\n" in text


# --- real restic: a repository on disk, the commune's folder lost then restored ---------------

RESTIC = shutil.which("restic")
needs_restic = pytest.mark.skipif(RESTIC is None, reason="restic is not installed (Debian "
                                  "package restic)")


def _sh(text: str, stdin: bytes = b"", env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-c", text], input=stdin, capture_output=True, timeout=300,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Path, Path, str]:
    """A commune's folder under a temporary root, backed up as the backup contract says
    (same paths, host and tags), then the folder lost: (root, repository, password)."""
    root, repo, password = tmp_path / "racine", tmp_path / "depot", "Mot de passe 1 'x' $y"
    c = root / "communes" / SLUG
    (c / "secrets").mkdir(parents=True)
    (c / "secrets" / "secrets.json").write_text('{"comptes": {"mdupont": "Pw-1"}}')
    (c / "secrets" / "restic.pass").write_text(password + "\n")
    (c / "secrets" / "sauvegarde.env").write_text(f"RESTIC_REPOSITORY={repo}\n")
    (c / "state.json").write_text('{"release": "r-2"}')
    (c / "releases" / "r-2").mkdir(parents=True)
    (c / "releases" / "r-2" / "compose.yaml").write_text("services: {}\n")
    (c / "sauvegarde" / "staging" / "postgres").mkdir(parents=True)
    (c / "sauvegarde" / "staging" / "postgres" / "matrix-db.sql").write_text("-- dump\n")
    env = {"RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(c / "secrets" /
                                                                      "restic.pass")}
    assert _sh("restic init -q", env=env).returncode == 0
    made = _sh(f'restic backup -q --host {SLUG} --tag kit-collab --tag commune={SLUG} '
               f'--tag release=r-2 "$C/sauvegarde/staging/postgres" "$C/secrets" '
               f'"$C/state.json" "$C/releases/r-2"', env={**env, "C": str(c)})
    assert made.returncode == 0, made.stderr
    shutil.rmtree(c)
    return root, repo, password


def _settings(root: Path, repo: Path, password: str) -> None:
    dest = Destination("disque", str(repo), password)
    secrets = f"{root}/communes/{SLUG}/secrets"
    tar = release_script.tar_of([("restic.pass", password.encode() + b"\n", 0o600, None),
                                 ("sauvegarde.env", dest.env_file(secrets).encode(), 0o600,
                                  None)])
    done = _sh(script.settings(str(root), SLUG), tar)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_restic
def test_a_lost_commune_folder_comes_back_from_the_repository(
        backed_up: tuple[Path, Path, str]) -> None:
    root, repo, password = backed_up
    c = root / "communes" / SLUG
    first = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    assert not first.settings and not first.current  # a new server: nothing there
    _settings(root, repo, password)
    found = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    assert found.settings and not found.failure, found
    snap = script.choose(found.snapshots, None)
    assert snap is not None and snap.release == "r-2"
    lock = lock_script.lock_lines("moi restore r-2", None)
    done = _sh(script.files(str(root), SLUG, snap, lock, None, new=True))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((c / "secrets" / "secrets.json").read_text())["comptes"]["mdupont"] == \
        "Pw-1"
    assert stat.S_IMODE((c / "secrets" / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((c / "secrets").stat().st_mode) == 0o700
    assert os.readlink(c / "current") == "releases/r-2"
    assert (c / "current" / "compose.yaml").read_text() == "services: {}\n"
    assert json.loads((c / "state.json").read_text()) == {"release": "r-2"}
    # The settings written for this server are kept, not replaced by the old server's.
    assert "RESTIC_PASSWORD_FILE" in (c / "secrets" / "sauvegarde.env").read_text()
    marker = json.loads((c / script.MARKER).read_text())
    assert marker == {"snapshot": snap.id, "release": "r-2", "nouveau_serveur": "oui"}
    assert not (c / ".lock").exists()
    # Run again (an interrupted restore): same result, the marker names the same snapshot.
    again = _sh(script.files(str(root), SLUG, snap, lock, None, new=True))
    assert again.returncode == 0, again.stdout + again.stderr
    resumed = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    assert resumed.current == "r-2" and resumed.marker["snapshot"] == snap.id
    finished = _sh(script.finish(str(root), SLUG, "audit restore ok"))
    assert finished.returncode == 0
    assert not (c / script.MARKER).exists() and not (c / script.STAGING).exists()


def _run(text: str) -> tuple[int, str]:
    done = _sh(text)
    return done.returncode, done.stdout.decode()


@needs_restic
def test_a_wrong_repository_password_is_named_and_nothing_is_restored(
        backed_up: tuple[Path, Path, str]) -> None:
    root, repo, _password = backed_up
    _settings(root, repo, "pas le bon mot de passe")
    found = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    assert found.failure == script.PASSWORD
    assert not found.snapshots
    assert not (root / "communes" / SLUG / "current").exists()


@needs_restic
def test_a_missing_repository_is_named(tmp_path: Path) -> None:
    root = tmp_path / "racine"
    _settings(root, tmp_path / "nulle-part", "pw-quelconque")
    found = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    assert found.failure == script.ABSENT


@needs_restic
def test_data_about_to_be_replaced_is_saved_first_and_never_chosen_by_default(
        backed_up: tuple[Path, Path, str]) -> None:
    """The same server: the commune runs another release; the safety snapshot (tag
    avant-restauration) holds what is replaced, and "the latest" still means the regular
    backup."""
    root, repo, password = backed_up
    c = root / "communes" / SLUG
    _settings(root, repo, password)
    (c / "releases" / "r-9").mkdir(parents=True)
    (c / "releases" / "r-9" / "compose.yaml").write_text("services: {} # r-9\n")
    (c / "current").symlink_to("releases/r-9")
    (c / "state.json").write_text('{"release": "r-9"}')
    found = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    snap = script.choose(found.snapshots, None)
    assert found.current == "r-9" and snap is not None
    lock = lock_script.lock_lines("moi restore r-2", None)
    done = _sh(script.files(str(root), SLUG, snap, lock, ()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"safety-taken" in done.stdout
    after = script.parse_probe(*_run(script.probe(str(root), SLUG)))
    safety = [s for s in after.snapshots if s.safety]
    assert len(safety) == 1 and f"{c}/state.json" in safety[0].paths
    assert script.choose(after.snapshots, None) == snap  # never the safety one
    assert os.readlink(c / "current") == "releases/r-2"
    assert (c / "releases" / "r-9").is_dir()  # the replaced release is kept
    env = {"RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(c / "secrets" /
                                                                      "restic.pass")}
    dumped = _sh(f"restic dump {safety[0].id} {c}/state.json", env=env)
    assert dumped.stdout == b'{"release": "r-9"}'
