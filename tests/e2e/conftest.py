"""Fixtures of the end-to-end scenario: the images (built or found up to date), the test bed
(registry + fresh server container), the timings of every phase, printed at the end."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dockerbed
from tests.e2e import bed as bed_mod
from tests.e2e import build_images
from tests.e2e.timings import record, summary


@pytest.fixture(scope="session")
def e2e_images(kit_snapshot: Path) -> None:
    """The test bed's images, built here or already up to date (build_images.py is
    idempotent: a second call costs about a second)."""
    dockerbed.require_docker()
    if shutil.which("mmdebstrap") is None and bed_mod.missing_images():
        pytest.fail("mmdebstrap is needed to build the e2e images (apt-get install mmdebstrap)")
    started = time.monotonic()
    if build_images.main(["--recipes", str(kit_snapshot)]) != 0:
        pytest.fail("tests/e2e/build_images.py failed")
    record("images (build_images.py)", time.monotonic() - started)
    standins = {f"{build_images.PREFIX}{b.name}" for b in build_images.BUILDS if b.standin}
    print("[kce2e] images served under their upstream names:")
    for ref, local in sorted(build_images.pinned_images().items()):
        kind = "SUBSTITUT (stand-in)" if local in standins else "réel (real software)"
        print(f"[kce2e]   {ref:<40} ← {local:<28} {kind}")


@pytest.fixture(scope="session")
def e2e_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kce2e")
    path.chmod(0o700)
    return path


@pytest.fixture(scope="session")
def kit_snapshot(e2e_workdir: Path) -> Path:
    """kit-collab's code, recipes and templates copied once at the start: every phase runs
    the same version, even while someone edits the shared work tree."""
    snapshot = e2e_workdir / "kit-collab"
    for part in ("src", "recipes"):
        shutil.copytree(build_images.ROOT / part, snapshot / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return snapshot


@pytest.fixture(scope="session")
def bed(e2e_images: None, e2e_workdir: Path) -> Iterator[bed_mod.Bed]:
    """The registry and the fresh server, removed at the end whatever happened."""
    the_bed = bed_mod.Bed(e2e_workdir)
    try:
        the_bed.start()
        for what, seconds in the_bed.timings:
            record(what, seconds)
        print(f"[kce2e] server {the_bed.server_ip} ({the_bed.server}), host key "
              f"{the_bed.fingerprint}; registry {the_bed.registry_ip}", flush=True)
        yield the_bed
    finally:
        if os.environ.get("KCE2E_KEEP"):
            print(f"\n[kce2e] KCE2E_KEEP set: {the_bed.server} and {the_bed.registry} kept")
        else:
            the_bed.stop()
            record("test bed removed", the_bed.timings[-1][1])
        summary()

