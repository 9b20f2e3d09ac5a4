"""``install INVENTORY --canari N`` over real SSH test hosts: the canary fails, the others
are not started and untouched; once the canary passes, the others run. The canary's failure
is a real one: its state.json was written by a newer kit-collab (refused, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from . import dockerbed
from .sshd import running_sshd
from .test_fleet import _tree, predeploy, profile_data

NAMES = ["a-canari", "b-commune", "c-commune", "d-commune"]  # the inventory's order


def _fleet(tmp_path: Path, host, data_root: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "inventaire"
    folder.mkdir()
    root = tmp_path / "srv"  # one server (one root) for the four communes
    root.mkdir()
    root.chmod(0o755)
    roots = []
    for name in NAMES:
        roots.append(root / "communes" / name)
        data = profile_data(host.host, host.port, host.fingerprint, host.client_key, root,
                            name, name)
        predeploy(data, data_root)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder, roots


def test_canary_fails_and_the_other_three_are_not_started_nor_touched(tmp_path, cli):
    data_root = dockerbed.demo_data_root(tmp_path)
    with running_sshd() as host:
        folder, roots = _fleet(tmp_path, host, data_root)
        state = roots[0] / "state.json"
        written = json.loads(state.read_text())
        state.write_text(json.dumps({**written, "version": 99}))
        before = [_tree(r) for r in roots]
        env = {"KIT_COLLAB_RECIPES": str(data_root)}
        result = cli("install", folder, "--yes", "--json", "--canari", "1", env=env)
        assert result.out, (result.code, result.err)
        report = json.loads(result.out)
        by = {c["commune"]: c for c in report["communes"]}
        assert by[NAMES[0]]["resultat"] == "erreur"
        assert "plus récent" in by[NAMES[0]]["message"]
        for name in NAMES[1:]:
            assert by[name]["resultat"] == "non commencé"
            assert NAMES[0] in by[name]["message"]
        assert result.code == 2  # the canary's failure decides the exit code
        assert [_tree(r) for r in roots] == before  # nothing touched anywhere
        logs = Path(report["journaux"])
        assert not (logs / f"{NAMES[1]}.log").exists()  # never even connected
        # The canary repaired: it passes, and the others run after it.
        state.write_text(json.dumps(written))
        again = json.loads(cli("install", folder, "--yes", "--json", "--canari", "1",
                               env=env).out)
        assert [c["resultat"] for c in again["communes"]] == ["rien à faire"] * 4
