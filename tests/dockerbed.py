"""A local Docker engine as the deploy target's engine, with stand-in images built here.

No registry is reachable from this machine, so the tests build their own images:
- ``kctest/busybox:1.36.1``: Debian's static busybox, a stand-in for the services;
- ``caddy:2.10.2``: the REAL Caddy binary from Debian's ``caddy`` package (2.6.2) in a minimal
  image under the name the proxy recipe pins, so the rendered compose file is unchanged.
Everything the tests start is removed by id or project name at teardown.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

BUSYBOX_IMAGE = "kctest/busybox:1.36.1"
CADDY_IMAGE = "caddy:2.10.2"
PROXY_PROJECT = "kit-collab-proxy"
PROXY_NETWORK = "kit-collab-proxy"


def demo_data_root(tmp: Path) -> Path:
    """A recipes folder with the real proxy recipe and the demo stand-in recipe."""
    repo = Path(__file__).resolve().parent.parent
    root = tmp / "data"
    shutil.copytree(repo / "recipes" / "proxy", root / "recipes" / "proxy")
    shutil.copytree(repo / "tests" / "data" / "recipes" / "demo", root / "recipes" / "demo")
    return root


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
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        _rootfs(ctx, binaries)
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY rootfs/ /\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "RUN mkdir -p /tmp /www /data /config && chmod 1777 /tmp\n" + extra)
        docker("build", "-q", "-t", tag, str(ctx), timeout=300)
    return docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


def build_images() -> list[str]:
    busybox = shutil.which("busybox")
    caddy = shutil.which("caddy")
    if busybox is None or caddy is None:
        pytest.skip("busybox-static and caddy packages are needed (.ci/run installs them)")
    return [
        _build(BUSYBOX_IMAGE, {busybox: "/bin/busybox"}, 'CMD ["/bin/sh"]\n'),
        _build(CADDY_IMAGE, {busybox: "/bin/busybox", caddy: "/usr/bin/caddy"},
               "ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data\n"
               'CMD ["caddy", "version"]\n'),
    ]


def compose_down(project: str) -> None:
    docker("compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "1", check=False,
           timeout=120)


def container_ids(project: str) -> dict[str, str]:
    """Service -> container id of a compose project."""
    out = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                 "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}').stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines() if len(line.split()) == 2}


def cleanup(projects: list[str], images: list[str]) -> None:
    for project in [*projects, PROXY_PROJECT]:
        compose_down(project)
    docker("network", "rm", PROXY_NETWORK, check=False)
    for image in images:
        docker("rmi", "-f", image, check=False)
