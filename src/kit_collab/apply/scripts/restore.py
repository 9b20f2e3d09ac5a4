"""Restoring a commune from its restic repository: the scripts and the parsers of their output.

A restore runs in three rounds, each under the commune's lock and each safe to run again: an
interrupted restore is finished by running it again (the snapshot chosen the first time is
recorded in ``<commune>/restauration.json``, and kept until the health checks pass).

1. ``probe``: what the server has (restic, the destination's settings, a restore under way,
   the running release) and the commune's snapshots (``restic snapshots --json``).
2. ``files``: a safety snapshot of what is about to be replaced (tag ``avant-restauration``,
   only when the commune runs here and no restore is under way), the services stopped, the
   snapshot's small parts read into ``<commune>/.restauration/`` (everything but the Docker
   volumes), then the secrets (the destination's own settings kept), ``state.json`` and the
   snapshot's release put back, ``current`` pointed at it.
3. ``data``: each data volume emptied and filled from the snapshot, each PostgreSQL database
   recreated by the release's image and read from its dump (apply/scripts/snapshot.py), the
   services started.

restic (Debian 13: 0.18; Ubuntu 24.04: 0.16) reads the repository, its password and the
destination's credentials from the environment file ``secrets/sauvegarde.env``: nothing
secret on a command line. Its exit codes 10 (no repository), 11 (locked) and 12 (wrong
password) exist since 0.17 (restic doc/075_scripting.rst, v0.17.2 and v0.18.1); 0.16 answers
1 for all of them, so its messages are read too (restic internal/repository/key.go
"wrong password or no key found", cmd/restic/global.go "repository does not exist").
A volume's folder is restored with ``--include`` (restic doc/050_restore.rst, v0.14.0 to
v0.18.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit_collab.apply.scripts.backup import DESTINATION_KEY, _sftp_option
from kit_collab.apply.scripts.common import audit_lines, commune_dir, compose, q
from kit_collab.apply.scripts.snapshot import _restore_base
from kit_collab.plan.changes import Saved

MARKER = "restauration.json"
STAGING = ".restauration"
SAFETY_TAG = "avant-restauration"
KIT_TAG = "kit-collab"
VOLUMES = "/var/lib/docker/volumes"
BACKUP_SECRETS = ("restic.pass", "sauvegarde.env", "sauvegarde_ssh", "sauvegarde_ssh.pub",
                  "sauvegarde_known_hosts")  # the destination's own settings: never replaced
NO_RESTIC_EXIT = 20  # restic is missing and could not be installed
NO_SETTINGS_EXIT = 21  # no secrets/sauvegarde.env on the server
RESTIC_FAILED_EXIT = 22  # restic failed: its code and last lines follow


# The lock freed however the round ends: dash runs no EXIT trap when an untrapped TERM kills
# it, which is how the hangup guard stops a round whose kit-collab was killed
# (apply/scripts/hangup.py), nor when its closed output kills it (PIPE); a trapped signal
# waits for the foreground command, then exits.
UNLOCK_ON_EXIT = """trap 'rm -rf "$C/.lock"' EXIT
trap 'exit 143' TERM HUP INT PIPE"""


def _head(root: str, slug: str) -> str:
    return f"""# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C={q(commune_dir(root, slug))}; S={q(slug)}; R="$C/{STAGING}"; K="$C/secrets"
"""


Sftp = tuple[str, str, int] | None  # an SFTP destination's (user, host, port)


def _env(sftp: Sftp) -> str:
    """restic's settings from the server's own file (apply/scripts/backup.py writes it), and
    ``r``: restic with the SFTP destination's own ssh command when there is one."""
    option = _sftp_option(sftp)
    r_line = (f'r() {{ restic -o "{option}" "$@"; }}' if option else 'r() { restic "$@"; }')
    return f"""[ -s "$K/sauvegarde.env" ] || {{ echo no-settings; exit {NO_SETTINGS_EXIT}; }}
set -a
# shellcheck disable=SC1091  # the server's own file, written by kit-collab
. "$K/sauvegarde.env"
set +a
unset {DESTINATION_KEY}
{r_line}
"""


def _restic_checked(words: str, what: str) -> str:
    """One restic command; on failure its exit code and last lines, then RESTIC_FAILED_EXIT."""
    return f"""rc=0; r {words} 2>"$C/.restic-err" || rc=$?
if [ "$rc" != 0 ]; then
  echo {q("restic-failed " + what)} "code=$rc"; tail -n 5 "$C/.restic-err"; rm -f "$C/.restic-err"
  exit {RESTIC_FAILED_EXIT}
fi
rm -f "$C/.restic-err"
"""


