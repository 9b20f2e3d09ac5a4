"""The commit point's scripts run for real with the local sh (no SSH, no Docker): a cut
upload is never committed, pruning keeps the rollback targets, state.json says what is
unfinished."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from kit_collab.apply.scripts import release, state
from kit_collab.plan.state import Pending, State, from_json

SLUG = "saint-essai-fr"
FILES = {"a/one.txt": b"one\n", "a/two.txt": b"two\n", "b/three.txt": b"three\n"}


def _upload(root: Path, stdin: bytes, rel: str = "r-2",
            base: str = "") -> subprocess.CompletedProcess[bytes]:
    listing = release.manifest({p: hashlib.sha256(d).hexdigest() for p, d in FILES.items()})
    script = release.upload(str(root), SLUG, rel, base, [],
                            hashlib.sha256(listing).hexdigest(), len(FILES))
    return subprocess.run(["sh", "-c", script], input=stdin, capture_output=True, timeout=60)


def _stream(rel: str = "r-2") -> bytes:
    release_dir = f"communes/{SLUG}/releases/{rel}"
    listing = release.manifest({p: hashlib.sha256(d).hexdigest() for p, d in FILES.items()})
    return release.tar_of([*((f"{release_dir}.partial/{p}", d, 0o644, None)
                             for p, d in FILES.items()),
                           (release.manifest_name(release_dir), listing, 0o600, None)])


def _member_offsets(data: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [m.offset for m in tar.getmembers()]


def test_upload_complete_is_committed(tmp_path: Path) -> None:
    result = _upload(tmp_path, _stream())
    assert result.returncode == 0, result.stderr
    rel = tmp_path / "communes" / SLUG / "releases" / "r-2"
    assert (rel / "b" / "three.txt").read_bytes() == b"three\n"
    assert sorted(p.name for p in rel.parent.iterdir()) == ["r-2"]


@pytest.mark.parametrize("members", [1, 2, 3])
def test_upload_cut_between_two_tar_members_is_never_a_release(tmp_path: Path,
                                                               members: int) -> None:
    data = _stream()
    cut = data[:_member_offsets(data)[members]]
    # GNU tar itself accepts the cut stream: only the manifest check catches it.
    assert subprocess.run(["tar", "-t", "-f", "-"], input=cut, capture_output=True,
                          timeout=30).returncode == 0
    result = _upload(tmp_path, cut)
    assert result.returncode == release.UPLOAD_INCOMPLETE_EXIT
    assert b"upload-incomplete" in result.stdout
    assert not (tmp_path / "communes" / SLUG / "releases" / "r-2").exists()


def test_upload_with_a_file_altered_is_not_committed(tmp_path: Path) -> None:
    data = _stream().replace(b"three\n", b"thre3\n")
    result = _upload(tmp_path, data)
    assert result.returncode == release.UPLOAD_INCOMPLETE_EXIT
    assert not (tmp_path / "communes" / SLUG / "releases" / "r-2").exists()


def test_upload_again_repairs_a_damaged_current_release(tmp_path: Path) -> None:
    assert _upload(tmp_path, _stream()).returncode == 0
    rel = tmp_path / "communes" / SLUG / "releases" / "r-2"
    (rel / "a" / "one.txt").write_bytes(b"damaged\n")
    assert _upload(tmp_path, _stream(), base="r-2").returncode == 0
    assert (rel / "a" / "one.txt").read_bytes() == b"one\n"


def _finish(root: Path, keep: list[str]) -> None:
    script = state.finish(str(root), SLUG, {"release": "r-3"}, "ligne", keep)
    result = subprocess.run(["sh", "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_pruning_after_three_aborted_uploads_keeps_the_previous_release(tmp_path: Path) -> None:
    commune = tmp_path / "communes" / SLUG
    releases = commune / "releases"
    for name in ("r-1", "r-2", "r-3"):
        (releases / name).mkdir(parents=True)
    os.symlink("releases/r-3", commune / "current")
    # Three uploads that never were deployed, newer than every deployed release, and the
    # leftovers of cut uploads.
    for name in ("r-x", "r-y", "r-z", "r-w.partial", ".r-v.old"):
        (releases / name).mkdir()
    (releases / "r-u.sha256").write_text("x")
    (commune / ".lock").mkdir()
    _finish(tmp_path, ["r-3", "r-2", "r-2", "r-3", "r-2", "r-1"])
    assert sorted(p.name for p in releases.iterdir()) == ["r-1", "r-2", "r-3"]
    assert json.loads((commune / "state.json").read_text()) == {"release": "r-3"}
    assert not (commune / ".lock").exists()


def test_state_json_keeps_its_previous_copy(tmp_path: Path) -> None:
    commune = tmp_path / "communes" / SLUG
    commune.mkdir(parents=True)
    for release_id in ("r-1", "r-2"):
        script = state.record(str(tmp_path), SLUG, {"release": release_id})
        assert subprocess.run(["sh", "-c", script], timeout=30).returncode == 0
    assert json.loads((commune / "state.json").read_text())["release"] == "r-2"
    assert json.loads((commune / "state.json.prev").read_text())["release"] == "r-1"
    assert not (commune / "state.json.new").exists()


def test_pending_operation_round_trips_and_is_unfinished() -> None:
    pending = Pending("r-2", "r-1", "taches", "2026-12-03T08:00:00Z")
    recorded = State(release="r-1", previous="r-0", pending=pending, history=("r-1",))
    back = from_json(json.loads(json.dumps(recorded.as_json())))
    assert back == recorded
    assert "r-2" in back.unfinished("r-2") and "taches" in back.unfinished("r-2")
    assert back.with_pending(None).unfinished("r-1") == ""


def test_current_not_the_recorded_release_is_unfinished() -> None:
    assert State(release="r-1").unfinished("r-2")


def test_a_failed_task_leaves_the_release_unfinished() -> None:
    failed = State(release="r-2", steps={"taches": "echec", "comptes": "ok"})
    assert "taches" in failed.unfinished("r-2")
    assert State(release="r-2", steps={"taches": "ok", "comptes": "ok"}).unfinished("r-2") == ""
