"""A two-major upgrade, stepped one major at a time: time of each step and downtime, printed.

    python3 bench/bench_upgrade.py
Needs root, openssh-server, mmdebstrap and a running Docker engine (as the deploy tests).
The commune runs the ``registre`` stand-in (tests/data/recipes/registre: a REAL PostgreSQL,
Debian's, and an application that migrates its data at start) with the Nextcloud
entrypoint's rule added (no major skipped, no going back: nextcloud/docker
docker-entrypoint.sh), as tests/test_upgrade_steps.py does: deployed at major 3, pinned at 5
with the path image of major 4. ``install`` goes 3 -> 4 -> 5, each a whole install (snapshot
taken and checked, switch, health). Downtime: from the first moment the application is not
healthy to the first moment it is healthy again on major 5, polled every 0.2 s.
The Nextcloud stand-in image itself (tests/e2e/images/standin) is not used: it needs the
e2e bed's images (minutes to build); its entrypoint follows the same rule.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this tree's kit-collab and tests

from tests import dockerbed  # noqa: E402
from tests.sshd import running_sshd  # noqa: E402
from tests.test_deploy import SLUG, _connect, _profile_file, profile_for  # noqa: E402
from tests.test_upgrade_steps import ONE_AT_A_TIME, _pin  # noqa: E402

from kit_collab.apply import deploy  # noqa: E402
from kit_collab.operations.install import InstallOptions, install  # noqa: E402
from kit_collab.recipes.load import load_recipes  # noqa: E402


class TimedReporter:
    """Each step with the time it started, relative to the beginning."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.steps: list[tuple[float, str]] = []

    def step(self, text: str) -> None:
        self.steps.append((time.monotonic() - self.start, text))

    def progress(self, done: int, total: int) -> None:
        pass

    def findings(self, findings: object, records: object) -> None:
        pass


class Downtime(threading.Thread):
    """Polls the application's health; first unhealthy and first healthy-again moments."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.down: float | None = None
        self.up: float | None = None

    def healthy(self) -> bool:
        cid = dockerbed.container_ids(SLUG).get("registre-app")
        if not cid:
            return False
        out = dockerbed.docker("inspect", "--format", "{{.State.Health.Status}} "
                               "{{.Config.Image}}", cid, check=False).stdout.split()
        return len(out) == 2 and out[0] == "healthy"

    def run(self) -> None:
        while not self.stop.is_set():
            ok, now = self.healthy(), time.monotonic()
            if not ok and self.down is None:
                self.down = now
            elif ok and self.down is not None:
                self.up = now  # the last return to health (after the final step) wins
            time.sleep(0.2)


def data_root(tmp: Path) -> Path:
    root = dockerbed.registre_data_root(tmp)
    migrate = root / "recipes" / "registre" / "templates" / "migrate.sh.j2"
    migrate.write_text(migrate.read_text().replace(
        'if [ "$base" -lt "$REGISTRE_SCHEMA" ]; then', ONE_AT_A_TIME, 1))
    _pin(root, 3)
    return root


def main() -> None:
    with dockerbed.engine([SLUG]) as _images, running_sshd(dockerbed.HOST) as sshd, \
            tempfile.TemporaryDirectory() as tmp_name:
        tags = dockerbed.build_postgres_images((3, 4, 5))
        tmp = Path(tmp_name)
        try:
            with dockerbed.server_root(tmp, [SLUG]) as server_root:
                measure(sshd, server_root, tmp)
        finally:
            for tag in tags:
                dockerbed.docker("rmi", tag, check=False)


def measure(sshd: object, server_root: Path, tmp: Path) -> None:
    recipes_root = data_root(tmp)
    profile = profile_for(sshd, server_root)  # type: ignore[arg-type]
    with _connect(sshd, profile, tmp) as transport:  # type: ignore[arg-type]
        deploy.install(transport, profile, load_recipes(recipes_root), wait_seconds=60)
        _pin(recipes_root, 5, path=(4,))
        reporter, watch = TimedReporter(), Downtime()
        watch.start()
        began = time.monotonic()
        result = install(transport, profile, _profile_file(tmp, sshd, server_root),  # type: ignore[arg-type]
                         load_recipes(recipes_root), InstallOptions(force=True, wait=60),
                         reporter)
        total = time.monotonic() - began
        time.sleep(1)
        watch.stop.set()
        watch.join()
    print(f"Mise à niveau 3 → 4 → 5 (registre, règle de l'entrypoint Nextcloud) : code "
          f"{result.code}, {total:.1f} s au total")
    marks = [*reporter.steps, (total, "fin")]
    for (at, text), (after, _next) in itertools.pairwise(marks):
        print(f"  {at:7.1f} s  +{after - at:6.1f} s  {text[:90]}")
    if watch.down is not None and watch.up is not None:
        print(f"Interruption (premier état non sain → de nouveau sain en 5) : "
              f"{watch.up - watch.down:.1f} s")


if __name__ == "__main__":
    main()
