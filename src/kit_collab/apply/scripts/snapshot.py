"""The data of stateful services saved on the server before a switch, restored when the
switch is undone, pruned once a later install succeeds.

``<racine>/communes/<slug>/avant-<release>/`` holds what the commune's data was just before
``release`` was switched to: ``postgres/<service>.sql`` (``pg_dump``, plain SQL),
``volumes/<volume>.tar`` (each named volume's files, owners kept) and ``snapshot.json``
(what was saved and from which release). It is written as ``.partial`` and renamed once
complete. The backups will reuse it.

PostgreSQL is dumped and restored through the container's local socket: the postgres image
initialises its cluster without ``--auth-local`` (docker-library/postgres,
docker-entrypoint.sh, ``docker_init_database_dir``), so local connections are trusted and no
password is needed, on any command line or elsewhere. A restore recreates the cluster's
volume empty and lets the previous release's image initialise it (``POSTGRES_*`` from its
env file) before reading the dump: a dump reads into any later cluster, a data folder
migrated by a newer image does not go back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from kit_collab.apply.scripts import snapshot_check
from kit_collab.apply.scripts.common import commune_dir, q
from kit_collab.plan.changes import Saved

NO_SPACE_EXIT = 8  # the server's disk cannot hold the snapshot: nothing was changed
MISSING_EXIT = 9  # no complete snapshot to restore
MANIFEST = "snapshot.json"
RESERVE_KB = 200 * 1024  # left free on the disk after the snapshot
PG_READY_SECONDS = 120


def folder(release: str) -> str:
    """The snapshot taken before switching to ``release``, under the commune's folder."""
    return f"avant-{release}"


def _head(root: str, slug: str, release: str) -> str:
    return f"""set -eu
umask 077
C={q(commune_dir(root, slug))}; S={q(slug)}; F="$C/"{q(folder(release))}
mp() {{ docker volume inspect --format '{{{{.Mountpoint}}}}' "$1"; }}
"""


def _volumes(slug: str, saved: Iterable[Saved]) -> list[str]:
    """The Docker names (``<project>_<volume>``) of the volumes copied as they are."""
    return [f"{slug}_{v}" for s in saved for v in s.volumes]


def _space(slug: str, saved: Sequence[Saved], reserve_kb: int) -> str:
    """Refuse, before anything, when the disk cannot hold the copies and the dumps (a dump is
    counted as large as its cluster's folder) plus a tenth and ``reserve_kb``."""
    names = [*_volumes(slug, saved), *(f"{slug}_{s.base_volume}" for s in saved if s.base)]
    adds = "".join(f"add {q(n)}\n" for n in names)
    return f"""need=0
add() {{
  m=$(mp "$1") || {{ echo "volume-missing $1"; exit 1; }}
  k=$(du -sk "$m" | cut -f1); need=$((need + k))
}}
{adds}need=$((need + need / 10 + {int(reserve_kb)}))
free=$(df -Pk "$C" | awk 'NR==2{{print $4}}')
if [ "$free" -lt "$need" ]; then echo "no-space need-kb=$need free-kb=$free"; exit {NO_SPACE_EXIT}; fi
"""


def manifest(release: str, previous: str, saved: Iterable[Saved]) -> str:
    return json.dumps({"release": release, "de": previous,
                       "donnees": [s.as_json() for s in saved]},
                      ensure_ascii=False, indent=2, sort_keys=True)


def take(root: str, slug: str, release: str, previous: str, saved: Sequence[Saved],
         reserve_kb: int | None = None) -> str:
    """Save the data of ``saved`` (the running release ``previous``) before switching to
    ``release``. The services writing to the copied volumes are stopped for the copy (the
    database is dumped meanwhile, consistent with them) and started again, whatever
    happens; a failure leaves no snapshot behind."""
    copied = _volumes(slug, saved)
    filters = " ".join(f"--filter volume={q(v)}" for v in copied)
    stop = (f"stopped=$(docker ps -q {filters})\n"
            "for c in $stopped; do docker stop -t 30 \"$c\" >/dev/null; done\n"
            if copied else "")
    dumps = "".join(
        f"""docker compose -p "$S" -f "$C/current/compose.yaml" exec -T {q(s.service)} \\
  pg_dump --no-password -U {q(s.user)} -d {q(s.base)} </dev/null > "$P/postgres/"{q(s.service + '.sql')}
""" for s in saved if s.base)
    tars = "".join(
        f"""tar -C "$(mp {q(f"{slug}_{v}")})" --numeric-owner -cf "$P/volumes/"{q(v + '.tar')} .
""" for s in saved for v in s.volumes)
    return f"""{_head(root, slug, release)}P="$F.partial"; stopped=""
{_space(slug, saved, RESERVE_KB if reserve_kb is None else reserve_kb)}cleanup() {{
  rc=$?
  if [ "$rc" != 0 ]; then rm -rf "$P"; fi
  for c in $stopped; do docker start "$c" >/dev/null || rc=1; done
  exit "$rc"
}}
trap cleanup EXIT
rm -rf "$P"; mkdir -p "$P/postgres" "$P/volumes"
{stop}{dumps}{tars}{snapshot_check.verify(saved)}printf '%s\\n' {q(manifest(release, previous, saved))} > "$P/{MANIFEST}"
sync
rm -rf "$F"; mv "$P" "$F"
echo snapshot-taken
"""


