"""Benchmarks printed as figures (not timed tests): CLI cold start and rendering 100 communes.

    python3 bench/bench_cli.py
Aims: `kit-collab --help` cold start under 0.3 s; 100 communes rendered in under 1 s in all.
"""

from __future__ import annotations

import copy
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def cold_start(runs: int = 10) -> list[float]:
    """This tree's kit-collab (an installed ``kit-collab`` may be another copy)."""
    cmd = [sys.executable, "-m", "kit_collab", "--help"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - start)
    return times


def render_many(count: int = 100) -> tuple[float, float, int]:
    from kit_collab.bundle import ports
    from kit_collab.bundle.active import active_recipes
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM, ensure_secrets
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    base = yaml.safe_load((ROOT / "examples" / "petite-commune.yaml").read_text("utf-8"))
    profiles = []
    for i in range(count):
        data = copy.deepcopy(base)
        data["commune"]["nom"] = f"Commune n°{i}"
        data["commune"]["domaine"] = f"commune-{i}.fr"
        data["commune"]["email_contact"] = f"mairie@commune-{i}.fr"
        for user in data["utilisateurs"]:
            user["email"] = user["email"].replace("lhay-sur-mer.fr", f"commune-{i}.fr")
        profiles.append(Profile.model_validate(data))
    start = time.perf_counter()
    recipes = load_recipes()
    prepared = []
    for profile in profiles:
        active = active_recipes(profile, recipes)
        secrets, _ = ensure_secrets(active, None, (), SYSTEM)
        prepared.append((profile, active, secrets))
    # Several communes per server: allocate their unique ports together (10 per server).
    allocated = {}
    for group in range(0, count, 10):
        requests = [r for p, active, _ in prepared[group:group + 10]
                    for r in ports.port_requests(p.commune.code, active)]
        allocated.update(ports.allocate(requests))
    setup = time.perf_counter() - start
    files = 0
    start = time.perf_counter()
    for profile, _active, secrets in prepared:
        made = make_bundle(profile, recipes, draw=SYSTEM, secrets=secrets, recorded_ports=allocated)
        files += len(made.bundle.files)
    return setup, time.perf_counter() - start, files


def main() -> None:
    times = cold_start()
    print(f"kit-collab --help, démarrage à froid : médiane {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s sur {len(times)} essais "
          "(objectif < 0.3 s)")
    setup, elapsed, files = render_many()
    print(f"rendu de 100 communes : {elapsed:.3f} s ({files} fichiers) + préparation "
          f"(recettes, secrets, ports) {setup:.3f} s ; total {setup + elapsed:.3f} s "
          "(objectif < 1 s)")


if __name__ == "__main__":
    main()
