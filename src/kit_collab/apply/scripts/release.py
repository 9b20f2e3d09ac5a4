"""A release on the server: uploaded beside the running one, its images pulled, switched to
atomically, and switched back from when its services fail."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping

from kit_collab.apply.scripts.common import (
    commune_dir,
    compose,
    proxy_compose,
    proxy_locked,
    q,
    reload_proxy,
)
from kit_collab.bundle.model import published_dir

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


UPLOAD_INCOMPLETE_EXIT = 7  # the upload did not bring every file of the release intact


def manifest(files: Mapping[str, str]) -> bytes:
    """The release's expected files (release-relative path -> sha256), as ``sha256sum -c``
    reads them."""
    return "".join(f"{h}  ./{p}\n" for p, h in sorted(files.items())).encode()


def manifest_name(release_dir: str) -> str:
    """The manifest's name in the upload stream: sorted after every file of the release, it
    is the stream's last member, so a stream cut anywhere before its end lacks it."""
    return f"{release_dir}.sha256"


Permission = tuple[int, "str | None"]  # mode, owner ("0:gid") of a file of the release


def permissions(perms: Mapping[str, Permission]) -> str:
    """Lines (run in the new release's folder) giving every file its mode and owner, and
    every folder 0750 root: a file copied from the base release keeps the base's otherwise,
    and a release's files are root's, readable by a container through its group only."""
    modes: dict[int, list[str]] = {}
    owners: dict[str, list[str]] = {}
    for path, (mode, owner) in sorted(perms.items()):
        modes.setdefault(mode, []).append(q("./" + path))
        if owner:
            uid, _, gid = owner.partition(":")
            owners.setdefault(f"{int(uid)}:{int(gid or uid)}", []).append(q("./" + path))
    return "\n".join([
        "chown -R 0:0 .", "find . -type d -exec chmod 0750 {} +",
        *(f"chmod {mode:04o} -- {' '.join(paths)}" for mode, paths in sorted(modes.items())),
        *(f"chown {owner} -- {' '.join(paths)}" for owner, paths in sorted(owners.items()))])


def upload(root: str, slug: str, release: str, base: str, removed: Iterable[str],
           manifest_sha256: str, count: int, perms: Mapping[str, Permission] | None = None,
           ) -> str:
    """Build the new release from ``base`` (the running one) plus the tar stream on stdin
    (only the changed files, then the manifest of every file). Needs no lock: releases are
    content-addressed and immutable, and the release is complete only once its files match
    the manifest (whose own hash this script carries) and it is renamed from ``.partial``:
    GNU tar exits 0 when its input ends between two members, the manifest check does not.
    ``perms``: every file's mode and owner (release-relative path), applied before the
    release is put in place; the commune's folders are not world-readable."""
    rm = " ".join(q(p) for p in removed)
    own = f'(cd "$NEW" && {{\n{permissions(perms)}\n}})\n' if perms else ""
    return f"""set -eu
umask 027
C={q(commune_dir(root, slug))}; R={q(root)}; REL={q(release)}; BASE={q(base)}
NEW="$C/releases/$REL.partial"; M="$C/releases/$REL.sha256"
mkdir -p "$C/releases"
rm -rf "$NEW" "$M"; mkdir -p "$NEW"
if [ -n "$BASE" ] && [ -d "$C/releases/$BASE" ]; then cp -a "$C/releases/$BASE/." "$NEW/"; fi
cd "$NEW"; {"rm -f -- " + rm + "; " if rm else ""}cd "$R"
tar -x -f - -C "$R"
incomplete() {{ echo "upload-incomplete $1"; rm -f "$M"; exit {UPLOAD_INCOMPLETE_EXIT}; }}
[ -f "$M" ] || incomplete manifest
[ "$(sha256sum < "$M" | cut -c1-64)" = {q(manifest_sha256)} ] || incomplete manifest
(cd "$NEW" && sha256sum -c --quiet --strict "$M" >/dev/null 2>&1) || incomplete files
[ "$(cd "$NEW" && find . -type f | wc -l)" -eq {int(count)} ] || incomplete count
rm -f "$M"
{own}chmod 0750 "$C" "$C/releases"
OLD="$C/releases/.$REL.old"; rm -rf "$OLD"
if [ -d "$C/releases/$REL" ]; then mv "$C/releases/$REL" "$OLD"; fi
mv "$NEW" "$C/releases/$REL"; rm -rf "$OLD"
echo uploaded
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


def pull_line_shown(text: str) -> bool:
    """Whether a line of the pull's progress is worth showing: an image done, or an error."""
    return text.endswith((" Pulled", " Error")) or "error" in text.lower()


