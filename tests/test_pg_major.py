"""PostgreSQL majors are a migration, never an image swap (issue 17).

Pure: which image changes are a major, the plan of a migration, the volumes, the parser.
Real: Debian 12's PostgreSQL 15 and Debian 13's PostgreSQL 17 (tests/pgbed.py) on this
machine's engine, a commune with two releases; the migration run by kit-collab's executor
through the local transport, as root, as on a server.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit_collab.apply import pg_migrate
from kit_collab.apply.scripts import pg_migrate as script
from kit_collab.apply.transport import LocalTransport
from kit_collab.errors import DeployError
from kit_collab.escape import env_value
from kit_collab.i18n import get_lang, set_lang
from kit_collab.plan import pg_major
from kit_collab.plan.pg_major import PgMigration

from . import pgbed
from .conftest import RUN_ID

# --- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "majors"), [
    ("postgres:15", "postgres:17.11", (15, 17)),
    ("postgres:17-bookworm", "postgres:18.1", (17, 18)),
    ("registre.local:5000/postgres:16.4", "postgres:17.11-alpine", (16, 17)),
    ("postgres:17.6", "postgres:17.11", None),  # a minor: an image swap
    ("postgres:17.11", "postgres:17.11", None),
    ("postgres", "postgres:17.11", None),  # the tag does not say its major
    ("postgres@sha256:" + "a" * 64, "postgres:17.11", None),
    ("postgres:latest", "postgres:17.11", None),
])
def test_a_changed_major_and_only_it_is_a_migration(old: str, new: str,
                                                    majors: tuple[int, int] | None) -> None:
    assert pg_major.postgres_majors(old, new) == majors


SPECS = [("matrix", "matrix-db", "synapse", "synapse", "matrix_db", ("matrix-synapse",)),
         ("nextcloud", "nextcloud-db", "nextcloud", "nextcloud", "nextcloud_db", ("nextcloud",))]


def test_only_the_services_whose_major_changes_are_migrated_into_a_new_volume() -> None:
    planned = pg_major.migrations(
        SPECS, {"matrix-db": "postgres:17.11", "nextcloud-db": "postgres:17.6"},
        {"matrix-db": "postgres:18.1", "nextcloud-db": "postgres:17.11"}, {})
    assert [(m.service, m.old_volume, m.new_volume, m.old_major, m.new_major)
            for m in planned] == [("matrix-db", "matrix_db", "matrix_db-pg18", 17, 18)]
    assert planned[0].as_dict()["clients"] == ["matrix-synapse"]


def test_a_cluster_already_migrated_once_is_read_from_its_recorded_volume() -> None:
    planned = pg_major.migrations(SPECS[:1], {"matrix-db": "postgres:18.1"},
                                  {"matrix-db": "postgres:19.0"},
                                  {"matrix_db": "matrix_db-pg18"})
    assert (planned[0].old_volume, planned[0].new_volume) == ("matrix_db-pg18", "matrix_db-pg19")


def test_an_upgrade_of_the_real_recipes_plans_each_database_whose_major_changes() -> None:
    from kit_collab.bundle.model import Service
    from kit_collab.plan.changes import data_of
    from kit_collab.recipes.load import load_recipes

    repo = Path(__file__).resolve().parent.parent
    services = [Service("matrix-synapse", "matrix", "matrixdotorg/synapse:v1.157.1", "always"),
                Service("matrix-element", "matrix", "vectorim/element-web:v1", "always"),
                Service("matrix-db", "matrix", "postgres:18.1", "always"),
                Service("nextcloud", "nextcloud", "nextcloud:35", "always"),
                Service("nextcloud-db", "nextcloud", "postgres:17.11", "always")]
    old = {"matrix-db": "postgres:17.11", "nextcloud-db": "postgres:17.6"}
    planned = pg_major.for_upgrade(services, old, data_of(load_recipes(repo)), {})
    assert [(m.service, m.base, m.clients, m.new_volume) for m in planned] == [
        ("matrix-db", "synapse", ("matrix-synapse", "matrix-element"), "matrix_db-pg18")]


def test_only_old_clusters_volumes_are_stale() -> None:
    existing = ["matrix_db", "matrix_db-pg18", "matrix_data", "nextcloud_db", "matrix_dbx"]
    assert pg_major.stale_volumes({"matrix_db": "matrix_db-pg18"}, ["matrix_db", "nextcloud_db"],
                                  existing) == ["matrix_db"]
    assert pg_major.stale_volumes({}, ["matrix_db"], existing) == ["matrix_db-pg18"]


def test_the_plan_says_it_is_no_image_swap_and_that_the_old_volume_is_kept() -> None:
    m = pg_major.migrations(SPECS[:1], {"matrix-db": "postgres:17.11"},
                            {"matrix-db": "postgres:18.1"}, {})[0]
    before = get_lang()
    set_lang("fr")
    try:
        text = "\n".join(m.steps(2 * 10**9))
    finally:
        set_lang(before)
    assert "jamais un simple changement d'image" in text
    assert "matrix_db reste intact" in text and "installation suivante réussie" in text
    assert "min d'arrêt" in text and "arrêt de matrix-synapse" in text


def test_migration_output_is_parsed() -> None:
    out = ("t start 1000000000\nold-kb 2048\ndump-bytes 512\nt dumped 3500000000\n"
           "rows public.a|10\nrows mairie.b c|0\nt stopped 4000000000\npg-migrated\n")
    parsed = script.parse(out)
    assert parsed.done and parsed.rows == {"public.a": 10, "mairie.b c": 0}
    assert parsed.steps == (("start", 0.0), ("dumped", 2.5), ("stopped", 3.0))
    assert (parsed.dump_bytes, parsed.old_kb) == (512, 2048)
    bad = script.parse("count-mismatch public.aa first 1000 1005\n")
    assert not bad.done and bad.mismatches == (("public.aa first", "1000", "1005"),)
    assert script.parse("no-space need-kb=10 free-kb=5\n").no_space == (10, 5)


# --- real PostgreSQL 15 -> 17 ----------------------------------------------------------------

PASSWORD = "p@ss 'L'Haÿ' \"x\" $HOME #1"  # noqa: S105 - a test value, hostile on purpose
ENV = (f'POSTGRES_DB="app"\nPOSTGRES_USER="app"\nPOSTGRES_PASSWORD={env_value(PASSWORD)}\n'
       'POSTGRES_INITDB_ARGS="--encoding=UTF8 --lc-collate=C --lc-ctype=C"\n')
DATA = '''
CREATE TABLE aa_first (id int PRIMARY KEY, v text);
INSERT INTO aa_first SELECT g, 'ligne ' || g FROM generate_series(1, 1000) g;
CREATE SCHEMA mairie;
CREATE TABLE mairie."Agents ""x""" (id serial PRIMARY KEY, nom text, photo bytea);
INSERT INTO mairie."Agents ""x""" (nom, photo)
  SELECT 'L''Haÿ-sur-Mer ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 250) g;
