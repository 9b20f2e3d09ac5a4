"""Fleet no-op over 1, 10 and 20 SSH test hosts: wall time against one host's, peak memory.

    python3 bench/bench_fleet.py
Needs root, openssh-server and a running Docker engine (as the deploy tests). Each host is a
throwaway sshd on loopback with its own host key and server root, its commune's deployed
state written directly (no container). Aim: 20 hosts in under twice the time of one.

It prints, besides the wall times, the CPU time of kit-collab itself and of the whole machine:
here every "server" (its sshd, sudo, shell and remote script) runs on the same cores as
kit-collab, so once the machine is busy all the time the ratio measures those cores, not
kit-collab; on real servers the remote part runs on each server's own CPU.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this tree's kit-collab and tests

from tests.dockerbed import demo_data_root  # noqa: E402
from tests.sshd import SUDO_USER, running_sshd, sudo_test_users  # noqa: E402
from tests.test_fleet import predeploy, profile_data  # noqa: E402

from kit_collab.cli.commands import install as install_cmd  # noqa: E402
from kit_collab.cli.options import FleetArgs  # noqa: E402
from kit_collab.operations.install import InstallOptions  # noqa: E402


def machine_busy() -> float:
    """CPU seconds this machine has spent busy (all cores, all processes), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(count: int, tmp: Path, recipes: Path) -> tuple[float, float, float, float]:
    folder = tmp / f"inventaire-{count}"
    folder.mkdir()
    with contextlib.ExitStack() as stack:
        for i in range(count):
            host = stack.enter_context(running_sshd())
            host.authorize(SUDO_USER)
            root = tmp / f"srv-{count}-{i}"
            root.mkdir()
            root.chmod(0o755)
            data = profile_data(host.host, host.port, host.fingerprint, host.client_key, root,
                                f"Commune {i}", f"c{count}-{i}")
            # As DESIGN.md's example: a non-root account with sudo (its shell starts fast;
            # root's ~/.bashrc on these machines runs `pyenv init`, ~85 ms per command).
            data["serveur"]["utilisateur"] = SUDO_USER
            predeploy(data, recipes)
            (folder / f"c{i}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        def run(label: str) -> int:
            with contextlib.redirect_stdout(io.StringIO()):
                return install_cmd.run([folder], InstallOptions(), FleetArgs(
                    as_json=True, workers=20, logs=tmp / f"logs-{count}-{label}"), yes=True)

        # Timed without tracemalloc (it slows every allocation), then run again for memory.
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        busy_before = machine_busy()
        start = time.perf_counter()
        code = run("temps")
        elapsed = time.perf_counter() - start
        busy = machine_busy() - busy_before
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime -
                                                             cpu_before.ru_stime)
        tracemalloc.start()
        code = code or run("memoire")
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert code == 0, code
    return elapsed, peak / 1024 / 1024, cpu, busy


def main() -> None:
    with sudo_test_users(), tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        recipes = demo_data_root(tmp)
        os.environ["KIT_COLLAB_RECIPES"] = str(recipes)
        os.environ["KIT_COLLAB_KNOWN_HOSTS"] = str(tmp / "known_hosts")
        one, _peak, one_cpu, one_busy = measure(1, tmp, recipes)
        print(f"machine : {os.cpu_count()} cœurs, partagés par kit-collab et les serveurs "
              "de test (sshd, shells et scripts distants)")
        print(f"1 hôte : {one:.3f} s (CPU de kit-collab {one_cpu:.3f} s, de la machine "
              f"{one_busy:.2f} s)")
        for count in (10, 20):
            elapsed, peak, cpu, busy = measure(count, tmp, recipes)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{count} hôtes : {elapsed:.3f} s, soit {elapsed / one:.2f} × un hôte "
                  f"(objectif < 2 ×) ; CPU de kit-collab {cpu:.3f} s, de la machine "
                  f"{busy:.2f} s sur {elapsed * (os.cpu_count() or 1):.2f} s disponibles ; "
                  "mémoire Python au "
                  f"plus haut {peak:.1f} Mio (RSS max du processus {rss:.0f} Mio)")


if __name__ == "__main__":
    main()
