"""Sheets on demand (issue 15, item 7: "Sheets can only be made by a successful install: no
way to reprint a lost one, or print one for an agent added later"): ``kit-collab fiches``
writes them again from the passwords kept on the server, over real SSH, deploying nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    SLUG,
    _profile_file,
    data_root,
    images,
    server_root,
    sshd,
)
from .test_secrets_guard import _env


def _password_on_server(root: Path, who: str) -> str:
    secrets = root / "communes" / SLUG / "secrets" / "secrets.json"
    return str(json.loads(secrets.read_text())["comptes"][who])


def test_lost_sheet_reprinted_from_the_server_and_a_new_agent_waits_for_install(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    path = _profile_file(tmp_path, sshd, server_root)
    env = _env(data_root, tmp_path)
    assert cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
               env=env).code == 0
    folder = tmp_path / f"fiches-{SLUG}"
    sheet = folder / "fiche-mdupont.html"
    assert sheet.is_file()
    shutil.rmtree(folder)  # the sheets are lost
    ids = dockerbed.container_ids(SLUG)
    before = sorted(p.name for p in (server_root / "communes" / SLUG / "releases").iterdir())

    result = cli("fiches", path, env=env)
    assert result.code == 0, result.text
    password = _password_on_server(server_root, "mdupont")
    assert password in sheet.read_text("utf-8")
    assert password not in result.text  # never on the terminal
    assert (folder / "guide-accueil.html").is_file()
    assert folder.stat().st_mode & 0o077 == 0
    assert dockerbed.container_ids(SLUG) == ids  # nothing deployed, nothing restarted
    assert sorted(p.name for p in (server_root / "communes" / SLUG / "releases").iterdir()) \
        == before

    data = yaml.safe_load(path.read_text("utf-8"))
    data["utilisateurs"].append({"identifiant": "pmartin", "nom": "Paul Martin",
                                 "email": "paul@saint-essai.fr", "role": "agent"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    added = cli("fiches", path, env=env)
    assert added.code == 0 and "pmartin" in added.text and "install" in added.text
    assert not (folder / "fiche-pmartin.html").exists()  # no sheet with an invented password

    only = cli("fiches", path, "--agent", "pmartin", env=env)
    assert only.code == 1 and "kit-collab install" in only.text
    unknown = cli("fiches", path, "--agent", "personne", env=env)
    assert unknown.code == 2 and "mdupont" in unknown.text and "Traceback" not in unknown.text