def _ensure_restic() -> str:
    """restic from the distribution's own packages when missing (a new server)."""
    return f"""if ! command -v restic >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic >/dev/null 2>&1 \\
    || {{ DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \\
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic >/dev/null 2>&1; }} \\
    || {{ echo no-restic; exit {NO_RESTIC_EXIT}; }}
fi
"""


def settings(root: str, slug: str) -> str:
    """Write the destination's settings read from the tar on stdin (``restic.pass``,
    ``sauvegarde.env``) into the commune's secrets folder (0700, files 0600): on a new server,
    or to correct a wrong password. Nothing else is touched."""
    return f"""{_head(root, slug)}mkdir -p "$C/secrets"; chmod 700 "$C/secrets"
T=$(mktemp -d "$C/.reglages.XXXXXX")
tar -x -f - -C "$T" --no-same-owner --no-same-permissions
for f in restic.pass sauvegarde.env; do
  if [ -f "$T/$f" ]; then chmod 600 "$T/$f"; mv -f "$T/$f" "$C/secrets/$f"; fi
done
rm -rf "$T"
echo settings-written
"""


def probe(root: str, slug: str, sftp: Sftp = None) -> str:
    """What the server has for a restore, and the commune's snapshots (one JSON line)."""
    return f"""{_head(root, slug)}cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
echo "current=$cur"
if [ -s "$C/{MARKER}" ]; then echo "marker=$(tr -d '\\n' < "$C/{MARKER}")"; fi
if [ -s "$C/secrets/sauvegarde.env" ]; then echo settings=yes; else echo settings=no; exit 0; fi
{_ensure_restic()}{_env(sftp)}printf 'snapshots='
{_restic_checked('snapshots --json --host "$S"', "snapshots")}echo
"""


def _marker(snapshot: str, release: str, new: bool) -> str:
    return json.dumps({"snapshot": snapshot, "release": release,
                       "nouveau_serveur": "oui" if new else "non"}, sort_keys=True)


def _safety(saved: Sequence[Saved]) -> str:
    """A snapshot of what is about to be replaced: the databases dumped from their running
    containers, the commune's volumes, secrets, state and current release."""
    dumps = "".join(
        f"""if [ -n "$(docker ps -q --filter volume="${{S}}_"{q(s.base_volume)})" ]; then
  {compose_c("exec", "-T", q(s.service), "pg_dump", "--no-password", "-U", q(s.user), "-d",
             q(s.base))} </dev/null > "$D/"{q(s.service + ".sql")}
fi
""" for s in saved if s.base)
    return f"""D="$C/sauvegarde/staging/postgres"; mkdir -p "$D"
{dumps}set -- "$C/secrets" "$C/sauvegarde/staging"
[ -f "$C/state.json" ] && set -- "$@" "$C/state.json"
[ -d "$C/current/" ] && set -- "$@" "$(readlink -f "$C/current")"
for v in $(docker volume ls -q --filter "label=com.docker.compose.project=$S"); do
  set -- "$@" "$(docker volume inspect --format '{{{{.Mountpoint}}}}' "$v")"
done
{_restic_checked(f'backup --quiet --host "$S" --tag {SAFETY_TAG} --tag "commune=$S" "$@"',
                 "safety")}echo safety-taken
"""


def compose_c(*args: str) -> str:
    """A compose command on the commune's `current` release (``$C``, ``$S`` set)."""
    return " ".join(["docker", "compose", "-p", '"$S"', "-f", '"$C/current/compose.yaml"',
                     *args])


def _stop() -> str:
    return """if command -v docker >/dev/null; then
  for c in $(docker ps -q --filter "label=com.docker.compose.project=$S"); do
    docker stop -t 30 "$c" >/dev/null
  done
fi
"""


