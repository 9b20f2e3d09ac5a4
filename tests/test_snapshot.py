"""Snapshots of the data before a switch that changes a stateful image.

Pure parts (recipe declarations, what the plan saves, the manifest), then for real: a real
sshd on loopback, this machine's Docker engine, a REAL PostgreSQL (Debian's, the e2e bed's
image built under this run's tag) and the ``registre`` stand-in recipe, whose application
migrates its database and its volume when it starts and refuses data newer than itself (as
the Nextcloud and Synapse images do); its version 2 never becomes healthy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

# ruff: noqa: F811  (the fixtures of test_deploy, imported by name)
from kit_collab.apply import deploy
from kit_collab.apply.scripts import snapshot as snapshot_script
from kit_collab.bundle.model import Bundle, Service
from kit_collab.errors import DeployError, RecipeError
from kit_collab.plan import changes
from kit_collab.plan.changes import Saved
from kit_collab.plan.facts import Facts
from kit_collab.recipes.load import RecipeSpec, load_recipes

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

REPO = Path(__file__).resolve().parent.parent

# --- pure: declarations and the plan --------------------------------------------------------


def _bundle(release: str, images: dict[str, str]) -> Bundle:
    services = tuple(Service(n, n.split("-")[0], i, "unless-stopped") for n, i in images.items())
    return Bundle(slug="x", release=release, files=(), recipes=(), hosts={}, ports={},
                  tasks=(), checks=(), services=services)


def test_real_recipes_declare_the_data_of_their_stateful_services() -> None:
    data = changes.data_of(load_recipes(REPO))
    assert {d.service: (tuple(d.volumes), d.postgres and d.postgres.base)
            for specs in data.values() for d in specs} == {
        "nextcloud": (("nextcloud_html",), None), "nextcloud-db": ((), "nextcloud"),
        "matrix-synapse": (("matrix_data",), None), "matrix-db": ((), "synapse"),
        "jitsi-prosody": (("jitsi_prosody_data",), None)}


def test_declared_volumes_are_volumes_of_the_rendered_compose_files() -> None:
    """A declared volume that the compose file does not have would make every snapshot fail:
    checked against the rendered example (tests/golden/petite-commune)."""
    release = REPO / "tests" / "golden" / "petite-commune" / "communes" / "lhay-sur-mer-fr" / \
        "release"
    for recipe, specs in changes.data_of(load_recipes(REPO)).items():
        compose = yaml.safe_load((release / recipe / "compose.yaml").read_text("utf-8"))
        for spec in specs:
            names = [*spec.volumes, *([spec.postgres.volume] if spec.postgres else [])]
            assert set(names) <= set(compose["volumes"]), (recipe, names)
            mounted = " ".join(str(v) for v in compose["services"][spec.service]["volumes"])
            assert all(f"{n}:" in mounted for n in names), (spec.service, mounted)


def test_data_of_an_unknown_service_or_with_nothing_in_it_is_refused() -> None:
    base = yaml.safe_load((REPO / "tests" / "data" / "recipes" / "registre" / "recipe.yaml")
                          .read_text("utf-8"))
    RecipeSpec.model_validate(base)
    for bad in ([{"service": "inconnu", "volumes": ["v"]}], [{"service": "registre-app"}],
                [{"service": "registre-app", "volumes": ["../etc"]}]):
        with pytest.raises(ValueError, match="donnees"):
            RecipeSpec.model_validate({**base, "donnees": bad})


def test_an_unknown_data_service_names_the_recipe_file(tmp_path: Path) -> None:
    folder = tmp_path / "recipes" / "registre"
    folder.mkdir(parents=True)
    text = (REPO / "tests" / "data" / "recipes" / "registre" / "recipe.yaml").read_text()
    (folder / "recipe.yaml").write_text(text.replace("{service: registre-app,",
                                                     "{service: registre-ap,"))
    with pytest.raises(RecipeError) as info:
        load_recipes(tmp_path)
    assert "registre-ap" in str(info.value.problems)


DATA = changes.data_of(load_recipes(REPO))
OLD = {"nextcloud": "nextcloud:34.0.2-apache", "nextcloud-db": "postgres:17.6",
       "nextcloud-redis": "redis:7.4.5", "matrix-synapse": "matrixdotorg/synapse:v1.157.1",
       "matrix-db": "postgres:17.6", "matrix-element": "vectorim/element-web:v1.12.24"}


def test_an_app_image_change_saves_the_app_and_its_database() -> None:
    facts = Facts(current="r-1", images=OLD)
    new = {**OLD, "nextcloud": "nextcloud:34.0.3-apache"}
    plan = changes.build(_bundle("r-2", new), facts, data=DATA)
    assert [s.service for s in plan.snapshot] == ["nextcloud", "nextcloud-db"]
    shown = [c for c in plan.changes() if c.action == "instantane"]
    assert shown[0].target == "instantané avant bascule : nextcloud, nextcloud-db"
    assert shown[0].detail == "communes/x/avant-r-2"
    assert plan.as_dict()["changements"][-1]["action"] == "instantane"


def test_no_snapshot_without_a_stateful_image_change() -> None:
    stateless = {**OLD, "nextcloud-redis": "redis:7.4.6", "matrix-element": "vectorim/x:2"}
    assert changes.build(_bundle("r-2", stateless), Facts(current="r-1", images=OLD),
                         data=DATA).snapshot == ()
    # A first install has no data yet; nor has a service that does not run yet.
    assert changes.build(_bundle("r-2", OLD), Facts(), data=DATA).snapshot == ()
    fresh = {k: v for k, v in OLD.items() if not k.startswith("matrix")}
    plan = changes.build(_bundle("r-2", {**OLD, "matrix-db": "postgres:18.1"}),
                         Facts(current="r-1", images=fresh), data=DATA)
    assert plan.snapshot == ()


def test_a_database_image_change_saves_the_whole_recipe_data_only() -> None:
    plan = changes.build(_bundle("r-2", {**OLD, "matrix-db": "postgres:18.1"}),
                         Facts(current="r-1", images=OLD), data=DATA)
    assert plan.snapshot == (Saved("matrix", "matrix-synapse", ("matrix_data",)),
                             Saved("matrix", "matrix-db", (), "synapse", "synapse", "matrix_db"))


def test_an_earlier_snapshot_of_the_release_is_known_to_the_plan() -> None:
    facts = Facts(current="r-1", images=OLD, snapshots=("r-2", "r-0.partial"))
    assert changes.build(_bundle("r-2", OLD), facts, data=DATA).snapshot_found
    assert not changes.build(_bundle("r-3", OLD), facts, data=DATA).snapshot_found


def test_manifest_round_trip_and_refusal_answers() -> None:
    saved = (Saved("matrix", "matrix-db", (), "synapse", "synapse", "matrix_db"),)
    text = snapshot_script.manifest("r-2", "r-1", saved)
    assert snapshot_script.parse_manifest(text) == ("r-1", saved)
    assert snapshot_script.parse_manifest("") is None
    assert snapshot_script.parse_manifest('{"de": 1}') is None
    assert snapshot_script.no_space("x\nno-space need-kb=2048 free-kb=1024\n") == (2048, 1024)
    assert snapshot_script.no_space("snapshot-taken") is None


def test_facts_report_the_running_images_and_the_snapshots() -> None:
    import base64

    from kit_collab.apply.scripts import facts as facts_script

    compose = base64.b64encode(b"services:\n  registre-db: {image: 'postgres:15'}\n").decode()
    facts = facts_script.parse(f"compose=registre {compose}\ncompose=autre !!\n"
                               "snapshot=r-2\nsnapshot=r-3.partial\nend=ok\n")
    assert facts.images == {"registre-db": "postgres:15"}
    assert facts.snapshots == ("r-2", "r-3.partial")


# --- for real: sshd, Docker, a real PostgreSQL ------------------------------------------------


@pytest.fixture(scope="module")
def pg_images(images) -> Iterator[list[str]]:
    tags = dockerbed.build_postgres_images((1, 2, 3))
    try:
        yield tags
    finally:
        dockerbed.compose_down(SLUG)
        for tag in tags:
            dockerbed.docker("rmi", tag, check=False)


@pytest.fixture
def data_root(tmp_path: Path, pg_images) -> Path:
    return dockerbed.registre_data_root(tmp_path)


def _install(sshd, profile, tmp_path, data_root, wait: int = 60):
    with _connect(sshd, profile, tmp_path) as transport:
        return deploy.install(transport, profile, load_recipes(data_root), wait_seconds=wait)


def _app_schema(data_root: Path, schema: int) -> None:
    path = data_root / "recipes" / "registre" / "recipe.yaml"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("  app: "))
    path.write_text(text.replace(old, f"  app: {dockerbed.registre_image(schema)}"))


def _sql(query: str) -> str:
    db = dockerbed.container_ids(SLUG)["registre-db"]
    return dockerbed.docker("exec", db, "psql", "-X", "-tA", "-U", "registre", "-d", "registre",
                            "-c", query).stdout.strip()


def _app(*argv: str) -> str:
    app = dockerbed.container_ids(SLUG)["registre-app"]
    return dockerbed.docker("exec", app, *argv, check=False).stdout.strip()


def _health(service: str) -> str:
    cid = dockerbed.container_ids(SLUG)[service]
    return dockerbed.docker("inspect", "--format", "{{.State.Health.Status}}", cid).stdout.strip()


def _current(server_root: Path) -> str:
    return os.readlink(server_root / "communes" / SLUG / "current").split("/")[1]


def _snapshots(server_root: Path) -> list[str]:
    return sorted(p.name for p in (server_root / "communes" / SLUG).glob("avant-*"))


def test_release_that_migrated_its_data_then_failed_is_rolled_back_with_the_old_data(
        sshd, server_root, data_root, tmp_path, cli):
    profile = profile_for(sshd, server_root)
    v1 = _install(sshd, profile, tmp_path, data_root).bundle.release
    assert _sql("SELECT version FROM schema") == "1"
    _sql("INSERT INTO notes VALUES ('délibération du conseil')")
    assert _snapshots(server_root) == []  # a first install has nothing to save

    # `plan` names the snapshot the next install takes.
    _app_schema(data_root, 2)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts")}
    path = _profile_file(tmp_path, sshd, server_root)
    shown = cli("plan", path, env={**env, "COLUMNS": "200"})
    assert shown.code == 0, shown.text
    assert "instantané avant bascule : registre-app, registre-db" in shown.out, shown.out
    report = json.loads(cli("plan", path, "--json", env=env).out)["communes"][0]["rapport"]
    assert [c["cible"] for c in report["changements"] if c["action"] == "instantane"] == [
        "instantané avant bascule : registre-app, registre-db"]

    # Version 2 migrates the database and the volume, then never becomes healthy.
    with pytest.raises(DeployError) as info:
        _install(sshd, profile, tmp_path, data_root, wait=15)
    v2 = info.value.message
    assert "remise en place avec ses données d’avant la bascule" in v2, v2
    assert _current(server_root) == v1
    # The previous release serves the old data: version 1, the town's note, not v2's.
    assert _health("registre-app") == "healthy"
    assert _sql("SELECT version FROM schema") == "1"
    notes = _sql("SELECT texte FROM notes ORDER BY texte")
    assert "délibération du conseil" in notes and "migrée en 2" not in notes
    assert _app("cat", "/fichiers/version") == "1"
    kept = _snapshots(server_root)
    assert len(kept) == 1 and kept[0].startswith("avant-r-")  # kept until an install succeeds
    state = json.loads((server_root / "communes" / SLUG / "state.json").read_text())
    assert state["release"] == v1 and state["operation"] is None

    # Version 3 is healthy: its snapshot is the only one left once it is installed.
    _app_schema(data_root, 3)
    v3 = _install(sshd, profile, tmp_path, data_root)
    assert v3.applied and [s.service for s in v3.plan.snapshot] == ["registre-app",
                                                                   "registre-db"]
    assert _snapshots(server_root) == [f"avant-{v3.bundle.release}"]
    assert _sql("SELECT version FROM schema") == "3"
    _sql("INSERT INTO notes VALUES ('écrit sous la version 3')")

    # `rollback` from version 3: its snapshot is restored first (version 1 refuses data of
    # version 3), and version 1 serves the data as it was before the switch.
    back = cli("rollback", path, "--yes", env={**env, "KIT_COLLAB_WAIT": "60"})
    assert back.code == 0, back.text
    assert _current(server_root) == v1
    assert _health("registre-app") == "healthy"
    assert _sql("SELECT version FROM schema") == "1"
    notes = _sql("SELECT texte FROM notes ORDER BY texte")
    assert "délibération du conseil" in notes and "écrit sous la version 3" not in notes


def test_without_a_snapshot_the_rollback_says_the_previous_release_did_not_come_back(
        sshd, server_root, data_root, tmp_path):
    """The same failure with the data declaration removed: nothing is saved, version 1
    refuses the migrated data, and the roll back says so (exit 1), never "remise en place"."""
    path = data_root / "recipes" / "registre" / "recipe.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("donnees:")])
    profile = profile_for(sshd, server_root)
    v1 = _install(sshd, profile, tmp_path, data_root).bundle.release
    _app_schema(data_root, 2)
    with pytest.raises(DeployError) as info:
        _install(sshd, profile, tmp_path, data_root, wait=15)
    assert "n'est PAS revenue" in info.value.message
    assert "remise en place" not in info.value.message
    assert _current(server_root) == v1 and _snapshots(server_root) == []


def test_snapshot_refused_when_the_disk_is_too_small_nothing_switched(
        sshd, server_root, data_root, tmp_path, monkeypatch):
    profile = profile_for(sshd, server_root)
    v1 = _install(sshd, profile, tmp_path, data_root).bundle.release
    _app_schema(data_root, 3)
    monkeypatch.setattr(snapshot_script, "RESERVE_KB", 10**12)  # a petabyte left free
    with pytest.raises(DeployError) as info:
        _install(sshd, profile, tmp_path, data_root)
    assert "place insuffisante" in info.value.message and "rien n'a changé" in info.value.message
    assert _current(server_root) == v1 and _snapshots(server_root) == []
    assert _health("registre-app") == "healthy"  # the services stopped for a copy: none
    assert not (server_root / "communes" / SLUG / ".lock").exists()


class LostDuringUp:
    """Wraps a transport: the connection is lost while the switch script runs (it runs to
    its end on the server, its answer never arrives)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    @property
    def round_trips(self) -> int:
        return self.inner.round_trips

    def run(self, script, *, stdin=None, **kwargs):
        result = self.inner.run(script, stdin=stdin, **kwargs)
        if script.rstrip().endswith("echo up"):
            raise DeployError("connexion perdue (test)")
        return result


def test_interrupted_install_resumed_then_failing_restores_the_first_attempts_snapshot(
        sshd, server_root, data_root, tmp_path):
    """The snapshot of an attempt cut after the switch is found by the next install, which
    resumes, fails again, and restores it before switching back."""
    profile = profile_for(sshd, server_root)
    v1 = _install(sshd, profile, tmp_path, data_root).bundle.release
    _sql("INSERT INTO notes VALUES ('registre des arrêtés')")
    _app_schema(data_root, 2)
    with _connect(sshd, profile, tmp_path) as transport, pytest.raises(DeployError):
        deploy.install(LostDuringUp(transport), profile, load_recipes(data_root),
                       wait_seconds=15)
    assert _current(server_root) != v1 and _sql("SELECT version FROM schema") == "2"
    with pytest.raises(DeployError) as info:
        _install(sshd, profile, tmp_path, data_root, wait=15)
    assert "avec ses données d’avant la bascule" in info.value.message, info.value.message
    assert _current(server_root) == v1 and _health("registre-app") == "healthy"
    assert _sql("SELECT version FROM schema") == "1"
    assert "registre des arrêtés" in _sql("SELECT texte FROM notes")