def _point_current(root: str, slug: str, release: str) -> str:
    """`current` to the release, atomically, then its ``proxy/`` folder (sites, served files)
    published where the shared proxy sees it: the proxy mounts only <root>/proxy."""
    return (f'ln -sfn {q("releases/" + release)} "$C/current.new" && '
            'mv -T "$C/current.new" "$C/current"\n' + publish(root, slug, release))


def publish(root: str, slug: str, release: str) -> str:
    """Copy the release's ``proxy/`` folder (no secret in it) to <root>/proxy/communes/<slug>/
    <release> once (releases never change), point that folder's `current` at it atomically,
    and drop the copies of releases no longer on the server."""
    return f"""P={q(published_dir(root, slug))}; PR={q(release)}
(umask 022; mkdir -p "$P")
if [ ! -d "$P/$PR" ]; then
  rm -rf "$P/.$PR.new"; (umask 022; cp -R "$C/releases/$PR/proxy" "$P/.$PR.new")
  mv "$P/.$PR.new" "$P/$PR"
fi
ln -sfn "$PR" "$P/current.new" && mv -T "$P/current.new" "$P/current"
for d in "$P"/*; do [ -L "$d" ] || [ -d "$C/releases/${{d##*/}}" ] || rm -rf "$d"; done"""


def unpublish(root: str, slug: str) -> str:
    """The commune's published sites and files removed: the proxy no longer serves it."""
    return f"rm -rf {q(published_dir(root, slug))}"


def switch_and_up(root: str, slug: str, release: str, restart: Iterable[str],
                  wait_seconds: int, before: str = "", after: str = "") -> str:
    """Point `current` at the release atomically, start the proxy and the commune's services,
    wait for their health checks, then reload Caddy so that it serves the commune's sites
    (a reload that fails, e.g. on a broken site, fails the deploy: it is rolled back).
    ``before`` runs first (the pending operation recorded), ``after`` once all is up."""
    wait = ("--wait", "--wait-timeout", str(int(wait_seconds)))
    names = [q(s) for s in restart]
    force = (compose(root, slug, "up", "-d", "--no-deps", "--force-recreate", *wait, *names)
             if names else "true")
    return f"""set -eu
C={q(commune_dir(root, slug))}
{before}{_point_current(root, slug, release)}
{proxy_locked(root, proxy_compose(root, "up", "-d", "--remove-orphans"))}
{compose(root, slug, "up", "-d", "--remove-orphans", *wait)}
{force}
{proxy_locked(root, reload_proxy(root))}
{after}echo up
"""


def switch_back(root: str, slug: str, previous: str, wait_seconds: int,
                restart: Iterable[str] | None = None, before: str = "",
                after: str = "") -> str:
    """Roll back: `current` to the previous release (or nothing on a first install), bring its
    services up and wait for their health, recreating only ``restart`` (the services whose
    mounted files the failed release changed; every service when None), and reload the
    proxy. Any failure stops the script with its code: the caller says the previous release
    did not come back. ``before`` runs first, ``after`` only once the services are healthy."""
    reload = proxy_locked(root, reload_proxy(root) + " || true")
    head = f"set -eu\nC={q(commune_dir(root, slug))}\n{before}"
    if not previous:
        return f"""{head}{compose(root, slug, "down", "--remove-orphans")} || true
rm -f "$C/current" "$C/ports.claim"
{unpublish(root, slug)}
{reload}
{after}echo rolled-back
"""
    wait = ("--wait", "--wait-timeout", str(int(wait_seconds)))
    if restart is None:
        up = compose(root, slug, "up", "-d", "--remove-orphans", "--force-recreate", *wait)
    else:
        # The services the failed release recreated still run its files (a bind mount
        # resolves `current` when the container is created): recreate them first, then wait
        # for every service of the previous release to be healthy.
        names = [q(s) for s in restart]
        up = compose(root, slug, "up", "-d", "--remove-orphans") + (
            "\n" + compose(root, slug, "up", "-d", "--no-deps", "--force-recreate", *names)
            if names else "") + "\n" + compose(root, slug, "up", "-d", *wait)
    return f"""{head}[ -d "$C/releases/"{q(previous)} ]
{_point_current(root, slug, previous)}
{up}
{reload}
{after}echo rolled-back
"""
