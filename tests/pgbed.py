"""Real PostgreSQL of two majors as postgres-image look-alikes, for the major migration tests.

- ``15``: Debian 12's PostgreSQL 15 (the bed's previous major, tests/e2e/images/postgres);
- ``17``: Debian 13's PostgreSQL 17 (the major the recipes pin, postgres:17.x).
Each is a minbase root filesystem made by mmdebstrap from this machine's own Debian sources
(their release changed, tests/e2e/build_images.py ``apt_sources``), plus the bed's entrypoint
that honours ``POSTGRES_USER/PASSWORD/DB/INITDB_ARGS`` as the postgres image does
(docker-library/postgres, docker-entrypoint.sh). The images are a cache (``kcpg/*``, labelled
with the hash of their inputs, rebuilt when those change); every container and volume a test
creates carries the run id and is removed by the test.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .e2e.build_images import EXCLUDE, apt_sources

HERE = Path(__file__).resolve().parent
ENTRYPOINT = HERE / "e2e" / "images" / "postgres" / "docker-entrypoint.sh"
LABEL = "org.kcpg.inputs"
SUITES = {15: "bookworm", 17: "trixie"}
BUILDER = "1"


def image(major: int) -> str:
    return f"kcpg/postgres:{major}"


def _docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:24]


def _rootfs_key(major: int) -> str:
    return _digest(BUILDER, str(major), apt_sources(SUITES[major]), *EXCLUDE)


def _key(major: int) -> str:
    return _digest(_rootfs_key(major), ENTRYPOINT.read_text(), _dockerfile(major, ""))


def _label(tag: str) -> str:
    out = _docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}', tag)
    return out.stdout.strip() if out.returncode == 0 else ""


def _rootfs(major: int, out: Path) -> None:
    sources = out.parent / "debian.sources"
    sources.write_text(apt_sources(SUITES[major]))
    cmd = ["mmdebstrap", "--quiet", "--variant=minbase",
           f"--include=postgresql-{major},util-linux"]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDE]
    # Debian's own cluster goes: the entrypoint creates the image's at first start.
    cmd.append(f'--customize-hook=rm -rf "$1"/var/lib/postgresql/{major} '
               f'"$1"/etc/postgresql/{major}')
    cmd += [SUITES[major], str(out), str(sources)]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TMPDIR": str(out.parent)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"mmdebstrap {SUITES[major]} failed:\n{done.stderr[-2000:]}")


def _dockerfile(major: int, key: str) -> str:
    return f"""FROM kcpg/rootfs:{major}
ENV PATH=/usr/lib/postgresql/{major}/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh \\
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \\
 && install -d -o postgres -g postgres -m 2775 /run/postgresql
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
LABEL {LABEL}={key}
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
"""


def build(major: int) -> str:
    """The image of ``major`` (built the first time, ~1 to 3 min; then cached)."""
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is needed to build the PostgreSQL images (.ci/run installs it)")
    tag, key = image(major), _key(major)
    if _label(tag) == key:
        return tag
    with tempfile.TemporaryDirectory(prefix=f"kcpg-{major}-") as tmp:
        ctx = Path(tmp)
        base = f"kcpg/rootfs:{major}"
        if _label(base) != _rootfs_key(major):
            _rootfs(major, ctx / "rootfs.tar")
            _check(_docker("import", "--change", f"LABEL {LABEL}={_rootfs_key(major)}",
                           str(ctx / "rootfs.tar"), base))
            (ctx / "rootfs.tar").unlink()
        shutil.copy2(ENTRYPOINT, ctx / "docker-entrypoint.sh")
        (ctx / "Dockerfile").write_text(_dockerfile(major, key))
        _check(_docker("build", "-q", "-t", tag, str(ctx), timeout=900))
    return tag


def _check(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-2000:])


if __name__ == "__main__":
    import sys
    for m in sys.argv[1:] or ["15", "17"]:
        print(build(int(m)))


# ---------------------------------------------------------------------------------------------
# A commune on this machine's engine: releases A (old major) and B (new major), `current`.

COMPOSE = """services:
  db:
    image: {image}
    env_file: [postgres.env]
    volumes: ["db_data:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"]
      interval: 1s
      retries: 120
  client:
    image: {image}
    command: ["sleep", "infinity"]
    init: true
