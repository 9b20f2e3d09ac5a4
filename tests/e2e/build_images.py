#!/usr/bin/env python3
"""Build the end-to-end test bed's images on this machine's Docker engine and fill its local
registry. No registry on the internet is reachable here: everything is built from Debian
packages (mmdebstrap) and PyPI, as tests/../TESTBED.md describes.

    python3 tests/e2e/build_images.py [--force] [--only NAME,...]

What it makes (all tagged ``kce2e/*`` on this engine; nothing else is touched):
- two Debian 12 root filesystems (mmdebstrap, then ``docker import``):
  ``kce2e/rootfs-server`` (the "fresh server": sshd, sudo, python3, curl, docker.io) and
  ``kce2e/rootfs-base`` (the real services' Debian packages: PostgreSQL, Redis, Caddy,
  coturn, Prosody, docker-registry, Python); one shared base, so that the server pulls it once;
- ``kce2e/server`` and ``kce2e/registry``;
- real services: ``kce2e/postgres``, ``kce2e/redis``, ``kce2e/caddy``, ``kce2e/coturn``,
  ``kce2e/prosody`` (Debian packages) and ``kce2e/synapse`` (Matrix Synapse from PyPI);
- stand-ins ("substituts") for what no reachable registry holds: ``kce2e/standin-nextcloud``,
  ``-element``, ``-collabora``, ``-jitsi-web``, ``-jicofo``, ``-jvb``.
Then every image a recipe pins (read from recipes/*/recipe.yaml now) is pushed, under its
upstream name and tag, into the registry volume ``kce2e-registry-data`` (a cache, like the
images): the scenario's registry container serves it to the server as its registry mirror.

Idempotent: each image carries a label with the hash of its inputs (packages, build files,
parent image); an image whose inputs did not change is not rebuilt, and a push whose image
is already in the registry (same id) is skipped. Prints the time of each step.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
IMAGES = HERE / "images"
PREFIX = "kce2e/"
LABEL = "org.kce2e.inputs"
REGISTRY_VOLUME = "kce2e-registry-data"
BUILDER_VERSION = "1"  # bump to rebuild everything

# Each root filesystem: its Debian suite and packages (minbase, no docs/man/locales).
# The server is a fresh Debian 13 as a hosting provider delivers it (systemd as PID 1, sshd,
# sudo and dbus for logind): no Docker, no compose, no firewall, no Python. kit-collab's own
# bootstrap installs the rest with apt from the Debian registry, as on a real server.
SUITES = {"server": "trixie", "base": "bookworm"}
ROOTFS: dict[str, list[str]] = {
    "server": ["systemd", "systemd-sysv", "openssh-server", "sudo", "dbus"],
    "base": ["postgresql", "redis-server", "redis-tools", "caddy", "coturn", "prosody",
             "docker-registry", "python3", "python3-venv", "curl", "ca-certificates", "tini",
             "procps"],
}
# Removed from the base once installed: Debian's default PostgreSQL cluster (the image
# creates its own at first start) and apt's caches.
CUSTOMIZE = {
    "base": ['rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15'],
    "server": [],
}
EXCLUDE = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"]


@dataclass(frozen=True)
class Image:
    name: str  # kce2e/<name>
    context: str  # folder under images/
    dockerfile: str = "Dockerfile"
    parent: str = "rootfs-base"
    standin: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # build args


BUILDS = [
    Image("server", "server", parent="rootfs-server"),
    Image("server-debian12", "server", "Dockerfile.debian12"),
    Image("registry", "registry"),
    Image("postgres", "postgres"),
    Image("redis", "redis"),
    Image("caddy", "caddy"),
    Image("coturn", "coturn"),
    Image("prosody", "prosody", parent="rootfs-server"),
    Image("synapse", "synapse"),
    Image("standin-nextcloud", "standin", "Dockerfile.nextcloud", standin=True),
    Image("standin-element", "standin", "Dockerfile.element", standin=True),
    Image("standin-collabora", "standin", "Dockerfile.collabora", standin=True),
    Image("standin-jitsi-web", "standin", "Dockerfile.jitsi-web", standin=True),
    Image("standin-jicofo", "standin", "Dockerfile.jicofo", standin=True),
    Image("standin-jvb", "standin", "Dockerfile.jvb", standin=True),
]

# Upstream repository (as pinned in the recipes, tag apart) -> the image built here for it.
UPSTREAM = {
    "caddy": "caddy",
    "postgres": "postgres",
    "redis": "redis",
    "coturn/coturn": "coturn",
    "matrixdotorg/synapse": "synapse",
    "ghcr.io/jitsi/prosody": "prosody",
    "nextcloud": "standin-nextcloud",
    "vectorim/element-web": "standin-element",
    "collabora/code": "standin-collabora",
    "ghcr.io/jitsi/web": "standin-jitsi-web",
    "ghcr.io/jitsi/jicofo": "standin-jicofo",
    "ghcr.io/jitsi/jvb": "standin-jvb",
}


def say(text: str) -> None:
    print(f"[kce2e build] {text}", flush=True)


def docker(*args: str, check: bool = True, timeout: float = 1800,
           stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=stdin is None,
                            input=stdin, timeout=timeout)
    if check and result.returncode != 0:
        err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        raise RuntimeError(f"docker {' '.join(args[:3])}… failed: {err.strip()[-2000:]}")
    return result


def label_of(image: str) -> str | None:
    result = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}',
                    image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def image_id(image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:24]


def tree_digest(folder: Path) -> str:
    parts: list[str | bytes] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts += [str(path.relative_to(folder)), path.read_bytes()]
    return digest(*parts)


# ---------------------------------------------------------------------------------------------
# Root filesystems


HOST_SOURCES = [Path("/etc/apt/sources.list.d/debian.sources")]


def host_suite(text: str) -> str:
    """The release this machine's Debian sources name (``bookworm`` for ``bookworm-updates``)."""
    for line in text.splitlines():
        if line.startswith("Suites:"):
            return line.split()[1].split("-")[0]
    return ""


