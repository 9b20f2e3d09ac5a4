"""Scripts run on the server, built as plain strings (pure, tested as text).

Every value that reaches a script goes through ``shlex.quote``. Each function returns one
POSIX sh script: one SSH round trip.
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
from collections.abc import Iterable

from kit_collab import constants
from kit_collab.bundle.render import Task

LOCKED_EXIT = 4  # the lock is held by someone else: its details follow on stdout
CHANGED_EXIT = 5  # the server changed between reading its facts and taking the lock
PORTS_EXIT = 6  # another commune of the server claimed one of our ports meanwhile

q = shlex.quote


def commune_dir(root: str, slug: str) -> str:
    return f"{root}/communes/{slug}"


def audit_path(root: str) -> str:
    """DESIGN.md's /var/log/kit-collab/audit.log, kept inside the root for other roots."""
    return "/var/log/kit-collab/audit.log" if root == "/opt/kit-collab" else f"{root}/log/audit.log"


def compose(root: str, slug: str, *args: str) -> str:
    """A `docker compose` command on the commune's project, through the stable `current`
    path so that bind mounts do not change with each release."""
    file = f"{commune_dir(root, slug)}/current/compose.yaml"
    return " ".join(["docker", "compose", "-p", q(slug), "-f", q(file), *args])


def proxy_compose(root: str, *args: str) -> str:
    return " ".join(["docker", "compose", "-p", q(constants.proxy_project()), "-f",
                     q(f"{root}/proxy/compose.yaml"), *args])


def upload(root: str, slug: str, release: str, base: str, removed: Iterable[str]) -> str:
    """Build the new release from ``base`` (the running one) plus the tar stream on stdin
    (only the changed files). Needs no lock: releases are content-addressed and immutable,
    and the release is complete only once renamed from ``.partial`` — a cut connection
    leaves the running release untouched and the next run starts the partial one again."""
    c = commune_dir(root, slug)
    rm = " ".join(q(p) for p in removed)
    return f"""set -eu
umask 022
C={q(c)}; R={q(root)}; NEW="$C/releases/{release}.partial"
mkdir -p "$C/releases"
rm -rf "$NEW"; mkdir -p "$NEW"
if [ -n {q(base)} ] && [ -d "$C/releases/"{q(base)} ]; then cp -a "$C/releases/"{q(base)}/. "$NEW/"; fi
cd "$NEW"; {"rm -f -- " + rm + "; " if rm else ""}cd "$R"
tar -x -f - -C "$R"
rm -rf "$C/releases/{release}"; mv "$NEW" "$C/releases/{release}"
echo uploaded
"""


def _lock_lines(lock_info: str, expected_current: str | None) -> str:
    """Take the commune's lock; with ``expected_current``, also check that `current` has not
    moved since the facts were read (else free the lock and exit CHANGED_EXIT)."""
    check = "" if expected_current is None else f"""cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
if [ "$cur" != {q(expected_current)} ]; then echo "current=$cur"; rm -rf "$C/.lock"; exit {CHANGED_EXIT}; fi
"""
    return f"""mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then cat "$C/.lock/info" 2>/dev/null; exit {LOCKED_EXIT}; fi
printf '%s\\n' {q(lock_info)} > "$C/.lock/info"
{check}"""


def _proxy_locked(root: str, commands: str) -> str:
    """Run commands holding the server's proxy lock: communes sharing a server serialize on
    the shared proxy (its files and reloads), and on nothing else."""
    return f"""exec 9>{q(root + "/.proxy.lock")}
flock -w 600 9
{commands}
flock -u 9"""


def _reload(root: str) -> str:
    """A graceful Caddy reload (no connection dropped): picks up every commune's site."""
    return proxy_compose(root, "exec", "-T", "caddy", "caddy", "reload", "--config",
                         q(f"{root}/proxy/Caddyfile"), "--adapter", "caddyfile")


def _claim_ports(root: str, ports: Iterable[int]) -> str:
    """Under the server's ports lock, refuse ports another commune claimed, then record ours
    in ``ports.claim``: two communes installed at once never get the same port."""
    wanted = " ".join(str(p) for p in sorted(set(ports)))
    if not wanted:
        return ""
    return f"""exec 8>{q(root + "/.ports.lock")}
flock -w 600 8
for f in {q(root)}/communes/*/ports.claim; do
  [ -f "$f" ] && [ "$f" != "$C/ports.claim" ] || continue
  for p in {wanted}; do
    if grep -qx "$p" "$f"; then echo "port=$p"; rm -rf "$C/.lock"; exit {PORTS_EXIT}; fi
  done
done
printf '%s\\n' {wanted} > "$C/ports.claim"
flock -u 8
"""