def files(root: str, slug: str, snap: Snap, lock: str, safety: Sequence[Saved] | None,
          new: bool = False, sftp: Sftp = None) -> str:
    """Round 2 (see the module): ``lock`` holds the lines taking the commune's lock (``$C``
    set), ``safety`` the data to dump first when a safety snapshot is wanted, ``new`` whether
    the commune was on no server here (recorded for a resumed restore). The services keep
    running: round 3 stops them, once the release is in place."""
    rel, old = q(snap.release), q(snap.commune_dir)
    keep = "|".join(BACKUP_SECRETS)
    return f"""{_head(root, slug)}{lock}{UNLOCK_ON_EXIT}
{_ensure_restic()}{_env(sftp)}{_safety(safety) if safety is not None else ""}printf '%s\\n' {q(_marker(snap.id, snap.release, new))} > "$C/{MARKER}.nouveau"
mv -f "$C/{MARKER}.nouveau" "$C/{MARKER}"
rm -rf "$R"; mkdir -p "$R"
{_restic_checked(f'restore {q(snap.id)} --target "$R" --exclude {q(VOLUMES)}', "files")}O="$R"{old}
[ -d "$O/releases/"{rel} ] || {{ echo "release-missing"; exit 1; }}
mkdir -p "$C/secrets" "$C/releases"; chmod 700 "$C/secrets"
for f in "$O/secrets/"* "$O/secrets/".[!.]*; do
  [ -f "$f" ] || continue
  case "${{f##*/}}" in {keep}) continue ;; esac
  cp -p "$f" "$C/secrets/.restaure"; chmod 600 "$C/secrets/.restaure"
  mv -f "$C/secrets/.restaure" "$C/secrets/${{f##*/}}"
done
if [ -f "$O/state.json" ]; then cp -p "$O/state.json" "$C/.state.restaure"; mv -f "$C/.state.restaure" "$C/state.json"; fi
if [ ! -d "$C/releases/"{rel} ]; then
  rm -rf "$C/releases/.restaure"; cp -a "$O/releases/"{rel} "$C/releases/.restaure"
  mv "$C/releases/.restaure" "$C/releases/"{rel}
fi
ln -sfn {q("releases/" + snap.release)} "$C/current.new" && mv -T "$C/current.new" "$C/current"
echo files-restored
"""


def _volume(snap_id: str, path: str, volume: str) -> str:
    """The volume (created with compose's labels when missing) read from the snapshot beside
    its ``_data`` (same file system: the moves are renames), then emptied and filled. Its
    folder is chosen with ``--include``, which restic 0.14 (Debian 12) to 0.18 all read (a
    pattern matches what lies below it: restic internal/filter/filter.go ``Match``); 0.14
    has no ``<id>:<folder>`` form."""
    return f"""if ! docker volume inspect "${{S}}_"{q(volume)} >/dev/null 2>&1; then
  docker volume create --label "com.docker.compose.project=$S" \\
    --label com.docker.compose.volume={q(volume)} "${{S}}_"{q(volume)} >/dev/null
fi
m=$(docker volume inspect --format '{{{{.Mountpoint}}}}' "${{S}}_"{q(volume)})
t="${{m%/*}}/.kit-collab-restauration"; rm -rf "$t"; mkdir -p "$t"
{_restic_checked(f'restore {q(snap_id)} --target "$t" --include {q(path)}', "volume " + volume)}find "$m" -mindepth 1 -delete
if [ -d "$t"{q(path)} ]; then find "$t"{q(path)} -mindepth 1 -maxdepth 1 -exec mv -t "$m" {{}} +; fi
rm -rf "$t"
"""


def data(root: str, slug: str, snap: Snap, lock: str, saved: Sequence[Saved],
         sftp: Sftp = None) -> str:
    """Round 3 (see the module): the volumes, the databases, the services started."""
    volumes = "".join(_volume(snap.id, path, name) for name, path in snap.volumes)
    bases = "".join(
        f"""if [ -f "$F/postgres/"{q(s.service + '.sql')} ]; then
{_restore_base(s, slug)}fi
""" for s in saved if s.base) if snap.has_dumps else ""
    return f"""{_head(root, slug)}{lock}{UNLOCK_ON_EXIT}
{_env(sftp)}[ -f "$C/current/compose.yaml" ] || {{ echo "no-current"; exit 1; }}
F="$R"{q(snap.commune_dir + "/sauvegarde/staging")}
back() {{ {compose_c('"$@"')}; }}
{_stop()}{volumes}{bases}{compose(root, slug, "up", "-d", "--remove-orphans")} </dev/null
echo data-restored
"""


def finish(root: str, slug: str, audit: str) -> str:
    """The restore is done (health checked): its marker and staging folder removed."""
    return f"""{_head(root, slug)}rm -rf "$R" "$C/{MARKER}"
{audit_lines(root, audit)}
echo restore-finished
"""


def read_password(root: str, slug: str) -> str:
    """The repository password, for the recovery sheet only (never printed by kit-collab)."""
    return f"""C={q(commune_dir(root, slug))}
cat "$C/secrets/restic.pass" 2>/dev/null || true
"""