def apt_sources(suite: str) -> str:
    """This machine's own Debian sources (deb822), with their release changed to ``suite``:
    the mirror is the one this machine uses, read at run time, never named here."""
    for path in HOST_SOURCES:
        if path.exists():
            text = path.read_text()
            release = host_suite(text)
            if not release:
                break
            return "\n".join(
                " ".join(w.replace(release, suite, 1) for w in line.split(" "))
                if line.startswith("Suites:") else line for line in text.splitlines()) + "\n"
    raise RuntimeError("no Debian sources on this machine (/etc/apt/sources.list.d/"
                       "debian.sources): the root filesystems are built from them")


def rootfs_key(name: str) -> str:
    # The suite is in the sources' text.
    return digest(BUILDER_VERSION, name, *ROOTFS[name], *CUSTOMIZE[name], *EXCLUDE,
                  apt_sources(SUITES[name]))


def build_rootfs(name: str, force: bool) -> str:
    tag = f"{PREFIX}rootfs-{name}"
    key = rootfs_key(name)
    if not force and label_of(tag) == key:
        say(f"{tag}: up to date ({key[:12]})")
        return "cached"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"kce2e-{name}-") as tmp:
        out = Path(tmp) / f"{name}.tar"
        cmd = ["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + ",".join(ROOTFS[name])]
        for pattern in EXCLUDE:
            cmd.append(f"--dpkgopt=path-exclude={pattern}")
        cmd.append("--dpkgopt=path-include=/usr/share/doc/*/copyright")
        for hook in CUSTOMIZE[name]:
            cmd.append(f"--customize-hook={hook}")
        sources = Path(tmp) / "debian.sources"
        sources.write_text(apt_sources(SUITES[name]))
        cmd += [SUITES[name], str(out), str(sources)]
        # A clean environment: the host's proxies and pip settings stay on the host.
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "TMPDIR": tmp}
        result = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                stdin=subprocess.DEVNULL, timeout=1800)
        if result.returncode != 0:
            raise RuntimeError(f"mmdebstrap {name} failed:\n{result.stderr[-3000:]}")
        debootstrapped = time.monotonic()
        docker("import", "--change", f"LABEL {LABEL}={key}", "--change",
               'CMD ["/bin/bash"]', str(out), tag)
        size = out.stat().st_size // (1024 * 1024)
    say(f"{tag}: mmdebstrap {debootstrapped - started:.0f} s, import "
        f"{time.monotonic() - debootstrapped:.0f} s ({size} MB)")
    return "built"