def take_lock(root: str, slug: str, lock_info: str, expected_current: str,
              staged: bool = False, ports: Iterable[int] = ()) -> str:
    """Take the lock (exit LOCKED_EXIT with the holder's details when it is held), check that
    nothing moved since the facts were read, claim the commune's host ports, and extract the
    tar on stdin (secrets, proxy files) when ``staged``."""
    c = commune_dir(root, slug)
    extract = _proxy_locked(root, f"""umask 077
mkdir -p "$C/secrets"; chmod 700 "$C/secrets"
tar -x -f - -C {q(root)}""") + "\n" if staged else ""
    return f"""set -eu
C={q(c)}
{_lock_lines(lock_info, expected_current)}{_claim_ports(root, ports)}{extract}echo locked
"""


def pull(root: str, slug: str, release: str) -> str:
    """Download the images of the new release (and the proxy's) before anything switches,
    so the services are down only for the time of a restart. Tags are pinned, so an image
    already on the server is not asked for again. Progress goes to stderr."""
    file = f"{commune_dir(root, slug)}/releases/{release}/compose.yaml"
    return f"""set -eu
docker compose --progress plain -f {q(f"{root}/proxy/compose.yaml")} pull --policy missing
docker compose --progress plain -p {q(slug)} -f {q(file)} pull --policy missing
echo pulled
"""


def switch_and_up(root: str, slug: str, release: str, restart: Iterable[str],
                  wait_seconds: int) -> str:
    """Point `current` at the release atomically, start the proxy and the commune's services,
    wait for their health checks, then reload Caddy so that it serves the commune's sites
    (a reload that fails, e.g. on a broken site, fails the deploy: it is rolled back)."""
    c = commune_dir(root, slug)
    restart = list(restart)
    force = (compose(root, slug, "up", "-d", "--no-deps", "--force-recreate", "--wait",
                     "--wait-timeout", str(wait_seconds), *[q(s) for s in restart])
             if restart else "true")
    return f"""set -eu
C={q(c)}
ln -sfn {q("releases/" + release)} "$C/current.new" && mv -T "$C/current.new" "$C/current"
{_proxy_locked(root, proxy_compose(root, "up", "-d", "--remove-orphans"))}
{compose(root, slug, "up", "-d", "--remove-orphans", "--wait", "--wait-timeout", str(wait_seconds))}
{force}
{_proxy_locked(root, _reload(root))}
echo up
"""


def switch_back(root: str, slug: str, previous: str, wait_seconds: int,
                restart: Iterable[str] | None = None) -> str:
    """Roll back: `current` to the previous release (or nothing on a first install), bring its
    services up, recreating only ``restart`` (the services whose mounted files the failed
    release changed; every service when None), and reload the proxy."""
    c = commune_dir(root, slug)
    reload = _proxy_locked(root, _reload(root) + " || true")
    if not previous:
        return f"""set -u
C={q(c)}
{compose(root, slug, "down", "--remove-orphans")} || true
rm -f "$C/current" "$C/ports.claim"
{reload}
echo rolled-back
"""
    wait = ("--wait", "--wait-timeout", str(wait_seconds))
    if restart is None:
        up = compose(root, slug, "up", "-d", "--remove-orphans", "--force-recreate", *wait)
    else:
        names = [q(s) for s in restart]
        up = compose(root, slug, "up", "-d", "--remove-orphans", *wait) + (
            "\n" + compose(root, slug, "up", "-d", "--no-deps", "--force-recreate", *wait,
                            *names) if names else "")
    return f"""set -u
C={q(c)}
ln -sfn {q("releases/" + previous)} "$C/current.new" && mv -T "$C/current.new" "$C/current"
{up}
{reload}
echo rolled-back
"""


def remove(root: str, slug: str, lock_info: str, stamp: str) -> str:
    """Take a commune off the server: stop its services (its data volumes are KEPT), move its
    folder aside to <root>/retirees/, and reload the proxy without it; the other communes
    keep being served."""
    c = commune_dir(root, slug)
    return f"""set -eu
C={q(c)}
{_lock_lines(lock_info, None)}{compose(root, slug, "down", "--remove-orphans")} || true
mkdir -p {q(root + "/retirees")}
rm -rf "$C/.lock"
mv "$C" {q(f"{root}/retirees/{slug}-{stamp}")}
{_proxy_locked(root, _reload(root) + " || true")}
echo removed
"""


def ps(root: str, slug: str) -> str:
    return compose(root, slug, "ps", "-a", "--format", "json")


def logs(root: str, slug: str, services: Iterable[str] = (), lines: int = 20) -> str:
    return compose(root, slug, "logs", "--no-color", "--tail", str(lines),
                   *[q(s) for s in services])