# --- parsers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    """One restic snapshot of the commune, as the restore needs it."""

    id: str
    short_id: str
    time: str
    tags: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def release(self) -> str:
        return next((t.removeprefix("release=") for t in self.tags
                     if t.startswith("release=")), "")

    @property
    def safety(self) -> bool:
        return SAFETY_TAG in self.tags

    @property
    def commune_dir(self) -> str:
        """The commune's folder on the server the snapshot was taken on."""
        return next((p.removesuffix("/secrets") for p in self.paths
                     if p.endswith("/secrets")), "")

    @property
    def volumes(self) -> tuple[tuple[str, str], ...]:
        """(volume name without the project's prefix, path in the snapshot)."""
        slug = self.host_slug
        out = []
        for p in self.paths:
            m = re.fullmatch(rf"{re.escape(VOLUMES)}/([^/]+)/_data", p)
            if m and m.group(1).startswith(slug + "_"):
                out.append((m.group(1)[len(slug) + 1:], p))
        return tuple(out)

    @property
    def host_slug(self) -> str:
        return next((t.removeprefix("commune=") for t in self.tags
                     if t.startswith("commune=")), "")

    @property
    def has_dumps(self) -> bool:
        """Whether the snapshot holds the database dumps (its staging folder)."""
        return any(p.endswith(("/sauvegarde/staging", "/sauvegarde/staging/postgres"))
                   for p in self.paths)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.short_id, "date": self.time, "release": self.release,
                "securite": self.safety}


def _snap(item: Any) -> Snap | None:
    try:
        return Snap(id=str(item["id"]), short_id=str(item.get("short_id") or item["id"][:8]),
                    time=str(item["time"]), tags=tuple(str(t) for t in item.get("tags") or ()),
                    paths=tuple(str(p) for p in item.get("paths") or ()))
    except (KeyError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class Probe:
    current: str = ""
    settings: bool = False
    marker: dict[str, str] = field(default_factory=dict)
    snapshots: tuple[Snap, ...] = ()
    failure: str = ""  # a restic failure's kind (see ``failure_kind``), "" when none


def parse_probe(code: int, output: str) -> Probe:
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("current", "marker", "settings", "snapshots") and key not in values:
            values[key] = value
    marker: dict[str, str] = {}
    try:
        loaded = json.loads(values.get("marker") or "{}")
        if isinstance(loaded, dict):
            marker = {str(k): str(v) for k, v in loaded.items()}
    except ValueError:
        pass
    probe = Probe(current=values.get("current", ""), settings=values.get("settings") == "yes",
                  marker=marker)
    if code != 0:
        return Probe(probe.current, probe.settings, marker, (), failure_kind(code, output))
    return Probe(probe.current, probe.settings, marker, _snapshots(values.get("snapshots", "")))


def _snapshots(text: str) -> tuple[Snap, ...]:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return ()
    snaps = [s for s in (_snap(i) for i in (items if isinstance(items, list) else []))
             if s is not None]
    return tuple(sorted(snaps, key=lambda s: s.time))


PASSWORD, ABSENT, LOCKED, UNREACHABLE, NO_RESTIC, NO_SETTINGS, FAILED = (
    "mot-de-passe", "absent", "verrou", "injoignable", "sans-restic", "sans-reglages", "echec")
_CODES = {10: ABSENT, 11: LOCKED, 12: PASSWORD}
_TEXTS = (("wrong password", PASSWORD), ("no key found", PASSWORD),
          ("repository does not exist", ABSENT), ("Is there a repository", ABSENT),
          ("already locked", LOCKED), ("unable to create lock", LOCKED),
          ("no such host", UNREACHABLE), ("connection refused", UNREACHABLE),
          ("timeout", UNREACHABLE), ("i/o timeout", UNREACHABLE),
          ("no route to host", UNREACHABLE), ("connection reset", UNREACHABLE),
          ("ssh command exited", UNREACHABLE), ("unable to start the sftp session",
                                                UNREACHABLE))


def failure_kind(code: int, output: str) -> str:
    """What went wrong, from a script's exit code and output (restic's code when given)."""
    if code == NO_RESTIC_EXIT:
        return NO_RESTIC
    if code == NO_SETTINGS_EXIT:
        return NO_SETTINGS
    m = re.search(r"restic-failed .*?code=(\d+)", output)
    restic_code = int(m.group(1)) if m else None
    if restic_code in _CODES:
        return _CODES[restic_code]
    lowered = output.lower()
    for text, kind in _TEXTS:
        if text.lower() in lowered:
            return kind
    return FAILED


def choose(snaps: Iterable[Snap], wanted: str | None) -> Snap | None:
    """The snapshot asked for (an id or its beginning, 4 characters at least), else the latest
    regular one (a safety snapshot only when asked for by id); None when there is none."""
    every = list(snaps)
    if wanted:
        hits = [s for s in every if len(wanted) >= 4 and s.id.startswith(wanted)]
        return hits[0] if len(hits) == 1 else None
    regular = [s for s in every if KIT_TAG in s.tags and not s.safety and s.release]
    return regular[-1] if regular else None