def read(root: str, slug: str, release: str) -> str:
    """The manifest of the snapshot taken before ``release`` (nothing when there is none)."""
    return f"""C={q(commune_dir(root, slug))}
cat "$C/"{q(folder(release) + "/" + MANIFEST)} 2>/dev/null || true
"""


def parse_manifest(text: str) -> tuple[str, tuple[Saved, ...]] | None:
    """(the release the data was taken from, what was saved); None when unreadable."""
    try:
        data: Any = json.loads(text)
        return str(data["de"]), tuple(Saved.from_json(d) for d in data["donnees"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _restore_base(s: Saved, slug: str) -> str:
    """The cluster recreated empty by the previous release's image, then the dump read in
    one transaction. The final server listens on TCP; the image's first-start server does
    not (listen_addresses='', docker-entrypoint.sh ``docker_temp_server_start``): waiting
    for TCP waits for the final one."""
    svc, vol = q(s.service), q(f"{slug}_{s.base_volume}")
    ready = (f"back exec -T {svc} pg_isready -q -h 127.0.0.1 -U {q(s.user)} -d {q(s.base)} "
             "</dev/null")
    return f"""ids=$(docker ps -aq --filter volume={vol})
for c in $ids; do docker rm -f "$c" >/dev/null; done
if docker volume inspect {vol} >/dev/null 2>&1; then docker volume rm {vol} >/dev/null; fi
back up -d --no-deps {svc} </dev/null
n=0; until {ready}; do
  n=$((n + 1)); [ "$n" -lt {PG_READY_SECONDS} ] || {{ echo {q("base-not-ready " + s.service)}; exit 1; }}
  sleep 1
done
back exec -T {svc} psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U {q(s.user)} \\
  -d {q(s.base)} < "$F/postgres/"{q(s.service + '.sql')} >/dev/null
"""


def _restore_volume(slug: str, volume: str) -> str:
    name = q(f"{slug}_{volume}")
    return f"""if ! docker volume inspect {name} >/dev/null 2>&1; then
  docker volume create --label com.docker.compose.project="$S" \\
    --label com.docker.compose.volume={q(volume)} {name} >/dev/null
fi
m=$(mp {name}); [ -d "$m" ] || {{ echo {q("volume-missing " + volume)}; exit 1; }}
find "$m" -mindepth 1 -delete
tar -C "$m" --numeric-owner -xpf "$F/volumes/"{q(volume + '.tar')}
"""


def restore(root: str, slug: str, release: str, back: str, saved: Sequence[Saved]) -> str:
    """Put back the data saved before switching to ``release``: every container of the
    commune stopped (the failed release may be migrating), each volume emptied and filled
    from its copy, each database recreated by ``back``'s image and filled from its dump.
    The snapshot stays (the next successful install prunes it). The caller then switches
    back to ``back``."""
    volumes = "".join(_restore_volume(slug, v) for s in saved for v in s.volumes)
    bases = "".join(_restore_base(s, slug) for s in saved if s.base)
    return f"""{_head(root, slug, release)}[ -f "$F/{MANIFEST}" ] || {{ echo snapshot-missing; exit {MISSING_EXIT}; }}
back() {{ docker compose -p "$S" -f "$C/releases/"{q(back)}/compose.yaml "$@"; }}
[ -f "$C/releases/"{q(back)}/compose.yaml ]
running=$(docker ps -q --filter "label=com.docker.compose.project=$S")
for c in $running; do docker stop -t 30 "$c" >/dev/null; done
{volumes}{bases}echo snapshot-restored
"""


def prune(root: str, slug: str, keep: str) -> str:
    """Remove every snapshot (and unfinished one) but the one taken before ``keep``."""
    return f"""set -eu
C={q(commune_dir(root, slug))}
for d in "$C"/avant-*; do
  [ -e "$d" ] || continue
  [ "${{d##*/}}" = {q(folder(keep))} ] || rm -rf "$d"
done
echo pruned
"""


def no_space(output: str) -> tuple[int, int] | None:
    """(KiB needed, KiB free) from a refused snapshot's answer."""
    for line in output.splitlines():
        if line.startswith("no-space "):
            words = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
            try:
                return int(words["need-kb"]), int(words["free-kb"])
            except (KeyError, ValueError):
                return None
    return None
