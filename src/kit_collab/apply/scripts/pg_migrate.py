"""The PostgreSQL major migration of one service, on the server (plan/pg_major.py plans it).

``migrate`` runs while the old release is current, its cluster running: the clients of the
database stopped; the rows of each table counted, the other roles (``pg_dumpall
--roles-only``: an application may own its tables under its own role, as Nextcloud's ``oc_``
user does) and the database dumped (``pg_dump``, plain SQL) through the container's local socket, trusted by the postgres image
(docker-library/postgres, docker-entrypoint.sh ``docker_init_database_dir``: no
``--auth-local``), so no password is needed anywhere; a NEW volume created and initialised by
the new release's own compose service, run as a one-off container (its image, its env file
read by compose: ``POSTGRES_*`` as the image's entrypoint reads them at a first start, its
volume, which must be the new one); the dump read in one
transaction; ``ANALYZE``; the rows counted again. Any difference stops everything, naming the
table (``count-mismatch``): the new volume is removed, the old cluster and its clients are
started again, nothing was switched. On success the clients stay stopped until the switch
(a write after the dump would be lost) and the old volume is left as it was.

The switch itself is the release switch: the new release's compose file names the new volume
(plan/pg_major.py explains where the name comes from); ``undo`` puts the old cluster back in
service (the new volume removed) and ``prune`` removes old clusters' volumes once a later
install succeeded. Server side: docker, compose, awk, grep, sed, du, df, wc, date.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit_collab.apply.scripts.common import commune_dir, compose, q
from kit_collab.plan.pg_major import PgMigration

NO_SPACE_EXIT = 8  # the disk cannot hold the dump and the new cluster: nothing changed
MISMATCH_EXIT = 10  # a table's row count differs after the restore: nothing switched
READY_SECONDS = 180
RESERVE_KB = 200 * 1024
CONTAINER_LABEL = "org.kit-collab.pg-migration"

# Exact row counts of every ordinary table (relkind 'r': partitions counted once, through
# themselves) of the database, one "schema.table|rows" line each. \gexec runs each line of
# the result as a query (psql, "Meta-Commands", PostgreSQL 15 and 17 documentation).
COUNT_SQL = r"""SELECT format('SELECT %L || ''|'' || count(*) FROM %I.%I',
  n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1 \gexec
"""


@dataclass(frozen=True)
class Target:
    """Where one migration runs: the commune and the new release (uploaded, not switched to)."""

    root: str
    slug: str
    release: str  # the new release (already uploaded): its compose service starts the cluster


def container(t: Target, m: PgMigration) -> str:
    return f"{t.slug}-{m.service}-pg{m.new_major}-migration"


def _head(t: Target, m: PgMigration) -> str:
    return f"""set -eu
umask 077
C={q(commune_dir(t.root, t.slug))}; S={q(t.slug)}
W="$C/"{q(f"pg-migration-{m.service}")}; T={q(container(t, m))}
OLD={q(f"{t.slug}_{m.old_volume}")}; NEW={q(f"{t.slug}_{m.new_volume}")}
stamp() {{ echo "t $1 $(date +%s%N)"; }}
"""


def _space() -> str:
    """The dump and the new cluster each counted as large as the old cluster, plus a tenth
    and a reserve."""
    return f"""m=$(docker volume inspect --format '{{{{.Mountpoint}}}}' "$OLD") || {{ echo "volume-missing $OLD"; exit 1; }}
k=$(du -sk "$m" | cut -f1); echo "old-kb $k"
need=$((2 * k + k / 10 + {RESERVE_KB}))
free=$(df -Pk "$C" | awk 'NR==2{{print $4}}')
if [ "$free" -lt "$need" ]; then echo "no-space need-kb=$need free-kb=$free"; exit {NO_SPACE_EXIT}; fi
"""


def _counts(psql: str, out: str) -> str:
    return f"""printf '%s\\n' {q(COUNT_SQL)} | {psql} -X -q -At -v ON_ERROR_STOP=1 > {out}
"""


def _compare() -> str:
    return r"""awk -F'|' 'NR == FNR { b[$1] = $2; next } { a[$1] = $2 }
END {
  for (t in b) if (!(t in a) || a[t] != b[t]) { print "count-mismatch", t, b[t], ((t in a) ? a[t] : "-"); bad = 1 }
  for (t in a) if (!(t in b)) { print "count-mismatch", t, "-", a[t]; bad = 1 }
  exit bad
}' "$W/before" "$W/after" || exit """ + str(MISMATCH_EXIT) + "\n"


def _cleanup(t: Target, m: PgMigration) -> str:
    """On failure: the throwaway container and the new volume gone, the old cluster started
    again and waited for, then its clients (the old release is still current)."""
    start = compose(t.root, t.slug, "start", q(m.service))
    clients = compose(t.root, t.slug, "start", *map(q, m.clients)) if m.clients else ":"
    ready = compose(t.root, t.slug, "exec", "-T", q(m.service), "pg_isready", "-q", "-h",
                    "127.0.0.1", "-U", q(m.user), "-d", q(m.base))
    return f"""cleanup() {{
  rc=$?
  docker rm -f "$T" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    if [ "$NEW" != "$OLD" ]; then docker volume rm "$NEW" >/dev/null 2>&1 || true; fi
    {start} >/dev/null 2>&1 || rc=1
    n=0; until {ready} </dev/null; do
      n=$((n + 1)); [ "$n" -lt {READY_SECONDS} ] || {{ rc=1; break; }}
      sleep 1
    done
    {clients} >/dev/null 2>&1 || rc=1
  fi
  rm -rf "$W"
  exit "$rc"
}}
trap cleanup EXIT
"""


def _named(t: Target) -> str:
    """The new release's compose file must name the new volume: checked before anything."""
    rel = q(f"{commune_dir(t.root, t.slug)}/releases/{t.release}/compose.yaml")
    return f"""newc() {{ docker compose -p "$S" -f {rel} "$@"; }}
newc config --format json | grep -qF "\\"name\\": \\"$NEW\\"" || {{ echo "volume-not-named $NEW"; exit 1; }}
"""


def _new_cluster(t: Target, m: PgMigration) -> str:
    """The new cluster started by the NEW release's compose service (its image, its env
    file read by compose, its volume): a one-off container with no published port."""
    ready = f'docker exec "$T" pg_isready -q -h 127.0.0.1 -U {q(m.user)} -d {q(m.base)}'
    return f"""if docker volume inspect "$NEW" >/dev/null 2>&1; then docker volume rm "$NEW" >/dev/null; fi
newc run -d --no-deps --name "$T" --label {CONTAINER_LABEL}="$S" {q(m.service)} </dev/null >/dev/null
n=0; until {ready}; do
  n=$((n + 1)); [ "$n" -lt {READY_SECONDS} ] || {{ echo {q("not-ready " + m.service)}; docker logs --tail 20 "$T" 2>&1 | sed 's/^/log /'; exit 1; }}
  sleep 1
done
stamp initialised
"""


def _own_role(user: str) -> str:
    """The lines of ``pg_dumpall --roles-only`` about the image's own superuser: the new
    image created it from the env file (a CREATE would fail, and an old md5 password hash
    would not pass the new cluster's scram-sha-256 rule)."""
    return rf'^(CREATE|ALTER) ROLE "?{user}"?( |;|$)'


def migrate(t: Target, m: PgMigration) -> str:
    """The whole migration of ``m`` in one round trip; see the module's docstring."""
    old = compose(t.root, t.slug, "exec", "-T", q(m.service))
    new = 'docker exec -i "$T"'
    who = f"-U {q(m.user)} -d {q(m.base)}"
    stop = compose(t.root, t.slug, "stop", "-t", "30", *map(q, m.clients)) if m.clients else ":"
    return f"""{_head(t, m)}stamp start
[ "$NEW" != "$OLD" ] || {{ echo same-volume; exit 1; }}
{_named(t)}{_space()}rm -rf "$W"; mkdir -p "$W"
{_cleanup(t, m)}{stop} >/dev/null
stamp clients-stopped
{_counts(f"{old} psql {who}", '"$W/before"')}{old} pg_dumpall --roles-only --no-password -U {q(m.user)} </dev/null > "$W/roles.all"
grep -v -E {q(_own_role(m.user))} "$W/roles.all" > "$W/roles.sql" || [ "$?" = 1 ]
{old} pg_dump --no-password {who} </dev/null > "$W/dump.sql"
echo "dump-bytes $(wc -c < "$W/dump.sql")"
stamp dumped
{_new_cluster(t, m)}{new} psql -X -q -v ON_ERROR_STOP=1 --single-transaction {who} < "$W/roles.sql" >/dev/null
{new} psql -X -q -v ON_ERROR_STOP=1 --single-transaction {who} < "$W/dump.sql" >/dev/null
stamp restored
{new} psql -X -q {who} -c ANALYZE </dev/null >/dev/null
{_counts(f"{new} psql {who}", '"$W/after"')}stamp counted
{_compare()}sed 's/^/rows /' "$W/after"
{compose(t.root, t.slug, "stop", "-t", "30", q(m.service))} >/dev/null
docker stop -t 60 "$T" >/dev/null
stamp stopped
echo pg-migrated
"""


def undo(t: Target, m: PgMigration) -> str:
    """Back to the old cluster (the old release being current again): whatever uses the new
    volume stopped and the volume removed, the old cluster and its clients started and
    waited for (healthy, or running when they have no health check)."""
    up = compose(t.root, t.slug, "up", "-d", "--wait", "--no-deps", q(m.service),
                 *map(q, m.clients))
    return f"""set -eu
OLD={q(f"{t.slug}_{m.old_volume}")}; NEW={q(f"{t.slug}_{m.new_volume}")}
[ "$NEW" != "$OLD" ] || {{ echo same-volume; exit 1; }}
ids=$(docker ps -aq --filter volume="$NEW")
for c in $ids; do docker rm -f "$c" >/dev/null; done
if docker volume inspect "$NEW" >/dev/null 2>&1; then docker volume rm "$NEW" >/dev/null; fi
{up} </dev/null
echo pg-undone
"""


def prune(root: str, slug: str, volumes: list[str]) -> str:
    """Remove old clusters' volumes (compose names) that no container uses; once a later
    install succeeded. A volume still in use is kept and named."""
    names = " ".join(q(f"{slug}_{v}") for v in volumes)
    return f"""set -eu
for v in {names or '""'}; do
  [ -n "$v" ] || continue
  docker volume inspect "$v" >/dev/null 2>&1 || continue
  if [ -n "$(docker ps -aq --filter volume="$v")" ]; then echo "in-use $v"; continue; fi
  docker volume rm "$v" >/dev/null && echo "removed $v"
done
echo pg-pruned
"""


@dataclass(frozen=True)
class Outcome:
    """What a migration's output says."""

    done: bool
    rows: dict[str, int]  # schema.table -> rows, as counted in the new cluster
    mismatches: tuple[tuple[str, str, str], ...]  # (table, before, after)
    steps: tuple[tuple[str, float], ...]  # (step, seconds since the start)
    dump_bytes: int = 0
    old_kb: int = 0
    no_space: tuple[int, int] | None = None


def parse(output: str) -> Outcome:
    rows: dict[str, int] = {}
    bad: list[tuple[str, str, str]] = []
    stamps: list[tuple[str, int]] = []
    sizes = {"dump-bytes": 0, "old-kb": 0}
    space = None
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "rows" and "|" in rest:
            table, _, n = rest.rpartition("|")
            rows[table] = int(n) if n.isdigit() else -1
        elif word == "count-mismatch":
            parts = rest.rsplit(" ", 2)
            if len(parts) == 3:
                bad.append((parts[0], parts[1], parts[2]))
        elif word == "t" and len(rest.split()) == 2 and rest.split()[1].isdigit():
            stamps.append((rest.split()[0], int(rest.split()[1])))
        elif word in sizes and rest.strip().isdigit():
            sizes[word] = int(rest)
        elif word == "no-space":
            kv = dict(w.split("=", 1) for w in rest.split() if "=" in w)
            space = (int(kv.get("need-kb", "0")), int(kv.get("free-kb", "0")))
    start = stamps[0][1] if stamps else 0
    steps = tuple((name, (ns - start) / 1e9) for name, ns in stamps)
    return Outcome("pg-migrated" in output.splitlines(), rows, tuple(bad), steps,
                   sizes["dump-bytes"], sizes["old-kb"], space)
