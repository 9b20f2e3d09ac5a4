"""First install to healthy on the fresh Debian 13 server of the e2e bed, split into its
parts, beside a bare ``docker compose up --wait`` of the same rendered files on the same bed.

    python3 tests/e2e/build_images.py && python3 bench/bench_first_install.py

Needs what the e2e needs (root, Docker, mmdebstrap, the bed's images). kit-collab runs as a
user runs it (its CLI, over SSH) onto a fresh server (systemd, sshd, sudo: nothing else): the
bootstrap installs Docker with apt from the Debian registry, the images come from the bed's
local registry. Then the commune's and the proxy's containers and volumes are removed and the
same rendered files are brought up by a bare ``docker compose up -d --wait`` (the images are
already there: the bare run has no apt and no pulls). Printed side by side:
kit-collab's own overhead = its total - apt (bootstrap) - pulls - the bare compose time.
Aim (issue 14): under 20 % of the bare compose time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this tree's kit-collab and tests

import yaml  # noqa: E402
from tests.e2e import dnsstub  # noqa: E402
from tests.e2e import test_scenario as sc  # noqa: E402
from tests.e2e.bed import Bed, env_for_cli  # noqa: E402

# kit-collab's steps (the start of their "→ ..." line) -> the part they belong to.
PARTS = {"Préparation du serveur": "bootstrap (apt, firewall, mirror)",
         "Téléchargement des images": "pulls (local registry)",
         "Démarrage des services": "compose up",
         "Tâches après installation": "tasks", "Comptes et espaces": "tasks",
         "Contrôles de santé": "health"}


def kit_steps(workdir: Path, *args: str) -> tuple[int, float, dict[str, float]]:
    """Run kit-collab; each step's time, until the next step (or the end)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kit_collab", *args], cwd=workdir,
                            env={**env_for_cli(workdir), "PYTHONPATH": str(ROOT / "src")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    marks: list[tuple[float, str]] = []
    tail: list[str] = []
    for line in proc.stdout:
        tail = [*tail[-40:], line.rstrip()]
        if line.startswith("→ ") and not line.startswith("→   "):
            marks.append((time.monotonic() - started, line[2:].strip()))
    code = proc.wait()
    total = time.monotonic() - started
    if code != 0:
        print("\n".join(tail))
    parts: dict[str, float] = {}
    for i, (at, text) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else total
        part = next((p for key, p in PARTS.items() if text.startswith(key)),
                    "kit-collab (facts, preflight, upload, state)")
        parts[part] = parts.get(part, 0.0) + end - at
    first = marks[0][0] if marks else total
    parts["kit-collab (facts, preflight, upload, state)"] = parts.get(
        "kit-collab (facts, preflight, upload, state)", 0.0) + first
    return code, total, parts


def bare_compose(bed: Bed) -> float:
    """The same rendered files, from empty volumes, by a bare `up -d --wait`."""
    proxy = f"docker compose -p kit-collab-proxy -f {sc.ROOT_DIR}/proxy/compose.yaml"
    commune = f"cd {sc.COMMUNE_DIR}/current && docker compose -p {sc.SLUG} -f compose.yaml"
    bed.sh(f"{commune} down -v --remove-orphans && {proxy} down -v --remove-orphans",
           timeout=600)
    started = time.monotonic()
    bed.sh(f"{proxy} up -d --wait && ({commune} up -d --wait)", timeout=1200)
    return time.monotonic() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kc-bench-first-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o700)
        bed = Bed(workdir)
        try:
            bed.start()
            records = {f"{prefix}{sc.DOMAIN}": bed.server_ip for prefix in sc.NAMES}
            with dnsstub.running(records):
                profile = workdir / "commune.yaml"
                profile.write_text(yaml.safe_dump(sc.profile_data(bed), allow_unicode=True,
                                                  sort_keys=False), encoding="utf-8")
                code, total, parts = kit_steps(workdir, "install", str(profile), "--yes",
                                               "--force")
                if code != 0:
                    print(f"kit-collab install failed (code {code})")
                    return 1
                bare = bare_compose(bed)
        finally:
            bed.stop()
    print("\nPremière installation jusqu'aux services en bonne santé, serveur Debian 13 neuf")
    print(f"{'partie':<46} {'kit-collab':>11} {'compose nu':>11}")
    for part in sorted(parts, key=lambda p: -parts[p]):
        print(f"{part:<46} {parts[part]:>9.1f} s {'':>11}")
    print(f"{'total':<46} {total:>9.1f} s {bare:>9.1f} s")
    own = total - parts.get(PARTS["Préparation du serveur"], 0.0) \
        - parts.get(PARTS["Téléchargement des images"], 0.0) - bare
    print(f"\nsurcoût propre de kit-collab (total - apt - pulls - compose nu) : {own:.1f} s, "
          f"soit {100 * own / bare:.0f} % du compose nu (objectif : moins de 20 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
