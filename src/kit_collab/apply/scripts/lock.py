"""The commune's lock: taken by atomic ``mkdir`` with a details file, and what it answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from kit_collab.apply.scripts.common import commune_dir, proxy_locked, q

LOCKED_EXIT = 4  # the lock is held by someone else: its details follow on stdout
CHANGED_EXIT = 5  # the server changed between reading its facts and taking the lock
PORTS_EXIT = 6  # another commune of the server claimed one of our ports meanwhile
STAMP = "%Y-%m-%dT%H:%M:%SZ"  # the lock details' "depuis=" field
NO_DETAILS = "verrou sans détails"  # what a lock folder without its details file answers


def lock_lines(lock_info: str, expected_current: str | None) -> str:
    """Take the commune's lock (``$C`` set by the caller); with ``expected_current``, also
    check that `current` has not moved since the facts were read (else free the lock and
    exit CHANGED_EXIT)."""
    check = "" if expected_current is None else f"""cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
if [ "$cur" != {q(expected_current)} ]; then echo "current=$cur"; rm -rf "$C/.lock"; exit {CHANGED_EXIT}; fi
"""
    return f"""mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo {q(NO_DETAILS)}; fi
  exit {LOCKED_EXIT}
fi
if ! {{ printf '%s\\n' {q(lock_info)} > "$C/.lock/info.nouveau" \\
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }}; then
  rm -rf "$C/.lock"; exit 1
fi
{check}"""


def stage_files(root: str) -> str:
    """Write the files of the tar on stdin atomically: unpacked beside the server's files
    (same file system), synced to disk, the previous secrets.json kept as
    ``secrets.json.precedent``, then renamed into place. A full disk leaves every file as it
    was; the lock is then released and the script exits 1."""
    return f"""T=$(mktemp -d {q(root + "/.recu.XXXXXX")}) || {{ rm -rf "$C/.lock"; exit 1; }}
if ! tar -x -f - -C "$T" || ! (cd "$T" && find . -type f -exec sync {{}} +); then
  rm -rf "$T" "$C/.lock"; echo "staging=failed"; exit 1
fi
(cd "$T" && find . -type f) | while read -r f; do
  f=${{f#./}}; d={q(root)}/$f; mkdir -p "$(dirname "$d")"
  case "$f" in */secrets.json) if [ -s "$d" ]; then ln -f "$d" "$d.precedent"; fi ;; esac
  mv -f "$T/$f" "$d"
done
rm -rf "$T"
"""


def claim_ports(root: str, ports: Iterable[int]) -> str:
    """Under the server's ports lock, refuse ports another commune claimed, then record ours
    in ``ports.claim``: two communes installed at once never get the same port."""
    wanted = " ".join(str(int(p)) for p in sorted(set(ports)))
    if not wanted:
        return ""
    return f"""exec 8>{q(root + "/.ports.lock")}
flock -w 600 8
for f in {q(root)}/communes/*/ports.claim; do
  if [ ! -f "$f" ] || [ "$f" = "$C/ports.claim" ]; then continue; fi
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
    extract = proxy_locked(root, f"""umask 077
mkdir -p "$C/secrets"; chmod 700 "$C/secrets"
{stage_files(root)}""") + "\n" if staged else ""
    return f"""set -eu
C={q(commune_dir(root, slug))}
{lock_lines(lock_info, expected_current)}{claim_ports(root, ports)}{extract}echo locked
"""


def unlock(root: str, slug: str) -> str:
    return f'rm -rf {q(commune_dir(root, slug) + "/.lock")}\n'


@dataclass(frozen=True)
class LockAnswer:
    """What a lock script answered: ``taken``, ``held`` (``detail``: the holder's details),
    ``changed`` (the server moved), ``ports`` (a port was claimed meanwhile) or ``failed``."""

    kind: str
    detail: str = ""


def parse_lock(code: int, stdout: str) -> LockAnswer:
    text = stdout.strip()
    kinds = {0: "taken", LOCKED_EXIT: "held", CHANGED_EXIT: "changed", PORTS_EXIT: "ports"}
    return LockAnswer(kinds.get(code, "failed"), text)


def lock_age(info: str, now: datetime | None = None) -> int | None:
    """Seconds since the lock was taken, from its details' ``depuis=`` field."""
    for word in info.split():
        if word.startswith("depuis="):
            try:
                since = datetime.strptime(word[7:], STAMP).replace(tzinfo=UTC)
            except ValueError:
                return None
            return int(((now or datetime.now(UTC)) - since).total_seconds())
    return None
