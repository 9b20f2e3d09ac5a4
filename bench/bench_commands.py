"""Whole commands, as a user runs them, beside what they cannot beat: figures printed only.

    python3 bench/bench_commands.py [RUNS]

Each line is the median of RUNS runs (10 by default) of a fresh process: its wall time and
the CPU time of the process itself (user + system, from the kernel's accounting of children).
- ``python3 -c pass`` and ``python3 -c 'import typer'``: the floor of any Python command;
- ``kit-collab --help`` and ``kit-collab validate examples/petite-commune.yaml``;
- ``ssh HOST true`` (OpenSSH, same host, user, key and port as kit-collab), then
  ``kit-collab install PROFILE --yes`` on an up-to-date server: the no-op, one round trip,
  (a) on the Docker demo bed of the deploy tests (real sshd on loopback, the real proxy and
  the demo stand-in recipe running in containers, first installed by this same command), and
  (b) with the real recipes and every service active, the state written directly (no
  container, as bench_noop.py).
Needs root, openssh-server, a running Docker engine, busybox-static and caddy (as the deploy
tests). Aims (issue 12): no-op under 3 × ``ssh HOST true``; ``--help`` within 0.1 s of importing
Typer; ``validate`` under 0.3 s.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this tree's kit-collab and tests

from tests import dockerbed  # noqa: E402
from tests.sshd import Sshd, running_sshd  # noqa: E402

KIT = [sys.executable, "-m", "kit_collab"]


@dataclass(frozen=True)
class Figure:
    label: str
    wall: float
    cpu: float

    def line(self, base: Figure | None = None) -> str:
        ratio = f" = {self.wall / base.wall:5.1f} × {base.label}" if base else ""
        return f"  {self.label:<58} {self.wall:6.3f} s  (CPU {self.cpu:6.3f} s){ratio}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, argv: list[str], runs: int, env: dict[str, str] | None = None,
            expect: int = 0) -> Figure:
    """Median wall and CPU time of ``argv`` over ``runs`` fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, timeout=600)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        if done.returncode != expect:
            raise SystemExit(f"{label}: exit {done.returncode}\n"
                             f"{done.stdout.decode()[-2000:]}{done.stderr.decode()[-2000:]}")
    return Figure(label, statistics.median(walls), statistics.median(cpus))


def kit_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KIT_COLLAB_LANG": "fr", **extra}
    env.pop("COLUMNS", None)
    return env


def ssh_true(sshd: Sshd, known_hosts: Path) -> list[str]:
    return ["ssh", "-q", "-i", str(sshd.client_key), "-p", str(sshd.port),
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "StrictHostKeyChecking=accept-new", f"root@{sshd.host}", "true"]


def profile_file(folder: Path, sshd: Sshd, root: Path, slug: str,
                 services: dict[str, Any]) -> Path:
    data = {
        "commune": {"nom": "Banc d'Essai", "domaine": "banc-essai.fr", "slug": slug,
                    "email_contact": "mairie@banc-essai.fr"},
        "serveur": {**sshd.serveur().model_dump(), "racine": str(root),
                    "empreinte_hote": sshd.fingerprint, "certificats": {"mode": "interne"}},
        "services": services,
        "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
        "utilisateurs": [{"identifiant": f"agent{i}", "nom": f"Agent {i}",
                          "email": f"agent{i}@banc-essai.fr", "services_municipaux": ["accueil"]}
                         for i in range(5)],
    }
    path = folder / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@contextlib.contextmanager
def server_root(tmp: Path, name: str) -> Iterator[Path]:
    root = tmp / name
    root.mkdir()
    root.chmod(0o755)
    (root / ".bootstrap").write_text("1\n")  # this engine exists: no bootstrap here
    yield root


def files(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def noop_on_demo_bed(tmp: Path, runs: int) -> list[Figure]:
    """(a): first install through the command itself, then the timed no-ops."""
    slug = dockerbed.slug("banc")
    with dockerbed.engine([slug]), running_sshd(dockerbed.HOST) as sshd, \
            server_root(tmp, "srv-demo") as root:
        data = dockerbed.demo_data_root(tmp)
        path = profile_file(tmp, sshd, root, slug, {"nextcloud": {"actif": True},
                                                    "matrix": {"actif": False},
                                                    "jitsi": {"actif": False}})
        env = kit_env(KIT_COLLAB_RECIPES=str(data), KIT_COLLAB_LOG_DIR=str(tmp / "logs"),
                      KIT_COLLAB_KNOWN_HOSTS=str(tmp / "kh-demo"))
        first = subprocess.run([*KIT, "install", str(path), "--yes", "--force"], env=env,
                               capture_output=True, text=True, timeout=900)
        if first.returncode != 0:
            raise SystemExit(f"first install failed:\n{first.stdout[-3000:]}{first.stderr}")
        before = files(root)
        ssh = measure(f"ssh root@{sshd.host} true", ssh_true(sshd, tmp / "kh-ssh"), runs)
        noop = measure("kit-collab install --yes (rien à faire, banc Docker)",
                       [*KIT, "install", str(path), "--yes"], runs, env)
        assert files(root) == before, "the no-op changed files on the server"
        return [ssh, noop]


def noop_real_recipes(tmp: Path, runs: int) -> list[Figure]:
    """(b): the real recipes, every service on, the deployed state written directly."""
    from tests.test_fleet import predeploy

    services = {"nextcloud": {"actif": True, "collabora": True}, "matrix": {"actif": True},
                "jitsi": {"actif": True}}
    with running_sshd() as sshd, server_root(tmp, "srv-real") as root:
        path = profile_file(tmp, sshd, root, "banc-complet", services)
        predeploy(yaml.safe_load(path.read_text("utf-8")), ROOT)
        env = kit_env(KIT_COLLAB_LOG_DIR=str(tmp / "logs"),
                      KIT_COLLAB_KNOWN_HOSTS=str(tmp / "kh-real"))
        before = files(root)
        ssh = measure(f"ssh root@{sshd.host} true", ssh_true(sshd, tmp / "kh-ssh2"), runs)
        noop = measure("kit-collab install --yes (rien à faire, vraies recettes)",
                       [*KIT, "install", str(path), "--yes"], runs, env)
        assert files(root) == before, "the no-op changed files on the server"
        return [ssh, noop]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    python = measure("python3 -c pass", [sys.executable, "-c", "pass"], runs)
    typer = measure("python3 -c 'import typer'", [sys.executable, "-c", "import typer"], runs)
    help_ = measure("kit-collab --help", [*KIT, "--help"], runs, kit_env())
    validate = measure("kit-collab validate examples/petite-commune.yaml",
                       [*KIT, "validate", str(ROOT / "examples" / "petite-commune.yaml")],
                       runs, kit_env())
    print(f"Médianes sur {runs} essais (temps écoulé ; CPU du processus lui-même)")
    print(python.line())
    print(typer.line(python))
    print(help_.line(python))
    print(f"  {'':<58} --help − import typer : {help_.wall - typer.wall:+.3f} s "
          "(objectif ≤ 0.1 s)")
    print(validate.line(python) + "  (objectif < 0.3 s)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        for ssh, noop in (noop_on_demo_bed(tmp, runs), noop_real_recipes(tmp, runs)):
            print(ssh.line(python))
            print(noop.line(ssh) + "  (objectif < 3 ×)")


if __name__ == "__main__":
    main()