# ---------------------------------------------------------------------------------------------
# Images


def host_ca_files() -> list[Path]:
    return sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


def pip_index_url() -> str:
    """This machine's configured pip index, if any (passed on, never written in a file)."""
    result = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


RECIPES = [ROOT]  # where recipes/ is read (--recipes changes it)


def synapse_version() -> str:
    spec = yaml.safe_load((RECIPES[0] / "recipes" / "matrix" / "recipe.yaml").read_text())
    return str(spec["images"]["synapse"]).rsplit(":", 1)[1].lstrip("v")


@contextlib.contextmanager
def context_for(image: Image) -> Iterator[tuple[Path, list[str]]]:
    """A build context: the image's folder, plus what it takes from this machine."""
    with tempfile.TemporaryDirectory(prefix=f"kce2e-ctx-{image.name}-") as tmp:
        ctx = Path(tmp) / "ctx"
        shutil.copytree(IMAGES / image.context, ctx)
        args: list[str] = []
        if image.name == "synapse":
            (ctx / "ca").mkdir()
            for ca in host_ca_files():
                shutil.copy2(ca, ctx / "ca" / ca.name)
            args += ["--build-arg", f"SYNAPSE_VERSION={synapse_version()}"]
            index = pip_index_url()
            if index:
                args += ["--build-arg", f"PIP_INDEX_URL={index}"]
        yield ctx, args


def image_key(image: Image, ctx: Path, args: list[str]) -> str:
    parent = image_id(f"{PREFIX}{image.parent}")
    return digest(BUILDER_VERSION, image.name, image.dockerfile, parent, tree_digest(ctx),
                  *[a for a in args if not a.startswith("PIP_INDEX_URL")])


def build_image(image: Image, force: bool) -> str:
    tag = f"{PREFIX}{image.name}"
    with context_for(image) as (ctx, args):
        key = image_key(image, ctx, args)
        if not force and label_of(tag) == key:
            say(f"{tag}: up to date ({key[:12]})")
            return "cached"
        started = time.monotonic()
        docker("build", "-q", "--label", f"{LABEL}={key}", "-f", str(ctx / image.dockerfile),
               "-t", tag, *args, str(ctx), timeout=1800)
    kind = " (substitut)" if image.standin else ""
    say(f"{tag}{kind}: built in {time.monotonic() - started:.1f} s")
    return "built"


# ---------------------------------------------------------------------------------------------
# The registry


def pinned_images() -> dict[str, str]:
    """Every image a recipe pins -> the kce2e image built for it."""
    out: dict[str, str] = {}
    for spec_path in sorted((RECIPES[0] / "recipes").glob("*/recipe.yaml")):
        spec = yaml.safe_load(spec_path.read_text())
        for ref in (spec.get("images") or {}).values():
            repo = ref.rsplit(":", 1)[0]
            if repo not in UPSTREAM:
                raise RuntimeError(f"{spec_path}: no test bed image for {ref} (add it to "
                                   "UPSTREAM in tests/e2e/build_images.py)")
            out[ref] = f"{PREFIX}{UPSTREAM[repo]}"
    return out


def registry_path(ref: str) -> str:
    """The repository path under which the registry serves ``ref`` (Docker Hub's library/
    for official images; ghcr.io/ names without their host: ghcr.io resolves to it)."""
    repo, tag = ref.rsplit(":", 1)
    first = repo.split("/", 1)[0]
    if "." in first or ":" in first:
        repo = repo.split("/", 1)[1]
    elif "/" not in repo:
        repo = f"library/{repo}"
    return f"{repo}:{tag}"