CREATE TABLE events (id bigserial PRIMARY KEY, room text, body jsonb,
  ts timestamptz DEFAULT now());
INSERT INTO events (room, body) SELECT 'r' || (g % 7), jsonb_build_object('n', g, 't', 'é')
  FROM generate_series(1, 20000) g;
CREATE TABLE vide (x int);
CREATE TABLE part (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE part_a PARTITION OF part FOR VALUES FROM (0) TO (100);
CREATE TABLE part_b PARTITION OF part FOR VALUES FROM (100) TO (200);
INSERT INTO part SELECT g, g % 200 FROM generate_series(1, 300) g;
CREATE ROLE lecteur LOGIN PASSWORD 'lecteur-1';
ALTER TABLE vide OWNER TO lecteur;
GRANT SELECT ON aa_first TO lecteur;
CREATE TABLE zz_last (id int);
INSERT INTO zz_last SELECT generate_series(1, 10);
'''
EXPECTED = {"public.aa_first": 1000, 'mairie.Agents "x"': 250, "public.events": 20000,
            "public.vide": 0, "public.part_a": 199, "public.part_b": 101, "public.zz_last": 10}
COUNT = ("SELECT (SELECT count(*) FROM aa_first) || ' ' || (SELECT count(*) FROM "
         "mairie.\"Agents \"\"x\"\"\") || ' ' || (SELECT count(*) FROM events) || ' ' || "
         "(SELECT count(*) FROM part) || ' ' || (SELECT sum(id) FROM events);")
COUNTED = "1000 250 20000 300 200010000"


@pytest.fixture(scope="module")
def images() -> None:
    from . import dockerbed
    dockerbed.require_docker()
    pgbed.build(15)
    pgbed.build(17)


@pytest.fixture
def commune(tmp_path: Path, images: None) -> Iterator[pgbed.Commune]:
    c = pgbed.Commune(tmp_path, f"kcpg-{RUN_ID}-{uuid.uuid4().hex[:6]}",
                      15, 17, ENV)
    try:
        c.up()
        c.sql(DATA)
        yield c
    finally:
        c.switch("A")
        c.down()
        c.switch("B")
        c.down()


def _plan(c: pgbed.Commune) -> tuple[script.Target, PgMigration]:
    m = PgMigration("app", "db", ("client",), "app", "app", "db_data", "db_data",
                    "db_data-pg17", pgbed.image(15), pgbed.image(17), 15, 17)
    return script.Target(c.root, c.slug, "B"), m


def _running(c: pgbed.Commune) -> set[str]:
    return set(c.compose("ps", "--services", "--status", "running").stdout.split())


def test_major_migration_keeps_every_row_and_leaves_the_old_volume(
        commune: pgbed.Commune) -> None:
    target, m = _plan(commune)
    with LocalTransport() as transport:
        outcome = pg_migrate.migrate(transport, target, m)
    assert outcome.rows == EXPECTED
    assert _running(commune) == set()  # the client waits for the switch, the old db is done
    old, new = f"{commune.slug}_db_data", f"{commune.slug}_db_data-pg17"
    assert commune.volumes() == sorted([old, new])
    assert commune.pg_version(old, 15) == "15" and commune.pg_version(new, 17) == "17"
    commune.switch("B")
    commune.up()
    assert commune.sql("SHOW server_version;").startswith("17.")
    assert commune.sql(COUNT).strip() == COUNTED
    # A network client logs in with the password of the env file (compose read its quotes).
    login = commune.compose("exec", "-T", "-e", "PGPASSWORD=" + PASSWORD, "db", "psql", "-h",
                            "127.0.0.1", "-U", "app", "-d", "app", "-Atc", "SELECT 1")
    assert login.stdout.strip() == "1", login.stderr
    # The application's own role came along, with its tables and its rights.
    assert commune.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'vide';"
                       ).strip() == "lecteur"
    reader = commune.compose("exec", "-T", "-e", "PGPASSWORD=lecteur-1", "db", "psql", "-h",
                             "127.0.0.1", "-U", "lecteur", "-d", "app", "-Atc",
                             "SELECT count(*) FROM aa_first")
    assert reader.stdout.strip() == "1000", reader.stderr
    stale = pg_major.stale_volumes({"db_data": "db_data-pg17"}, ["db_data"],
                                   [v.removeprefix(f"{commune.slug}_") for v in commune.volumes()])
    assert stale == ["db_data"]
    with LocalTransport() as transport:
        assert pg_migrate.prune(transport, commune.root, commune.slug, stale) == [old]
    assert commune.volumes() == [new]


def _writer_during_counts(c: pgbed.Commune) -> subprocess.Popen[str]:
    """A client the migration did not stop: it holds the last table locked, so the counting
    waits on it, and writes into the first table (already counted) before letting go."""
    proc = subprocess.Popen(
        ["docker", "compose", "-p", c.slug, "-f", str(c.dir / "current" / "compose.yaml"),
         "exec", "-T", "db", "psql", "-X", "-q", "-U", "app", "-d", "app"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write("BEGIN; LOCK TABLE zz_last IN ACCESS EXCLUSIVE MODE;\n")
    proc.stdin.flush()
    return proc


def _wait_for_count_blocked(c: pgbed.Commune) -> None:
    query = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
             "AND query LIKE '%count(*) FROM public.zz_last%';")
    for _ in range(240):
        if c.sql(query).strip() == "1":
            return
        time.sleep(0.5)
    raise AssertionError("the migration never reached the counting of zz_last")


def test_a_row_written_during_the_migration_is_refused_naming_the_table(
        commune: pgbed.Commune) -> None:
    target, m = _plan(commune)
    writer = _writer_during_counts(commune)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with LocalTransport() as transport:
                pg_migrate.migrate(transport, target, m)
        except BaseException as err:  # handed to the test's thread
            failure.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for_count_blocked(commune)
    writer.communicate("INSERT INTO aa_first SELECT g, 'tard' FROM generate_series(1001, 1005) g;"
                       "\nCOMMIT;\n", timeout=60)
    thread.join(600)
    assert failure and isinstance(failure[0], DeployError), failure
    message = str(failure[0])
    assert "public.aa_first" in message and "1000" in message and "1005" in message
    assert commune.volumes() == [f"{commune.slug}_db_data"]  # the new cluster is gone
    assert _running(commune) == {"db", "client"}  # the old release back in service
    assert commune.sql("SELECT count(*) FROM aa_first;").strip() == "1005"


def test_undo_puts_the_old_cluster_back_and_removes_the_new_one(
        commune: pgbed.Commune) -> None:
    target, m = _plan(commune)
    with LocalTransport() as transport:
        pg_migrate.migrate(transport, target, m)
        commune.switch("B")
        commune.up()
        commune.sql("INSERT INTO zz_last VALUES (99);")  # written to the new cluster only
        commune.switch("A")  # the release switched back, as a failed upgrade's undo does
        pg_migrate.undo(transport, target, m)
    assert commune.sql("SHOW server_version;").startswith("15.")
    assert commune.sql(COUNT).strip() == COUNTED
    assert commune.sql("SELECT count(*) FROM zz_last;").strip() == "10"
    assert commune.volumes() == [f"{commune.slug}_db_data"]
    assert _running(commune) == {"db", "client"}


def test_a_new_release_that_does_not_name_the_new_volume_is_refused_before_any_change(
        commune: pgbed.Commune) -> None:
    target, m = _plan(commune)
    m = PgMigration(**{**m.__dict__, "new_volume": "db_data-pg99"})
    with LocalTransport() as transport, pytest.raises(DeployError, match="rien n'a changé"):
        pg_migrate.migrate(transport, target, m)
    assert commune.volumes() == [f"{commune.slug}_db_data"]
    assert _running(commune) == {"db", "client"}


def test_when_a_second_database_fails_the_first_one_is_undone(
        commune: pgbed.Commune) -> None:
    target, m = _plan(commune)
    # The second one finds its release's compose file naming another volume.
    broken = PgMigration(**{**m.__dict__, "new_volume": "db_data-pg99"})
    said: list[str] = []
    with LocalTransport() as transport, \
            pytest.raises(DeployError, match="ne nomme pas le volume db_data-pg99"):
        pg_migrate.migrate_all(transport, target, [m, broken], said.append)
    assert len(said) == 2 and "nouveau volume db_data-pg17" in said[0]
    assert commune.volumes() == [f"{commune.slug}_db_data"]
    assert _running(commune) == {"db", "client"}
    assert commune.sql(COUNT).strip() == COUNTED
