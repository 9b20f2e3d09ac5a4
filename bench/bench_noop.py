"""No-op re-install over SSH on loopback: wall time and SSH round trips, printed.

    python3 bench/bench_noop.py
Needs root, openssh-server and a running Docker engine (as the deploy tests). The server is
this machine through a throwaway sshd; the deployed state is written directly (no container
is started): a no-op run only reads facts and compares. Aim: under 1 s, and the same number
of round trips whatever the number of files.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this tree's kit-collab and tests

from tests.sshd import Sshd, running_sshd  # noqa: E402
from tests.test_fleet import predeploy  # noqa: E402

from kit_collab.apply import deploy  # noqa: E402
from kit_collab.apply.transport import connect  # noqa: E402
from kit_collab.profile.model import Profile  # noqa: E402
from kit_collab.recipes.load import load_recipes  # noqa: E402

PROFILES = {
    "minimale (Nextcloud)": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                             "jitsi": {"actif": False}},
    "complète (tout actif)": {"nextcloud": {"actif": True, "collabora": True},
                              "matrix": {"actif": True}, "jitsi": {"actif": True}},
}


def deployed_profile(sshd: Sshd, root: Path, services: dict[str, Any], users: int) -> Profile:
    data = {
        "commune": {"nom": "Banc d'Essai", "domaine": "banc-essai.fr",
                    "email_contact": "mairie@banc-essai.fr"},
        "serveur": {**sshd.serveur().model_dump(), "racine": str(root),
                    "empreinte_hote": sshd.fingerprint, "certificats": {"mode": "interne"}},
        "services": services,
        "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
        "utilisateurs": [{"identifiant": f"agent{i}", "nom": f"Agent {i}",
                          "email": f"agent{i}@banc-essai.fr", "services_municipaux": ["accueil"]}
                         for i in range(users)],
    }
    predeploy(data, ROOT)  # the real recipes, as a commune gets them
    return Profile.model_validate(data)


def main() -> None:
    recipes = load_recipes()
    with running_sshd() as sshd:
        for label, services in PROFILES.items():
            for users in (5, 50):
                with tempfile.TemporaryDirectory() as tmp:
                    root = Path(tmp)
                    root.chmod(0o755)
                    profile = deployed_profile(sshd, root, services, users)
                    files = sum(1 for p in root.rglob("*") if p.is_file())
                    times, trips = [], set()
                    for _ in range(5):
                        start = time.perf_counter()
                        with connect(profile.serveur,
                                     known_hosts_file=root / "kh") as transport:
                            outcome = deploy.install(transport, profile, recipes)
                        times.append(time.perf_counter() - start)
                        trips.add(outcome.round_trips)
                        assert not outcome.applied, "expected a no-op"
                    print(f"{label}, {users} agents, {files} fichiers : médiane "
                          f"{statistics.median(times):.3f} s (connexion SSH comprise), "
                          f"allers-retours SSH {sorted(trips)} (objectif < 1 s, constant)")


if __name__ == "__main__":
    main()