@contextlib.contextmanager
def build_registry() -> Iterator[str]:
    """The registry on its volume, published on loopback only, for this engine to push to."""
    name = f"kce2e-registry-build-{os.getpid()}"
    docker("run", "-d", "--name", name, "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry",
           "-p", "127.0.0.1::5000", f"{PREFIX}registry")
    try:
        port = docker("port", name, "5000/tcp").stdout.split(":")[-1].strip()
        address = f"127.0.0.1:{port}"
        for _ in range(100):
            with contextlib.suppress(OSError):
                import urllib.request

                with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):
                    break
            time.sleep(0.1)
        yield address
    finally:
        docker("rm", "-f", "-v", name, check=False)


def pushed_manifest() -> dict[str, str]:
    result = docker("run", "--rm", "-v", f"{REGISTRY_VOLUME}:/r", "--entrypoint", "cat",
                    f"{PREFIX}registry", "/r/kce2e-pushed.json", check=False)
    try:
        return json.loads(result.stdout) if result.returncode == 0 else {}
    except ValueError:
        return {}


def save_manifest(pushed: dict[str, str]) -> None:
    docker("run", "--rm", "-i", "-v", f"{REGISTRY_VOLUME}:/r", "--entrypoint", "sh",
           f"{PREFIX}registry", "-c", "cat > /r/kce2e-pushed.json",
           stdin=json.dumps(pushed, indent=1, sort_keys=True).encode())


def push_all(force: bool) -> None:
    wanted = pinned_images()
    pushed = {} if force else pushed_manifest()
    todo = {ref: local for ref, local in wanted.items() if pushed.get(ref) != image_id(local)}
    for ref in sorted(set(wanted) - set(todo)):
        say(f"registry: {ref} up to date ({wanted[ref]})")
    if not todo:
        return
    with build_registry() as address:
        for ref, local in sorted(todo.items()):
            started = time.monotonic()
            target = f"{address}/{registry_path(ref)}"
            docker("tag", local, target)
            try:
                docker("push", target, timeout=1800)
            finally:
                docker("rmi", target, check=False)
            pushed[ref] = image_id(local)
            save_manifest(pushed)
            say(f"registry: {ref} <- {local}: pushed in {time.monotonic() - started:.1f} s")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild and push everything")
    parser.add_argument("--only", default="", help="comma-separated image names (no push)")
    parser.add_argument("--recipes", type=Path, default=ROOT,
                        help="folder holding recipes/ (default: this repository)")
    args = parser.parse_args(argv)
    RECIPES[0] = args.recipes
    only = {n for n in args.only.split(",") if n}
    if shutil.which("mmdebstrap") is None:
        say("mmdebstrap is missing: apt-get install mmdebstrap")
        return 2
    total = time.monotonic()
    timings: list[tuple[str, float, str]] = []

    started = time.monotonic()
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            results[name] = build_rootfs(name, args.force)
        except BaseException as exc:  # reported below
            errors.append(exc)

    names = [n for n in ROOTFS if not only or f"rootfs-{n}" in only or
             any(b.parent == f"rootfs-{n}" and b.name in only for b in BUILDS)]
    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    timings.append(("root filesystems (mmdebstrap, in parallel)", time.monotonic() - started,
                    ", ".join(f"{k} {v}" for k, v in results.items())))

    for image in BUILDS:
        if only and image.name not in only:
            continue
        started = time.monotonic()
        state = build_image(image, args.force)
        timings.append((f"{PREFIX}{image.name}", time.monotonic() - started, state))

    if not only:
        started = time.monotonic()
        push_all(args.force)
        timings.append(("registry (push under upstream names)", time.monotonic() - started, ""))
    # The earlier versions of the images rebuilt now (untagged, with our label): nothing else.
    docker("image", "prune", "-f", "--filter", f"label={LABEL}", check=False)

    say("timings:")
    for what, seconds, state in timings:
        say(f"  {seconds:7.1f} s  {what}{f'  [{state}]' if state else ''}")
    say(f"  {time.monotonic() - total:7.1f} s  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
