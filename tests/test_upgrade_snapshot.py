"""The pre-switch snapshot counts only once checked: dumps complete, archives readable (the
check's shell run for real on files made here, with the real tar)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from kit_collab.apply.scripts import snapshot, snapshot_check
from kit_collab.plan.changes import Saved

SAVED = (Saved("nextcloud", "nextcloud", ("nextcloud_html",)),
         Saved("nextcloud", "nextcloud-db", (), "nextcloud", "nextcloud", "nextcloud_db"))
GOOD_DUMP = ("--\n-- PostgreSQL database dump\n--\n\\restrict k3y\nCREATE TABLE t (i int);\n\n"
             "--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n")


def _partial(tmp_path: Path, dump: str | None, tar_ok: bool = True) -> Path:
    (tmp_path / "postgres").mkdir()
    (tmp_path / "volumes").mkdir()
    if dump is not None:
        (tmp_path / "postgres" / "nextcloud-db.sql").write_text(dump)
    archive = tmp_path / "volumes" / "nextcloud_html.tar"
    src = tmp_path / "html"
    src.mkdir()
    (src / "version.php").write_text("<?php $OC_Version = array(33,0,7,1);\n")
    with tarfile.open(archive, "w") as tar:
        tar.add(src, arcname=".")
    if not tar_ok:
        archive.write_bytes(archive.read_bytes()[:700])
    return tmp_path


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    script = f'set -eu\nP={folder}\n{snapshot_check.verify(SAVED)}echo verified\n'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)


def test_complete_dump_and_readable_archive_pass(tmp_path: Path) -> None:
    result = _check(_partial(tmp_path, GOOD_DUMP))
    assert result.returncode == 0 and "verified" in result.stdout


@pytest.mark.parametrize(("dump", "tar_ok", "what"), [
    ("", True, "nextcloud-db.sql"),  # empty dump
    (None, True, "nextcloud-db.sql"),  # missing dump
    (GOOD_DUMP.split("-- PostgreSQL database dump complete", maxsplit=1)[0], True,
     "nextcloud-db.sql"),  # a dump cut short
    (GOOD_DUMP, False, "nextcloud_html.tar"),  # an archive cut short
])
def test_snapshot_cut_short_is_not_a_snapshot(tmp_path: Path, dump: str | None, tar_ok: bool,
                                              what: str) -> None:
    result = _check(_partial(tmp_path, dump, tar_ok))
    assert result.returncode == snapshot_check.UNVERIFIED_EXIT
    assert snapshot_check.unverified(result.stdout) == what


def test_snapshot_script_checks_before_it_renames_the_partial_folder() -> None:
    script = snapshot.take("/opt/kit-collab", "lhay", "r2", "r1", SAVED)
    assert script.index("dump_ok nextcloud-db.sql") < script.index('mv "$P" "$F"')
    assert script.index("tar_ok nextcloud_html.tar") < script.index('mv "$P" "$F"')
