"""A PostgreSQL major change migrated by ``install`` itself (issue 17), for real: a real sshd
on loopback, this machine's Docker engine, the ``registre`` stand-in recipe whose database is
Debian 12's PostgreSQL 15 (tests/pgbed.py), then the recipe changed to Debian 13's 17.

- ``install`` migrates: the plan says it is no image swap, the rows are the same, the
  database runs from the new volume, the old volume is kept; state.json records the volume;
- the next install removes the old volume;
- a release that fails its health after the migration: the migration undone, the old
  cluster back with its data, the new volume gone, exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from kit_collab.apply import pg_install
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw
from kit_collab.plan.state import State

from . import dockerbed, pgbed
from .test_deploy import (  # noqa: F401  (fixtures)
    SLUG,
    _profile_file,
    images,
    profile_for,
    server_root,
    sshd,
)

ROWS = "SELECT count(*) FROM notes"
NAMED = '  registre_db: {{ ("{name: " ~ volumes_postgres.registre_db ~ "}") ' \
        'if "registre_db" in volumes_postgres else "{}" }}'


# --- pure ------------------------------------------------------------------------------------


def test_a_migrated_cluster_is_named_in_compose_and_nothing_changes_without_one() -> None:
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    from .conftest import base_profile

    recipes, profile = load_recipes(), Profile.model_validate(base_profile())
    plain = make_bundle(profile, recipes, draw=digest_draw("t")).bundle
    moved = make_bundle(profile, recipes, draw=digest_draw("t"),
                        postgres_volumes={"matrix_db": "matrix_db-pg18"}).bundle
    text = {f.path.replace(moved.release, "R"): f.content.decode() for f in moved.files}
    before = {f.path.replace(plain.release, "R"): f.content.decode() for f in plain.files}
    slug = plain.slug
    matrix = next(p for p in text if p.endswith("matrix/compose.yaml"))
    import yaml

    assert yaml.safe_load(text[matrix])["volumes"]["matrix_db"] == {
        "name": f"{slug}_matrix_db-pg18"}  # written through the compose escaping filter
    assert "matrix_db: {}" in before[matrix]
    changed = [p for p in text if text[p] != before.get(p)]
    assert [p for p in changed if "compose" in p] == [matrix]  # nextcloud's untouched


def test_only_volumes_older_than_the_one_in_use_are_pruned() -> None:
    existing = ["registre_db", "registre_db-pg17", "registre_db-pg18", "registre_fichiers"]
    # pg18 is newer than the one in use: a migration under way, never removed here
    assert pg_install._stale({"registre_db": "registre_db-pg17"}, existing) == ["registre_db"]
    assert pg_install._stale({}, existing) == []


def test_state_records_the_migrated_volume() -> None:
    from kit_collab.plan.state import from_json

    state = State(release="r", volumes_postgres={"matrix_db": "matrix_db-pg18"})
    again = from_json(json.loads(json.dumps(state.as_json())))
    assert again.volumes_postgres == {"matrix_db": "matrix_db-pg18"}


# --- real ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_images(images) -> Iterator[list[str]]:
    majors = [pgbed.build(15), pgbed.build(17)]  # cached images, never removed here
    tags = dockerbed.build_postgres_images((1, 2))
    try:
        yield majors
    finally:
        dockerbed.compose_down(SLUG)
        _remove_volumes()
        for tag in tags:
            dockerbed.docker("rmi", tag, check=False)


def _remove_volumes() -> None:
    out = dockerbed.docker("volume", "ls", "-q", "--filter", f"name={SLUG}_", check=False)
    for name in out.stdout.split():
        if name.startswith(f"{SLUG}_"):
            dockerbed.docker("volume", "rm", "-f", name, check=False)


@pytest.fixture
def data_root(tmp_path: Path, pg_images) -> Iterator[Path]:
    root = dockerbed.registre_data_root(tmp_path)
    compose = root / "recipes" / "registre" / "templates" / "compose.yaml.j2"
    text = compose.read_text()
    assert "  registre_db: {}\n" in text
    compose.write_text(text.replace("  registre_db: {}", NAMED))
    _pin(root, db=pgbed.image(15))
    yield root
    dockerbed.compose_down(SLUG)
    _remove_volumes()


def _pin(root: Path, db: str, app: int = 1) -> None:
    file = root / "recipes" / "registre" / "recipe.yaml"
    lines = file.read_text().splitlines()
    lines = [f"  db: {db}" if line.startswith("  db: ") and "20" not in line else
             f"  app: {dockerbed.registre_image(app)}" if line.startswith("  app: ") and
             "20" not in line else line for line in lines]
    file.write_text("\n".join(lines) + "\n")


def _sql(query: str) -> str:
    db = dockerbed.container_ids(SLUG)["registre-db"]
    return dockerbed.docker("exec", db, "psql", "-X", "-tA", "-U", "registre", "-d", "registre",
                            "-c", query).stdout.strip()


def _db_volume() -> str:
    db = dockerbed.container_ids(SLUG)["registre-db"]
    return dockerbed.docker("inspect", "--format",
                            '{{range .Mounts}}{{.Name}} {{end}}', db).stdout.strip()


def _volumes() -> set[str]:
    out = dockerbed.docker("volume", "ls", "-q", "--filter", f"name={SLUG}_registre_db")
    return set(out.stdout.split())


def _state(server_root: Path) -> dict:
    return json.loads((server_root / "communes" / SLUG / "state.json").read_text())


def _env(tmp_path: Path, data_root: Path, wait: str) -> dict[str, str]:
    return {"KIT_COLLAB_RECIPES": str(data_root),
            "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "KIT_COLLAB_WAIT": wait}


def _installed_on_15(sshd, server_root, data_root, tmp_path, cli, wait: str = "90") -> Path:
    path = _profile_file(tmp_path, sshd, server_root)
    first = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                env=_env(tmp_path, data_root, wait))
    assert first.code == 0, first.text
    _sql("INSERT INTO notes SELECT 'délibération ' || g FROM generate_series(1, 500) g")
    assert _sql("SHOW server_version").startswith("15.")
    return path


def test_install_migrates_postgres_15_to_17_and_the_next_install_prunes_the_old_volume(
        sshd, server_root, data_root, tmp_path, cli):
    path = _installed_on_15(sshd, server_root, data_root, tmp_path, cli)
    rows = _sql(ROWS)
    old, new = f"{SLUG}_registre_db", f"{SLUG}_registre_db-pg17"
    _pin(data_root, db=pgbed.image(17))
    env = _env(tmp_path, data_root, "90")
    shown = cli("plan", path, env={**env, "COLUMNS": "200"})
    assert "jamais un simple changement d'image" in shown.out, shown.out
    done = cli("install", path, "--yes", "--force", env=env)
    assert done.code == 0, done.text
    assert "Migration PostgreSQL 15 → 17 de registre-db" in done.text, done.text
    assert _sql("SHOW server_version").startswith("17.")
    assert _sql(ROWS) == rows and int(rows) >= 500  # the same rows
    assert _db_volume() == new  # the service runs from the new volume
    assert {old, new} <= _volumes()  # the old one kept
    state = _state(server_root)
    assert state["version"] == 3 and state["volumes_postgres"] == {
        "registre_db": "registre_db-pg17"}

    again = cli("install", path, "--yes", "--force", env=env)  # nothing to change: prunes
    assert again.code == 0, again.text
    assert old not in _volumes() and new in _volumes()
    assert _sql(ROWS) == rows


def test_a_release_failing_health_after_the_migration_is_undone_with_the_old_cluster(
        sshd, server_root, data_root, tmp_path, cli):
    path = _installed_on_15(sshd, server_root, data_root, tmp_path, cli)
    rows = _sql(ROWS)
    _pin(data_root, db=pgbed.image(17), app=2)  # version 2 never becomes healthy
    failed = cli("install", path, "--yes", "--force", env=_env(tmp_path, data_root, "15"))
    assert failed.code == 1, failed.text
    assert "Retour à l'ancienne base de registre-db" in failed.text, failed.text
    assert "remise en place" in failed.text
    assert _sql("SHOW server_version").startswith("15.")  # the old cluster, with its data
    assert _sql(ROWS) == rows
    assert _db_volume() == f"{SLUG}_registre_db"
    assert _volumes() == {f"{SLUG}_registre_db"}  # the new volume removed
    assert "volumes_postgres" not in _state(server_root) or \
        _state(server_root)["volumes_postgres"] == {}


def test_after_a_rollback_the_volume_in_use_is_the_running_compose_files_not_the_state(
) -> None:
    from kit_collab.plan.facts import Facts

    state = State(release="r", volumes_postgres={"matrix_db": "matrix_db-pg18"})
    # the release running again after a rollback names no volume: its cluster is matrix_db
    back = Facts(state=state, images={"matrix-db": "postgres:17.11"}, volume_names={})
    assert pg_install.recorded(back, "lhay") == {}
    running = Facts(state=state, images={"matrix-db": "postgres:18.1"},
                    volume_names={"matrix_db": "lhay_matrix_db-pg18", "x": "autre"})
    assert pg_install.recorded(running, "lhay") == {"matrix_db": "matrix_db-pg18"}
    unread = Facts(state=state)  # compose files unreadable: state.json's record
    assert pg_install.recorded(unread, "lhay") == {"matrix_db": "matrix_db-pg18"}


def test_the_server_facts_read_the_volume_names_of_the_running_compose_files() -> None:
    import base64

    from kit_collab.apply.scripts import facts as facts_script

    doc = b"services: {}\nvolumes:\n  matrix_db: {name: lhay_matrix_db-pg18}\n  data: {}\n"
    assert facts_script._volume_names(base64.b64encode(doc).decode()) == {
        "matrix_db": "lhay_matrix_db-pg18"}


def test_the_snapshot_before_a_later_upgrade_saves_the_migrated_cluster_not_the_old_one(
) -> None:
    from kit_collab.plan.changes import Saved
    from kit_collab.plan.facts import Facts

    saved = (Saved("matrix", "matrix-db", (), "synapse", "synapse", "matrix_db"),
             Saved("matrix", "matrix-synapse", ("matrix_data",)))
    facts = Facts(images={"matrix-db": "postgres:18.1"},
                  volume_names={"matrix_db": "lhay_matrix_db-pg18"})
    assert [s.base_volume for s in pg_install.in_use(saved, facts, "lhay")] == [
        "matrix_db-pg18", ""]
