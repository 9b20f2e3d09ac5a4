"""Majors one at a time, for real: a real sshd on loopback, this machine's Docker engine, a
REAL PostgreSQL (Debian's, the e2e bed's image) and the ``registre`` stand-in recipe, here
with the Nextcloud entrypoint's rule (nextcloud/docker docker-entrypoint.sh: "upgrading from
X to Y is not supported" when the major jumps by more than one; data newer than the image
refused). Its schema version is its image's tag (3, 4, 5 here).

- A jump of two majors without a path image is refused by kit-collab before any change.
- With the path image, ``install`` goes through the intermediate major, then the pin, then
  runs the recipe's ``apres`` commands; the town's data is there all along.
- Going back to an older major is refused before any change.
- A release that migrates the data then fails its health (the stand-in's version 2): the
  snapshot restored, the previous release healthy on the old data, exit 1 naming the service
  with the logs' tail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from kit_collab.apply import deploy
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _connect,
    _profile_file,
    images,
    profile_for,
    server_root,
    sshd,
)

ONE_AT_A_TIME = '''if [ "$base" -gt 0 ] && [ "$REGISTRE_SCHEMA" -gt $((base + 1)) ]; then
  echo "upgrading from $base to $REGISTRE_SCHEMA is not supported" >&2
  exit 1
fi
if [ "$base" -lt "$REGISTRE_SCHEMA" ]; then'''


@pytest.fixture(scope="module")
def pg_images(images) -> Iterator[list[str]]:
    tags = dockerbed.build_postgres_images((1, 2, 3, 4, 5))
    try:
        yield tags
    finally:
        dockerbed.compose_down(SLUG)
        for tag in tags:
            dockerbed.docker("rmi", tag, check=False)


@pytest.fixture
def data_root(tmp_path: Path, pg_images) -> Path:
    root = dockerbed.registre_data_root(tmp_path)
    recipe = root / "recipes" / "registre"
    migrate = recipe / "templates" / "migrate.sh.j2"
    text = migrate.read_text()
    assert 'if [ "$base" -lt "$REGISTRE_SCHEMA" ]; then' in text
    migrate.write_text(text.replace('if [ "$base" -lt "$REGISTRE_SCHEMA" ]; then',
                                    ONE_AT_A_TIME, 1))
    _pin(root, 3)
    return root


def _pin(root: Path, schema: int, path: tuple[int, ...] | None = None) -> None:
    """Pin the app at ``schema``; ``path``: the intermediate images of the recipe's path."""
    file = root / "recipes" / "registre" / "recipe.yaml"
    text = file.read_text()
    text = text[:text.index("# upgrade-path")] if "# upgrade-path" in text else text
    old = next(line for line in text.splitlines() if line.startswith("  app: "))
    text = text.replace(old, f"  app: {dockerbed.registre_image(schema)}")
    if path is not None:
        images = ", ".join(dockerbed.registre_image(s) for s in path)
        text += ("# upgrade-path\nchemin_de_mise_a_niveau:\n  app:\n    genre: nextcloud-major\n"
                 f"    service: registre-app\n    chemin: [{images}]\n"
                 "    apres: [[sh, -c, \"echo fait > /fichiers/apres\"]]\n")
    file.write_text(text)


def _sql(query: str) -> str:
    db = dockerbed.container_ids(SLUG)["registre-db"]
    return dockerbed.docker("exec", db, "psql", "-X", "-tA", "-U", "registre", "-d", "registre",
                            "-c", query).stdout.strip()


def _app(*argv: str) -> str:
    app = dockerbed.container_ids(SLUG)["registre-app"]
    return dockerbed.docker("exec", app, *argv, check=False).stdout.strip()


def _current(server_root: Path) -> str:
    return os.readlink(server_root / "communes" / SLUG / "current").split("/")[1]


def _state(server_root: Path) -> dict:
    return json.loads((server_root / "communes" / SLUG / "state.json").read_text())


def test_two_majors_go_through_the_intermediate_one_and_a_skip_is_refused_first(
        sshd, server_root, data_root, tmp_path, cli):
    profile = profile_for(sshd, server_root)
    with _connect(sshd, profile, tmp_path) as transport:
        v3 = deploy.install(transport, profile, load_recipes(data_root), wait_seconds=60)
    assert _sql("SELECT version FROM schema") == "3"
    _sql("INSERT INTO notes VALUES ('délibération du conseil')")
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "KIT_COLLAB_WAIT": "60"}
    cli("status", path, "--accept-host-key", sshd.fingerprint, env=env)

    # 3 -> 5 with no image of major 4 in the path: refused by kit-collab, before any change.
    _pin(data_root, 5, path=())
    refused = cli("install", path, "--yes", "--force", env=env)
    assert refused.code == 2, refused.text
    assert "saut de majeure (3 → 5)" in refused.text and "rien n'a été changé" in refused.text
    assert _current(server_root) == v3.bundle.release
    assert not list((server_root / "communes" / SLUG).glob("avant-*"))  # no snapshot either
    assert _sql("SELECT version FROM schema") == "3"

    # With the path image: 3 -> 4 -> 5, each a whole install (snapshot, switch, health).
    _pin(data_root, 5, path=(4,))
    shown = cli("plan", path, env={**env, "COLUMNS": "200"})
    assert "registre 3 → 5" in shown.out and "nextcloud-major" in shown.out, shown.out
    done = cli("install", path, "--yes", "--force", env=env)
    assert done.code == 0, done.text
    assert "Étape intermédiaire : registre-app" in done.text, done.text
    notes = _sql("SELECT texte FROM notes ORDER BY texte")
    assert "délibération du conseil" in notes  # the town's data all along
    assert "migrée en 4" in notes and "migrée en 5" in notes  # went through major 4
    assert _sql("SELECT version FROM schema") == "5"
    assert _app("cat", "/fichiers/apres") == "fait"  # the recipe's apres commands ran
    state = _state(server_root)
    assert state["version"] == 3 and state["images"]["registre-app"].endswith("registre:5")
    assert len(state["historique"]) >= 3  # 3, then the intermediate 4, then 5

    # Back to 4 (older than the data): refused before any change.
    _pin(data_root, 4, path=())
    back = cli("install", path, "--yes", "--force", env=env)
    assert back.code == 2 and "plus ancienne" in back.text, back.text
    assert _sql("SELECT version FROM schema") == "5"


def test_upgrade_that_migrates_then_fails_health_is_undone_and_exits_1(
        sshd, server_root, data_root, tmp_path, cli):
    _pin(data_root, 1)
    profile = profile_for(sshd, server_root)
    with _connect(sshd, profile, tmp_path) as transport:
        v1 = deploy.install(transport, profile, load_recipes(data_root), wait_seconds=60)
    _sql("INSERT INTO notes VALUES ('délibération du conseil')")
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "KIT_COLLAB_WAIT": "15"}
    _pin(data_root, 2, path=())  # one major: allowed; version 2 never becomes healthy
    failed = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                 env=env)
    assert failed.code == 1, failed.text
    assert "registre-app" in failed.text and "remise en place" in failed.text
    assert "Derniers journaux" in failed.text  # the logs' tail, in the message
    assert _current(server_root) == v1.bundle.release
    assert _sql("SELECT version FROM schema") == "1"  # the snapshot restored
    notes = _sql("SELECT texte FROM notes ORDER BY texte")
    assert "délibération du conseil" in notes and "migrée en 2" not in notes
    assert _app("cat", "/fichiers/version") == "1"
    assert _state(server_root)["release"] == v1.bundle.release