volumes:
  db_data: {volume}
"""


class Commune:
    """``<root>/communes/<slug>/releases/{A,B}`` and ``current -> releases/A``; the scripts
    run here with sh, as root, as the server runs them."""

    def __init__(self, tmp: Path, slug: str, old: int, new: int, env: str) -> None:
        self.root, self.slug = str(tmp / "srv"), slug
        self.dir = tmp / "srv" / "communes" / slug
        for rel, major, volume in (("A", old, "{}"),
                                   ("B", new, f'{{name: "{slug}_db_data-pg{new}"}}')):
            folder = self.dir / "releases" / rel
            folder.mkdir(parents=True)
            (folder / "compose.yaml").write_text(COMPOSE.format(image=image(major),
                                                                volume=volume))
            (folder / "postgres.env").write_text(env)
            (folder / "postgres.env").chmod(0o600)
        self.switch("A")

    def switch(self, release: str) -> None:
        link = self.dir / "current"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(f"releases/{release}")

    def compose(self, *args: str, stdin: str | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", "-p", self.slug, "-f",
                               str(self.dir / "current" / "compose.yaml"), *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout)

    def up(self) -> None:
        _check(self.compose("up", "-d", "--wait"))

    def sql(self, text: str) -> str:
        done = self.compose("exec", "-T", "db", "psql", "-X", "-q", "-At", "-v",
                            "ON_ERROR_STOP=1", "-U", "app", "-d", "app", stdin=text)
        _check(done)
        return done.stdout

    def db_ip(self) -> str:
        cid = self.compose("ps", "-q", "db").stdout.strip()
        out = _docker("inspect", "--format",
                      "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid)
        return out.stdout.split()[0]

    def down(self) -> None:
        self.compose("down", "-v", "-t", "1")
        for name in _docker("volume", "ls", "-q", "--filter", f"name={self.slug}_").stdout.split():
            _docker("volume", "rm", "-f", name)

    def volumes(self) -> list[str]:
        return sorted(_docker("volume", "ls", "-q", "--filter",
                              f"name={self.slug}_").stdout.split())

    def pg_version(self, volume: str, major: int) -> str:
        done = _docker("run", "--rm", "-v", f"{volume}:/d", "--entrypoint", "cat", image(major),
                       "/d/PG_VERSION")
        return done.stdout.strip()


def run_script(script: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """A server script run here as the server would (sh, root)."""
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Real Synapse releases, each in its own venv, cached by version.

VENVS = Path.home() / ".cache" / "kit-collab-tests"
# Libraries released after an old Synapse that it cannot run with, held back to its era:
# prometheus_client 0.22 made Collector generic, which 1.128's InFlightGauge cannot subclass
# ("Cannot create a consistent method resolution order", synapse/metrics/__init__.py).
ERA = {"1.128.0": ["prometheus-client<0.22"]}


def synapse_venv(version: str) -> str:
    """The python of a venv holding matrix-synapse ``version`` with psycopg2 (installed the
    first time, ~1 min; the host's pip settings apply, its index included)."""
    folder = VENVS / f"synapse-{version}"
    python = folder / "bin" / "python"
    probe = [str(python), "-c", "import synapse.metrics, psycopg2, synapse; "
             "print(synapse.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True,
                                          timeout=120).stdout.strip() == version:
        return str(python)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(folder)], check=True, timeout=300)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           f"matrix-synapse[postgres]=={version}", *ERA.get(version, [])],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        pytest.skip(f"matrix-synapse {version} could not be installed: {done.stderr[-500:]}")
    return str(python)
