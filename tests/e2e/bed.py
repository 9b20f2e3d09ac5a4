"""The end-to-end test bed: a local registry and a "fresh Debian 13 server" container on a
private Docker network of this machine, from the images tests/e2e/build_images.py built.

- ``registry`` (alias on the network): the kce2e registry on the cached volume
  ``kce2e-registry-data``, mounted read-only. The server uses it as its Docker registry
  mirror through kit-collab's own setting (``serveur.miroir_registre``), so the rendered
  compose files keep the real image names; ghcr.io (Jitsi) resolves to it in the server only.
- the server: Debian 13 booted with systemd as PID 1, sshd, sudo for ``debian``, nothing
  else: kit-collab's bootstrap installs Docker there (TESTBED.md's flags: this machine
  refuses --privileged), its ``/var/lib/docker`` on a volume of its own (overlay2, not vfs);
  reached at its bridge address; nothing is published on this machine's ports.
- on demand, a real Debian 12 server (sshd only), which kit-collab must refuse.
Everything is named ``kce2e-<run>-*`` and removed by name at the end, even after a failure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PREFIX = "kce2e/"
REGISTRY_VOLUME = "kce2e-registry-data"
SERVER_USER = "debian"
# Flags that let a container run its own dockerd here (TESTBED.md).
NESTED_DOCKER = ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
                 "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                 "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm"]
# systemd as PID 1 (TESTBED.md, "A fresh Debian 13 server booted with systemd"): its own /run,
# /tmp, the cgroup tree writable, and the shutdown signal of the image (SIGRTMIN+3).
SYSTEMD = ["--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
           "-e", "container=docker"]


def systemd_flags_and_command() -> tuple[list[str], list[str]]:
    """The flags and command that boot systemd here. This machine's Docker uses cgroup v1,
    which Debian 13's systemd refuses unless told (in a container it reads its arguments as
    the kernel's command line). On a cgroup v2 host, a private cgroup namespace instead
    (not measured here: every machine of this project is cgroup v1)."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return [*SYSTEMD, "--cgroupns", "private"], ["/sbin/init"]
    return ([*SYSTEMD, "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"],
            ["/sbin/init", "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1",
             "systemd.unified_cgroup_hierarchy=0"])


def docker(*args: str, check: bool = True, timeout: float = 300,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            input=stdin)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()[-1500:]}")
    return result


