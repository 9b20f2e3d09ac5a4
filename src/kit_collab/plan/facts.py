"""What the server looks like (data only). The script that reads it and the parser of its
output are in apply/scripts/facts.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan.state import State

# The servers kit-collab installs onto, as /etc/os-release names them (ID, VERSION_ID): Docker
# and compose v2 >= 2.20 come from the distribution's own packages there (Debian 12 has
# compose v1 only). Each with the package that brings compose v2.
SUPPORTED_OS = {("debian", "13"): "Debian 13", ("ubuntu", "24.04"): "Ubuntu 24.04"}
COMPOSE_PACKAGE = {"debian": "docker-compose", "ubuntu": "docker-compose-v2"}
COMPOSE_MIN = "2.20"  # the bundle's compose files use `include:`


def os_refusal(system: str) -> tuple[str, str, str, str]:
    """Why an unsupported system is refused, and what to do (French, English): the
    preflight's finding and the bootstrap's error say the same."""
    names = " ou ".join(SUPPORTED_OS.values())
    old = "debian 12" in system.lower()
    why = (" (Debian 12 n'a que Docker Compose v1)", " (Debian 12 only has Docker Compose v1)"
           ) if old else ("", "")
    return (f"système {system} non pris en charge{why[0]} : kit-collab s'installe sur "
            f"{names} seulement",
            f"system {system} not supported{why[1]}: kit-collab installs on "
            f"{names.replace(' ou ', ' or ')} only",
            f"réinstallez le serveur en {names} depuis le panneau de l'hébergeur : cela "
            "prend quelques minutes",
            f"reinstall the server with {names.replace(' ou ', ' or ')} from the hosting "
            "provider's panel: it takes a few minutes")

MARGIN_KB = 64 * 1024  # beside an upload: staging, state, logs, the previous copies
# Images to pull: their size is not known before asking the registry, so a release that
# changes asks for a fixed minimum on Docker's data root (a Nextcloud image is ~1.3 GiB).
PULL_KB = 2 * 1024 * 1024


@dataclass(frozen=True)
class Facts:
    os_id: str = ""
    os_version: str = ""
    arch: str = ""
    mem_mb: int = 0
    disk_free_gb: float = 0.0
    disk_free_kb: int | None = None  # free under the server root; None when unknown
    docker_free_kb: int | None = None  # free under Docker's data root; None when unknown
    docker_same_disk: bool = True  # both on one file system (their needs add up)
    commune_dir: bool = False  # <root>/communes/<slug> exists
    firewall: frozenset[str] | None = None  # kit-collab's ufw rules; None: ufw absent/unread
    docker: str = ""  # server version, empty when absent
    compose: str = ""  # compose v2 version, empty when absent
    current: str = ""  # release id that `current` points at
    releases: tuple[str, ...] = ()
    state: State = field(default_factory=State)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets_file: str = ""  # absent | empty | unreadable | present (secrets/secrets.json)
    secrets_problem: str = ""  # why the secrets file cannot be used (French), "" when fine
    volumes: tuple[str, ...] = ()  # this commune's Docker volumes (<slug>_*)
    neighbours: tuple[str, ...] = ()  # the other communes' folders on this server
    warnings: tuple[str, ...] = ()  # e.g. another commune's unreadable state.json
    lock: str = ""  # the lock's details, empty when free
    proxy_files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    ports_in_use: frozenset[tuple[str, int]] = frozenset()  # (tcp|udp, port)
    release_files: dict[str, str] = field(default_factory=dict)  # current release: path -> sha256
    others: dict[str, State] = field(default_factory=dict)  # other communes' state.json
    claims: dict[str, frozenset[int]] = field(default_factory=dict)  # other communes' ports
    bootstrap_version: str = ""  # written by the bootstrap step once it succeeded
    clock_skew: float | None = None  # server clock minus ours, in seconds (set by read_facts)
    clock_uncertainty: float = 0.0
    server_time: float | None = None  # the server's clock when it ran the script
    daemon: dict[str, Any] = field(default_factory=dict)  # /etc/docker/daemon.json
    images: dict[str, str] = field(default_factory=dict)  # current release: service -> image
    # current release: compose volume key -> the Docker name its compose file gives it
    volume_names: dict[str, str] = field(default_factory=dict)
    snapshots: tuple[str, ...] = ()  # <release> of each avant-<release> folder (pre-switch data)

    def others_ports(self) -> set[int]:
        """Every host port recorded by the other communes of this server (blocks included)."""
        used: set[int] = {p for claimed in self.claims.values() for p in claimed}
        for state in self.others.values():
            used |= state.host_ports()
        return used

    def others_needs(self, key: str) -> float:
        return sum(s.need(key) for s in self.others.values())

    @property
    def bootstrapped(self) -> bool:
        return bool(self.docker and self.compose)


def _size(kb: int) -> str:
    return f"{kb / 1024 / 1024:.1f} Gio" if kb >= 1024 * 1024 else f"{kb // 1024} Mio"


def check_space(facts: Facts, upload_bytes: int, pulls: bool, root: str) -> None:
    """Refuse, before the lock and the upload, a plan the server's disks cannot hold: the
    upload plus MARGIN_KB under the root, PULL_KB on Docker's data root when images may be
    pulled (added up when both are one file system). Unknown free space is not refused."""
    need_root = (upload_bytes // 1024 + MARGIN_KB) if upload_bytes else 0
    need_docker = PULL_KB if pulls else 0
    checks = [(root, facts.disk_free_kb, need_root)]
    if facts.docker_same_disk:
        checks[0] = (root, facts.disk_free_kb, need_root + need_docker)
    else:
        checks.append((tr("données de Docker", "Docker's data"), facts.docker_free_kb,
                       need_docker))
    for where, free, need in checks:
        if need and free is not None and free < need:
            raise DeployError(
                tr(f"espace disque insuffisant sur le serveur ({where}) : {_size(free)} "
                   f"libres, {_size(need)} nécessaires : rien n'a été changé",
                   f"not enough disk space on the server ({where}): {_size(free)} free, "
                   f"{_size(need)} needed: nothing was changed"),
                hint=tr("libérez de la place (docker image prune, anciens journaux) ou "
                        "agrandissez le disque, puis relancez",
                        "free some space (docker image prune, old logs) or grow the disk, "
                        "then run again"))