def tasks_script(root: str, slug: str,
                 tasks: Iterable[tuple[Task, dict[str, str]]]) -> str:
    """Run the post-install tasks in their containers. A task's secret values are set in the
    environment of its own `docker compose exec` (this script travels on stdin, never on a
    command line) and passed on with `-e NAME`, so they never appear in an argument list."""
    lines = ["set -u", "failed=0", 'out="$(mktemp)"']
    for i, (task, env) in enumerate(tasks):
        user = ["-u", q(task.user)] if task.user else []
        names = [x for name in sorted(env) for x in ("-e", q(name))]
        assign = " ".join(f"{name}={q(value)}" for name, value in sorted(env.items()))
        cmd = compose(root, slug, "exec", "-T", *user, *names, q(task.service),
                      *[q(a) for a in task.argv])
        # </dev/null: this script is read from stdin, which exec must not swallow.
        lines.append(f'if {assign + " " if assign else ""}{cmd} </dev/null >"$out" 2>&1; then '
                     f'echo "task {i} ok"; else echo "task {i} failed"; tail -n 5 "$out"; '
                     "failed=1; fi")
    lines += ['rm -f "$out"', 'exit "$failed"']
    return "\n".join(lines) + "\n"


def finish(root: str, slug: str, state: dict[str, object], audit_line: str,
           keep: int) -> str:
    """Write state.json, append the audit line, prune old releases (keeping `keep` plus the
    current one), release the lock."""
    c = commune_dir(root, slug)
    audit = audit_path(root)
    state_text = json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True)
    return f"""set -eu
C={q(c)}
umask 077
printf '%s\\n' {q(state_text)} > "$C/state.json.new" && mv "$C/state.json.new" "$C/state.json"
mkdir -p {q(audit.rsplit("/", 1)[0])}
printf '%s\\n' {q(audit_line)} >> {q(audit)}
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
ls -1t "$C/releases" 2>/dev/null | grep -v -x -e "$cur" | tail -n +{keep + 1} | while read -r old; do rm -rf "$C/releases/$old"; done
rm -rf "$C/.lock"
echo finished
"""


def bootstrap(root: str, version: str, ssh_port: int, open_ports: Iterable[tuple[str, str]],
              mirror: str | None) -> str:
    """Prepare a fresh Debian 12 / Ubuntu 24.04 server: Docker engine and compose v2, a
    firewall that lets in only SSH, the web and the media ports, automatic security
    updates, and the registry mirror. Only what is missing is installed."""
    rules = "\n".join(f"ufw allow {q(port)}/{proto} >/dev/null" for port, proto in open_ports)
    mirror_block = "true"
    if mirror:  # only then is /etc/docker/daemon.json ours to write
        daemon = json.dumps({"registry-mirrors": [mirror]})
        mirror_block = f"""mkdir -p /etc/docker
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != {q(daemon)} ]; then
  printf '%s\\n' {q(daemon)} > /etc/docker/daemon.json
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl restart docker || {{ echo "docker-restart-failed"; exit 3; }}; else service docker restart || {{ echo "docker-restart-failed"; exit 3; }}; fi
  for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info --format '{{{{json .RegistryConfig.Mirrors}}}}' | grep -qF {q(mirror)} || {{ echo "mirror-not-applied"; exit 3; }}
fi"""
    return f"""set -eu
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
case "$ID:$VERSION_ID" in debian:12|debian:13|ubuntu:24.04) ;;
  *) echo "unsupported-os=$ID $VERSION_ID"; exit 3 ;; esac
need=""
command -v docker >/dev/null || need="$need docker.io"
docker compose version >/dev/null 2>&1 || need="$need $(apt-cache show docker-compose-v2 >/dev/null 2>&1 && echo docker-compose-v2 || echo docker-compose)"
command -v ufw >/dev/null || need="$need ufw"
dpkg -s unattended-upgrades >/dev/null 2>&1 || need="$need unattended-upgrades"
if [ -n "$need" ]; then apt-get update -q && apt-get install -y -q $need; fi
docker compose version >/dev/null 2>&1 || {{ echo "no-compose-v2"; exit 3; }}
printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' > /etc/apt/apt.conf.d/20auto-upgrades
{mirror_block}
ufw default deny incoming >/dev/null; ufw default allow outgoing >/dev/null
ufw allow {int(ssh_port)}/tcp >/dev/null
{rules}
ufw --force enable >/dev/null
mkdir -p {q(root)}/communes {q(root)}/proxy
echo {q(version)} > {q(root)}/.bootstrap
echo bootstrapped
"""


def unlock(root: str, slug: str) -> str:
    return f'rm -rf {q(commune_dir(root, slug) + "/.lock")}\n'


def audit_only(root: str, line: str) -> str:
    audit = audit_path(root)
    return f"mkdir -p {q(audit.rsplit('/', 1)[0])} && printf '%s\\n' {q(line)} >> {q(audit)}\n"


Entry = tuple[str, bytes, int, "str | None"]  # name under the server root, content, mode, owner


def tar_of(entries: Iterable[Entry]) -> bytes:
    """A tar archive of files, named relative to the server root; mode and owner kept."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, owner in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            if owner:
                uid, _, gid = owner.partition(":")
                info.uid, info.gid = int(uid), int(gid or uid)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