def missing_images() -> list[str]:
    wanted = [f"{PREFIX}server", f"{PREFIX}server-debian12", f"{PREFIX}registry"]
    missing = [i for i in wanted if docker("image", "inspect", i, check=False).returncode]
    if docker("volume", "inspect", REGISTRY_VOLUME, check=False).returncode:
        missing.append(f"volume {REGISTRY_VOLUME}")
    return missing


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 that no Docker network and no route of this machine uses."""
    used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word if word != "default" else "0.0.0.0/32",
                                             strict=False))
    ids = docker("network", "ls", "-q").stdout.split()
    if ids:
        for net in json.loads(docker("network", "inspect", *ids).stdout):
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                with contextlib.suppress(ValueError, KeyError):
                    used.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    for third in range(200, 256):
        candidate = ipaddress.IPv4Network(f"10.231.{third}.0/24")
        if not any(candidate.overlaps(u) for u in used if u.prefixlen > 0):
            return candidate
    raise RuntimeError("no free 10.231.x.0/24 subnet for the test bed")


def host_fingerprint(image: str, key_type: str = "ed25519") -> str:
    out = docker("run", "--rm", "--entrypoint", "ssh-keygen", image, "-lf",
                 f"/etc/ssh/ssh_host_{key_type}_key.pub").stdout
    return out.split()[1]


def remove_stale(max_age_hours: float = 3) -> list[str]:
    """Remove what an interrupted run left behind (killed before its teardown): containers,
    volumes and networks labelled org.kce2e.run, created more than ``max_age_hours`` ago (a
    run takes minutes; a younger bed may be another session's)."""
    removed: list[str] = []
    limit = time.time() - max_age_hours * 3600

    def old(kind: str, name: str) -> bool:
        field = "{{.CreatedAt}}" if kind == "volume" else "{{.Created}}"
        created = docker(kind, "inspect", "--format", field, name, check=False).stdout.strip()
        try:  # "2026-11-24T08:10:58.85Z", "2026-11-24 07:09:02.57 +0000 UTC": UTC either way
            stamp = datetime.strptime(created.replace("T", " ")[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return False
        return stamp.replace(tzinfo=UTC).timestamp() < limit

    for kind, lister in (("container", ["ps", "-a", "--format", "{{.Names}}"]),
                         ("volume", ["volume", "ls", "--format", "{{.Name}}"]),
                         ("network", ["network", "ls", "--format", "{{.Name}}"])):
        names = docker(*lister, "--filter", "label=org.kce2e.run", check=False).stdout.split()
        for name in names:
            if old(kind, name):
                rm = {"container": ["rm", "-f", "-v"], "volume": ["volume", "rm", "-f"],
                      "network": ["network", "rm"]}[kind]
                docker(*rm, name, check=False)
                removed.append(name)
    return removed


def _ssh_banner(ip: str) -> bool:
    try:
        with socket.create_connection((ip, 22), timeout=2) as sock:
            sock.settimeout(2)
            return sock.recv(64).startswith(b"SSH-2.0")
    except OSError:
        return False


@dataclass
class Bed:
    workdir: Path
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: ipaddress.IPv4Network | None = None
    server_ip: str = ""
    registry_ip: str = ""
    fingerprint: str = ""
    old_ip: str = ""  # the Debian 12 server, once started
    website_ip: str = ""  # the commune's existing website, once started
    old_fingerprint: str = ""
    key_file: Path | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"kce2e-{self.run}"

    @property
    def server(self) -> str:
        return f"kce2e-{self.run}-server"

    @property
    def registry(self) -> str:
        return f"kce2e-{self.run}-registry"

    @property
    def old_server(self) -> str:
        return f"kce2e-{self.run}-debian12"

    @property
    def server_volume(self) -> str:
        return f"kce2e-{self.run}-server-docker"

    @property
    def website(self) -> str:
        return f"kce2e-{self.run}-website"

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        for name in remove_stale():
            print(f"[kce2e] removed {name}, left by an interrupted run")
        self.subnet = free_subnet()
        hosts = list(self.subnet.hosts())
        gateway, self.registry_ip, self.server_ip = str(hosts[0]), str(hosts[1]), str(hosts[9])
        self.old_ip = str(hosts[10])
        docker("network", "create", "--driver", "bridge", "--subnet", str(self.subnet),
               "--gateway", gateway, "--label", "org.kce2e.run=" + self.run, self.network)
        docker("run", "-d", "--name", self.registry, "--network", self.network,
               "--network-alias", "registry", "--ip", self.registry_ip,
               "-v", f"{REGISTRY_VOLUME}:/var/lib/docker-registry:ro",
               "--label", "org.kce2e.run=" + self.run, f"{PREFIX}registry")
        self.key_file = self.workdir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kce2e",
                        "-f", str(self.key_file)], check=True)
        self.fingerprint = host_fingerprint(f"{PREFIX}server")
        docker("volume", "create", "--label", "org.kce2e.run=" + self.run, self.server_volume)
        flags, command = systemd_flags_and_command()
        docker("create", "--name", self.server, "--hostname", "mairie-srv",
               "--network", self.network, "--ip", self.server_ip,
               "--add-host", f"ghcr.io:{self.registry_ip}", *NESTED_DOCKER, *flags,
               "-v", f"{self.server_volume}:/var/lib/docker",
               "--label", "org.kce2e.run=" + self.run, f"{PREFIX}server", *command)
        self._authorize(self.server)
        docker("start", self.server)
        self.wait_ready(engine=False)
        self.timings.append(("test bed: registry + server container up",
                             time.monotonic() - started))

    def _authorize(self, container: str) -> None:
        assert self.key_file is not None
        pub = self.key_file.with_suffix(".pub")
        docker("cp", str(pub), f"{container}:/home/{SERVER_USER}/.ssh/authorized_keys")

    def start_debian12(self) -> None:
        """A real Debian 12 server beside the fresh one (sshd, sudo, the same account)."""
        started = time.monotonic()
        self.old_fingerprint = host_fingerprint(f"{PREFIX}server-debian12")
        docker("create", "--name", self.old_server, "--hostname", "vieux-srv",
               "--network", self.network, "--ip", self.old_ip,
               "--label", "org.kce2e.run=" + self.run, f"{PREFIX}server-debian12")
        self._authorize(self.old_server)
        docker("start", self.old_server)
        deadline = time.monotonic() + 60
        while not _ssh_banner(self.old_ip):
            if time.monotonic() > deadline:
                raise RuntimeError("Debian 12 server: no SSH banner after 60 s")
            time.sleep(0.3)
        self.timings.append(("test bed: Debian 12 server up", time.monotonic() - started))

    def stop_debian12(self) -> None:
        docker("rm", "-f", "-v", self.old_server, check=False)

    def start_website(self, domain: str) -> str:
        """A commune's existing website, elsewhere than the server (another address of the
        bed's network): the bed's real Caddy (kce2e/caddy) serving a static folder,
        /srv/www, over HTTPS for ``domain`` with its own internal authority (the test
        trusts its root, as browsers trust a public one). Returns its address."""
        assert self.subnet is not None
        started = time.monotonic()
        self.website_ip = str(list(self.subnet.hosts())[19])
        caddyfile = (f"{{\n\tlocal_certs\n\tskip_install_trust\n}}\n{domain} {{\n"
                     "\theader /.well-known/matrix/* Access-Control-Allow-Origin \"*\"\n"
                     "\theader /.well-known/matrix/* Content-Type application/json\n"
                     "\troot * /srv/www\n\tfile_server\n}\n")
        docker("create", "--name", self.website, "--hostname", "site-web",
               "--network", self.network, "--ip", self.website_ip,
               "--label", "org.kce2e.run=" + self.run, f"{PREFIX}caddy")
        docker("start", self.website)
        self.website_put("Caddyfile", caddyfile, root="/etc/caddy")
        self.website_put("index.html", f"<title>Mairie — {domain}</title>\n")
        docker("restart", "-t", "5", self.website)
        deadline = time.monotonic() + 60
        while not self.website_ca():
            if time.monotonic() > deadline:
                raise RuntimeError("website: no certificate after 60 s\n" + docker(
                    "logs", "--tail", "30", self.website, check=False).stderr[-3000:])
            time.sleep(0.3)
        self.timings.append(("test bed: website up", time.monotonic() - started))
        return self.website_ip

    def website_put(self, path: str, text: str, *, root: str = "/srv/www") -> None:
        """What the website's webmaster does: a file put on the site (its folders made)."""
        target = f"{root}/{path}"
        docker("exec", "-i", self.website, "sh", "-c",
               f'mkdir -p "$(dirname {shlex.quote(target)})" && cat > {shlex.quote(target)}',
               stdin=text)

    def website_ca(self) -> str:
        """The root certificate of the website's own authority ("" until it has one)."""
        out = docker("exec", self.website, "cat",
                     "/data/caddy/pki/authorities/local/root.crt", check=False)
        return out.stdout if "BEGIN CERTIFICATE" in out.stdout else ""

    def sh_in(self, container: str, script: str, *,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        """A shell script as root in one of the bed's containers (the test's own look)."""
        return docker("exec", container, "sh", "-c", script, check=check)

    def wait_ready(self, timeout: float = 180, *, engine: bool = True) -> None:
        """systemd has booted (running), sshd answers with its banner and, with ``engine``,
        the Docker engine that kit-collab's bootstrap installed is up again."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if _ssh_banner(self.server_ip):
                    boot = self.sh("systemctl is-system-running", check=False).stdout.strip()
                    up = boot in ("running", "degraded")  # degraded: named below
                    info = self.sh("docker info --format '{{.ServerVersion}}'",
                                   check=False) if engine and up else None
                    if up and (info is None or info.returncode == 0):
                        if boot == "degraded":
                            failed = self.sh("systemctl --failed --no-legend --plain",
                                             check=False).stdout.strip()
                            print(f"[kce2e] server booted degraded: {failed}", flush=True)
                        return
                    last = f"systemd: {boot}" + (f"; {info.stderr.strip()}" if info else "")
            except (OSError, RuntimeError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"server container not ready after {timeout:.0f} s: {last}\n"
                           f"{self.logs()}")

    def docker_restart(self, timeout: int = 120) -> None:
        """A reboot of the server: systemd shuts down (the image's stop signal), Docker stops
        its containers; at boot systemd starts sshd and Docker, whose restart policies bring
        the services back."""
        docker("restart", "-t", str(timeout), self.server, timeout=timeout + 120)

    def replace_server(self, host_index: int = 11) -> None:
        """The server lost with its Docker volume, and a new fresh one (same image: sshd,
        sudo, nothing else) started at another address of the bed's network (restore)."""
        assert self.subnet is not None
        started = time.monotonic()
        docker("rm", "-f", "-v", self.server, timeout=180)
        docker("volume", "rm", "-f", self.server_volume)
        self.server_ip = str(list(self.subnet.hosts())[host_index])
        docker("volume", "create", "--label", "org.kce2e.run=" + self.run, self.server_volume)
        flags, command = systemd_flags_and_command()
        docker("create", "--name", self.server, "--hostname", "mairie-srv-neuf",
               "--network", self.network, "--ip", self.server_ip,
               "--add-host", f"ghcr.io:{self.registry_ip}", *NESTED_DOCKER, *flags,
               "-v", f"{self.server_volume}:/var/lib/docker",
               "--label", "org.kce2e.run=" + self.run, f"{PREFIX}server", *command)
        self._authorize(self.server)
        docker("start", self.server)
        self.wait_ready(engine=False)
        self.timings.append(("test bed: server replaced by a new one",
                             time.monotonic() - started))

    @property
    def gateway_ip(self) -> str:
        """This machine's address on the bed's network (a host process serving the bed)."""
        assert self.subnet is not None
        return str(next(self.subnet.hosts()))

    # -- inside the server -------------------------------------------------------------------

    def sh(self, script: str, *, check: bool = True, timeout: float = 300,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell script as root in the server container (the test's own look at it,
        not kit-collab's way in: kit-collab goes through SSH)."""
        interactive = ["-i"] if stdin is not None else []
        return docker("exec", *interactive, self.server, "sh", "-c", script, check=check,
                      timeout=timeout, stdin=stdin)

    def compose(self, project: str, *args: str, stdin: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """`docker compose` on a commune's deployed project, in the server."""
        file = f"/opt/kit-collab/communes/{project}/current/compose.yaml"
        return self.sh(" ".join(["docker", "compose", "-p", shlex.quote(project), "-f",
                                 shlex.quote(file), *map(shlex.quote, args)]),
                       stdin=stdin, check=check)

    def secrets_json(self, slug: str, root: str = "/opt/kit-collab") -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.sh(f"cat {root}/communes/{slug}/secrets/secrets.json").stdout)
        return found

    def containers(self, project: str) -> dict[str, dict[str, str]]:
        """Service -> {id, state, health, started} of a compose project in the server."""
        fmt = ('{{.ID}}|{{index .Config.Labels "com.docker.compose.service"}}|'
               '{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|'
               '{{.State.StartedAt}}')
        ids = self.sh(f"docker ps -aq --filter label=com.docker.compose.project={project}")
        out: dict[str, dict[str, str]] = {}
        if ids.stdout.split():
            lines = self.sh(f"docker inspect --format '{fmt}' {' '.join(ids.stdout.split())}")
            for line in lines.stdout.splitlines():
                cid, service, state, health, started = line.split("|")
                out[service] = {"id": cid, "state": state, "health": health,
                                "started": started}
        return out

    def logs(self) -> str:
        out = docker("logs", "--tail", "60", self.server, check=False)
        return (out.stdout + out.stderr)[-4000:]

    def diagnostics(self, project: str) -> str:
        """What to read when a phase fails: the server's compose projects and last logs."""
        parts = [f"--- server container log\n{self.logs()}"]
        for script in ("docker ps -a --format '{{.Names}} {{.Image}} {{.Status}}'",
                       f"cd /opt/kit-collab/communes/{project}/current 2>/dev/null && "
                       f"docker compose -p {project} logs --no-color --tail 25",
                       "systemctl --failed --no-pager; cat /etc/docker/daemon.json; "
                       "journalctl -u docker -n 20 --no-pager"):
            result = self.sh(script, check=False, timeout=120)
            parts.append(f"--- {script}\n{result.stdout[-6000:]}{result.stderr[-2000:]}")
        return "\n".join(parts)

    # -- the end -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Remove everything this bed started, by name (each step even if another fails)."""
        started = time.monotonic()
        for args in (["rm", "-f", "-v", self.server], ["rm", "-f", "-v", self.old_server],
                     ["rm", "-f", "-v", self.website],
                     ["rm", "-f", "-v", self.registry],
                     ["volume", "rm", "-f", self.server_volume],
                     ["network", "rm", self.network]):
            with contextlib.suppress(Exception):
                docker(*args, check=False, timeout=180)
        self.timings.append(("test bed: removed", time.monotonic() - started))


@contextlib.contextmanager
def running_bed(workdir: Path) -> Iterator[Bed]:
    bed = Bed(workdir)
    try:
        bed.start()
        yield bed
    finally:
        bed.stop()


def env_for_cli(workdir: Path, snapshot: Path | None = None) -> dict[str, str]:
    """The environment of the kit-collab subprocesses: a known_hosts of the test's own, a
    log folder, French messages, non-interactive; with ``snapshot``, kit-collab's code and
    recipes as they were when the session started (see conftest.kit_snapshot)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_COLLAB_")}
    env.update({"KIT_COLLAB_KNOWN_HOSTS": str(workdir / "known_hosts"),
                "KIT_COLLAB_LOG_DIR": str(workdir / "logs"), "CI": "1",
                "COLUMNS": "160", "PYTHONUNBUFFERED": "1"})
    if snapshot is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(snapshot / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
        env["KIT_COLLAB_RECIPES"] = str(snapshot)
    return env
