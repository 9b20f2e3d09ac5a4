"""``install --dry-run``: validate, render and describe what would be deployed; no server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.i18n import tr
from kit_collab.operations.report import OK, OperationResult


@dataclass
class Simulated(OperationResult):
    prepared: Any = None  # operations.prepare.Prepared (secrets: never printed)


def simulate(profile_path: Path) -> Simulated:
    """The bundle install would deploy, rendered here; no secrets file written."""
    from kit_collab.operations.prepare import prepare

    prepared = prepare(profile_path, persist=False)
    data = describe(prepared)
    return Simulated(constants.EXIT_OK, OK, tr(f"version {data['release']}",
                                               f"release {data['release']}"), "", data,
                     prepared=prepared)


def describe(prepared: Any) -> dict[str, Any]:
    """The bundle as data: services and addresses, files, tasks, health checks, needs."""
    profile, bundle = prepared.profile, prepared.bundle
    prefix = bundle.release_dir + "/"
    return {
        "commune": profile.commune.code, "nom": profile.commune.nom,
        "domaine": profile.commune.domaine, "serveur": profile.serveur.hote,
        "hebergeur": profile.serveur.hebergeur, "pays": profile.serveur.pays,
        "release": bundle.release,
        "recettes": [{"nom": name, "version": version,
                      "adresses": [f"https://{h}"
                                   for h in bundle.hosts.get(name, {}).values()]}
                     for name, version in bundle.recipes],
        "fichiers": [{"chemin": f.path.replace(prefix, f"communes/{bundle.slug}/current/"),
                      "mode": f"{f.mode:04o}", "taille": len(f.content)}
                     for f in bundle.files],
        "taches": [{"recette": t.recipe, "tache": t.description} for t in bundle.tasks],
        "controles": [{"recette": c.recipe, "controle": c.name, "url": c.url}
                      for c in bundle.checks],
        "besoins": dict(bundle.resources),
    }


def server_totals(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per server of a fleet's dry run: its communes and their needs summed (RAM, disk,
    vCPU), to see before renting whether they fit on it."""
    totals: dict[str, dict[str, Any]] = {}
    for report in reports:
        row = totals.setdefault(report["serveur"], {"serveur": report["serveur"],
                                                    "communes": [], "ram_mb": 0,
                                                    "disk_gb": 0.0, "cpu": 0.0})
        row["communes"].append(report["commune"])
        for key in ("ram_mb", "disk_gb", "cpu"):
            row[key] += report["besoins"][key]
    return list(totals.values())
