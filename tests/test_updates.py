"""``kit-collab mises-a-jour`` and the versions in ``plan`` over a real SSH test host: a
commune deployed with an older pin is listed with its deployed and wanted versions and the
security fixes the update brings (advisories of the recipe, no network); an up-to-date one
is not. Nothing is changed on the server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from . import dockerbed
from .sshd import running_sshd
from .test_fleet import _tree, predeploy, profile_data

OLD = "busybox:1.35.0"


def _roots(tmp_path: Path) -> tuple[Path, Path]:
    """The recipes of this kit-collab (with an advisory fixed in 1.36.1), and the same with
    the older pin an earlier kit-collab deployed."""
    new = dockerbed.demo_data_root(tmp_path / "new")
    recipe = new / "recipes" / "demo" / "recipe.yaml"
    recipe.write_text(recipe.read_text() + (
        "advisories:\n  - {image: web, id: CVE-2099-0001, severity: high, fixed_in: 1.36.1,\n"
        "     source: test}\n"))
    old = tmp_path / "old"
    shutil.copytree(new, old / "data")
    old_recipe = old / "data" / "recipes" / "demo" / "recipe.yaml"
    old_recipe.write_text(old_recipe.read_text().replace("busybox:1.36.1", OLD))
    return new, old / "data"


def test_outdated_commune_is_listed_with_its_security_fixes(tmp_path, cli):
    new, old = _roots(tmp_path)
    folder = tmp_path / "inventaire"
    folder.mkdir()
    root = tmp_path / "srv"
    root.mkdir()
    root.chmod(0o755)
    with running_sshd() as host:
        for name, recipes in (("ancienne", old), ("a-jour", new)):
            data = profile_data(host.host, host.port, host.fingerprint, host.client_key, root,
                                name, name)
            predeploy(data, recipes)
            (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        before = _tree(root)
        env = {"KIT_COLLAB_RECIPES": str(new)}
        result = cli("mises-a-jour", folder, "--json", env=env)
        assert result.code == 0, result.err
        by = {c["commune"]: c for c in json.loads(result.out)["communes"]}
        late = by["ancienne"]["rapport"]
        assert late["a_mettre_a_jour"] == ["demo-web", "demo-worker"]
        assert late["correctifs_securite"] == ["CVE-2099-0001"]
        web = next(v for v in late["versions"] if v["service"] == "demo-web")
        assert web["texte"] == "busybox 1.35.0 → 1.36.1" and not web["a_jour"]
        assert by["ancienne"]["resultat"] == "ok"
        assert by["a-jour"]["resultat"] == "rien à faire"
        assert by["a-jour"]["rapport"]["a_mettre_a_jour"] == []
        # The same versions, and the steps, in the plan of the outdated commune.
        plan = cli("plan", folder / "ancienne.yaml", "--json", env=env)
        steps = json.loads(plan.out)["communes"][0]["rapport"]["mise_a_niveau"]
        assert [s["genre"] for s in steps["etapes"]] == ["image", "image"]
        assert all(s["risque"] and s["minutes"] for s in steps["etapes"])
        human = cli("mises-a-jour", folder, env=env)
        assert "ancienne" in human.out and "correctif" in human.out
        assert _tree(root) == before  # read-only
