"""The PostgreSQL major migration (15 -> 17) of a database of generated rows, timed step by
step, with the downtime of its clients, printed (figures, not a timed test).

    python3 bench/bench_pg_major.py [--gb 1.0]

Real Debian 12 PostgreSQL 15 and Debian 13 PostgreSQL 17 (tests/pgbed.py builds them once),
this machine's Docker engine, the migration run by kit-collab's executor as root through the
local transport. Downtime: from the clients stopped to the new cluster healthy after the
switch (``compose up --wait`` of the new release) with its clients started again. Everything
the bench creates (compose project, volumes) is removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

# psql variables :lo and :hi bound the chunk of rows (psql, "Variables").
FILL = """INSERT INTO events SELECT g, 'r' || (g % 97), md5(g::text) || repeat('é', 100) || g
  FROM generate_series(:lo, :hi) g;
INSERT INTO media SELECT g, md5(g::text), g % 65536 FROM generate_series(:lo, :hi, 20) g;
"""
ROW_BYTES = 300  # about, on disk, for the rows generated below (measured, printed anyway)


def fill(commune: Any, gb: float) -> float:
    """Three tables of generated rows; the database's size in bytes afterwards."""
    rows = int(gb * 1e9 / ROW_BYTES)
    chunk = 500_000
    sql = commune.sql
    sql("CREATE TABLE events (id bigint PRIMARY KEY, room text, body text);"
        "CREATE TABLE media (id bigint, sha text, size int);"
        "CREATE TABLE users (id int PRIMARY KEY, name text);"
        "INSERT INTO users SELECT g, 'agent ' || g FROM generate_series(1, 5000) g;")
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        sql(f"\\set lo {start + 1}\n\\set hi {stop}\n" + FILL)
    return float(sql("SELECT pg_database_size('app');"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=1.0, help="rows to generate, in GB")
    args = parser.parse_args()

    from tests import pgbed
    from tests.test_pg_major import ENV

    from kit_collab.apply import pg_migrate
    from kit_collab.apply.scripts import pg_migrate as script
    from kit_collab.apply.transport import LocalTransport
    from kit_collab.plan.pg_major import PgMigration

    started = time.monotonic()
    pgbed.build(15)
    pgbed.build(17)
    print(f"images: {time.monotonic() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="kcpg-bench-") as tmp:
        commune = pgbed.Commune(Path(tmp), f"kcpg-bench-{uuid.uuid4().hex[:8]}", 15, 17, ENV)
        try:
            commune.up()
            t0 = time.monotonic()
            size = fill(commune, args.gb)
            print(f"generated: {size / 1e9:.2f} GB (pg_database_size) in "
                  f"{time.monotonic() - t0:.0f} s")
            m = PgMigration("bench", "db", ("client",), "app", "app", "db_data", "db_data",
                            "db_data-pg17", pgbed.image(15), pgbed.image(17), 15, 17)
            began = time.time()
            with LocalTransport() as transport:
                outcome = pg_migrate.migrate(transport, script.Target(commune.root,
                                                                      commune.slug, "B"), m)
            commune.switch("B")
            commune.up()
            healthy = time.time()
            previous = 0.0
            for name, at in outcome.steps:
                print(f"  {name:<16} +{at - previous:7.1f} s  (at {at:7.1f} s)")
                previous = at
            stopped = dict(outcome.steps).get("clients-stopped", 0.0)
            print(f"switch (compose up --wait of the new release): "
                  f"{healthy - began - outcome.steps[-1][1]:.1f} s")
            print(f"dump: {outcome.dump_bytes / 1e9:.2f} GB; old cluster: "
                  f"{outcome.old_kb / 1e6:.2f} GB; tables: {len(outcome.rows)}, rows: "
                  f"{sum(outcome.rows.values())}")
            print(f"downtime (clients stopped -> new cluster healthy, clients back): "
                  f"{healthy - began - stopped:.1f} s")
        finally:
            commune.switch("A")
            commune.down()
            commune.switch("B")
            commune.down()


if __name__ == "__main__":
    main()
