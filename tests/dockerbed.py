"""A local Docker engine as the deploy target's engine, with stand-in images built here.

No registry is reachable from this machine, so the tests build their own images:
- a stand-in for the services: Debian's static busybox;
- the proxy: the REAL Caddy binary from Debian's ``caddy`` package (2.6.2) in a minimal image,
  with the tag the proxy recipe pins.

Isolated per test run (``RUN``, conftest.RUN_ID), so that two runs share one engine safely:
- image names live under the registry host ``kctest.invalid/<run>/``: a missing image can never
  be pulled from anywhere (``.invalid`` does not resolve), and ``engine()`` fails at once with
  a clear message when one is absent;
- the shared proxy's compose project and network are ``kctest-<run>-proxy``
  (KIT_COLLAB_PROXY_PROJECT), communes use per-run slugs (``slug()``);
- every published port is bound to the run's own loopback address ``HOST`` (127.x.y.z), where
  the test sshd listens too: the proxy keeps 80/443 and the demo its allocated UDP port, and
  the health checks reach them at the profile's address as on a real server.
What a run creates (containers, networks, volumes by id; images by their per-run tag) is
removed at the end of the module.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import RUN_HOST, RUN_ID

RUN = RUN_ID
REGISTRY = f"kctest.invalid/{RUN}"
BUSYBOX_IMAGE = f"{REGISTRY}/busybox:1.36.1"
CADDY_IMAGE = f"{REGISTRY}/caddy:2.11.4"
PROXY_PROJECT = f"kctest-{RUN}-proxy"
PROXY_NETWORK = PROXY_PROJECT
PROXY_ENV = "KIT_COLLAB_PROXY_PROJECT"

HOST = RUN_HOST  # the sshd of the deploy tests listens here, the proxy publishes here


def slug(base: str) -> str:
    """A commune slug (the compose project name) unique to this run."""
    return f"{base}-{RUN}"


def demo_data_root(tmp: Path) -> Path:
    """A recipes folder with the real proxy recipe and the demo stand-in recipe, adapted to
    this run: the run's images, and every published port bound to ``HOST``."""
    repo = Path(__file__).resolve().parent.parent
    root = tmp / "data"
    proxy = root / "recipes" / "proxy"
    demo = root / "recipes" / "demo"
    shutil.copytree(repo / "recipes" / "proxy", proxy)
    shutil.copytree(repo / "tests" / "data" / "recipes" / "demo", demo)
    _rewrite(proxy / "recipe.yaml", {"caddy: caddy:2.11.4": f"caddy: {CADDY_IMAGE}"})
    _rewrite(proxy / "templates" / "compose.yaml.j2",
             {f'- "{p}:': f'- "{HOST}:{p}:' for p in ("80", "443")})
    _rewrite(demo / "recipe.yaml", {"kctest/busybox:1.36.1": BUSYBOX_IMAGE})
    _rewrite(demo / "templates" / "compose.yaml.j2",
             {'- "{{ ports.demo.media': f'- "{HOST}:{{{{ ports.demo.media'})
    return root


def _rewrite(path: Path, replacements: dict[str, str]) -> None:
    text = path.read_text("utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{path}: {old!r} not found, the test bed needs updating")
        text = text.replace(old, new)
    path.write_text(text, "utf-8")


def docker(*args: str, check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=timeout)


def require_docker() -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed (.ci/run installs docker.io)")
    if docker("info", check=False, timeout=20).returncode != 0:
        pytest.skip("no Docker engine running (.ci/run starts dockerd)")
    if docker("compose", "version", check=False).returncode != 0:
        pytest.skip("docker compose v2 plugin missing (.ci/run installs it)")


def _rootfs(ctx: Path, binaries: dict[str, str]) -> None:
    """Copy each binary to its place under ctx/rootfs, with the shared libraries it needs."""
    for source, target in binaries.items():
        dest = ctx / "rootfs" / target.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        ldd = subprocess.run(["ldd", source], capture_output=True, text=True).stdout
        for word in ldd.split():
            if word.startswith("/") and Path(word).exists():
                lib = ctx / "rootfs" / word.lstrip("/")
                lib.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(word).resolve(), lib)


def _build(tag: str, binaries: dict[str, str], extra: str) -> str:
    """Build ``tag`` without the layer cache, so that its id is this run's alone."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        _rootfs(ctx, binaries)
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY rootfs/ /\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "RUN mkdir -p /tmp /www /data /config && chmod 1777 /tmp\n" + extra)
        docker("build", "-q", "--no-cache", "--label", f"kit-collab-test-run={RUN}",
               "-t", tag, str(ctx), timeout=300)
    return require_image(tag)


def require_image(tag: str) -> str:
    """The id of a stand-in image, or a clear failure: never a pull from a registry."""
    found = docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    if found.returncode != 0:
        pytest.fail(f"stand-in image {tag} is missing from the local engine (it is built by "
                    "tests/dockerbed.py and never pulled): "
                    f"{(found.stderr or found.stdout).strip()}", pytrace=False)
    return found.stdout.strip()


def build_images() -> list[str]:
    """Build the stand-in images; returns their tags (removed by ``cleanup``)."""
    busybox = shutil.which("busybox")
    caddy = shutil.which("caddy")
    if busybox is None or caddy is None:
        pytest.skip("busybox-static and caddy packages are needed (.ci/run installs them)")
    _build(BUSYBOX_IMAGE, {busybox: "/bin/busybox"}, 'CMD ["/bin/sh"]\n')
    _build(CADDY_IMAGE, {busybox: "/bin/busybox", caddy: "/usr/bin/caddy"},
           "ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data\n"
           'CMD ["caddy", "version"]\n')
    return [BUSYBOX_IMAGE, CADDY_IMAGE]


@contextlib.contextmanager
def engine(projects: list[str]) -> Iterator[list[str]]:
    """The engine for one test module: images built, the proxy's project renamed for this
    run; at the end, everything the ``projects`` and the proxy created is removed by id."""
    require_docker()
    images = build_images()
    previous = os.environ.get(PROXY_ENV)
    os.environ[PROXY_ENV] = PROXY_PROJECT
    try:
        for image in images:
            require_image(image)
        yield images
    finally:
        if previous is None:
            os.environ.pop(PROXY_ENV, None)
        else:
            os.environ[PROXY_ENV] = previous
        cleanup(projects, images)


@contextlib.contextmanager
def server_root(tmp_path: Path, projects: list[str]) -> Iterator[Path]:
    """A server root for one test on this machine's engine (marked bootstrapped: no bootstrap
    on the CI host); the ``projects`` brought down afterwards."""
    root = tmp_path / "srv"
    root.mkdir()
    root.chmod(0o755)
    (root / ".bootstrap").write_text("1\n")
    try:
        yield root
    finally:
        for project in projects:
            compose_down(project)


def compose_down(project: str) -> None:
    docker("compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "1", check=False,
           timeout=120)


def container_ids(project: str) -> dict[str, str]:
    """Service -> container id of a compose project."""
    out = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                 "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}').stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines() if len(line.split()) == 2}


def _ids(kind: str, project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    if kind == "container":
        return docker("ps", "-a", "-q", "--filter", label).stdout.split()
    return docker(kind, "ls", "-q", "--filter", label).stdout.split()


def leftovers(projects: list[str]) -> list[str]:
    """What is still on the engine from ``projects`` and this run's proxy."""
    found = []
    for project in [*projects, PROXY_PROJECT]:
        for kind in ("container", "network", "volume"):
            found += [f"{kind} {i} ({project})" for i in _ids(kind, project)]
    return found


def cleanup(projects: list[str], images: list[str]) -> None:
    """Remove by id what the projects created (containers, then networks and volumes), then
    this run's image tags (an id could be shared with another run's tag: the tag is ours)."""
    for project in [*projects, PROXY_PROJECT]:
        containers = _ids("container", project)
        if containers:
            docker("rm", "-f", "-v", *containers, check=False, timeout=120)
        for kind in ("network", "volume"):
            ids = _ids(kind, project)
            if ids:
                docker(kind, "rm", *ids, check=False)
    for image in images:
        if re.match(rf"^{re.escape(REGISTRY)}/", image):
            docker("rmi", image, check=False)


# --- A real PostgreSQL, for the data that matters (tests/test_snapshot.py) --------------------
# The e2e bed's image (tests/e2e/images/postgres: Debian's PostgreSQL 15 behind the postgres
# image's POSTGRES_* interface), built under this run's tag on its shared Debian base.
POSTGRES_IMAGE = f"{REGISTRY}/postgres:15"
E2E_BASE = "kce2e/rootfs-base"


def registre_image(schema: int) -> str:
    """The stand-in application of the ``registre`` test recipe, at one schema version."""
    return f"{REGISTRY}/registre:{schema}"


def _e2e_base() -> None:
    """The e2e bed's Debian base (built once, cached by content, by its own builder)."""
    if docker("image", "inspect", E2E_BASE, check=False).returncode == 0:
        return
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is needed to build the PostgreSQL image (.ci/run installs it)")
    repo = Path(__file__).resolve().parent.parent
    subprocess.run([os.environ.get("PYTHON", "python3"), str(repo / "tests" / "e2e" /
                                                             "build_images.py"),
                    "--only", "rootfs-base"], check=True, timeout=1200)


def build_postgres_images(schemas: tuple[int, ...]) -> list[str]:
    """POSTGRES_IMAGE and one ``registre`` image per schema version (the same PostgreSQL
    client, REGISTRE_SCHEMA set); returns their tags (removed with ``cleanup``)."""
    _e2e_base()
    repo = Path(__file__).resolve().parent.parent
    docker("build", "-q", "--no-cache", "--label", f"kit-collab-test-run={RUN}", "-t",
           POSTGRES_IMAGE, str(repo / "tests" / "e2e" / "images" / "postgres"), timeout=600)
    tags = [POSTGRES_IMAGE]
    for schema in schemas:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "Dockerfile").write_text(
                f"FROM {POSTGRES_IMAGE}\nENV REGISTRE_SCHEMA={int(schema)}\n")
            docker("build", "-q", "--label", f"kit-collab-test-run={RUN}", "-t",
                   registre_image(schema), tmp, timeout=300)
        tags.append(registre_image(schema))
    for tag in tags:
        require_image(tag)
    return tags


def registre_data_root(tmp: Path) -> Path:
    """demo_data_root plus the ``registre`` stand-in recipe (a real PostgreSQL and an
    application that migrates its data), on this run's images."""
    root = demo_data_root(tmp)
    repo = Path(__file__).resolve().parent.parent
    registre = root / "recipes" / "registre"
    shutil.copytree(repo / "tests" / "data" / "recipes" / "registre", registre)
    _rewrite(registre / "recipe.yaml", {"kctest/registre:1": registre_image(1),
                                        "kctest/postgres:15": POSTGRES_IMAGE})
    return root
