"""What the server looks like (data only). The script that reads it and the parser of its
output are in apply/scripts/facts.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit_collab.plan.state import State


@dataclass(frozen=True)
class Facts:
    os_id: str = ""
    os_version: str = ""
    arch: str = ""
    mem_mb: int = 0
    disk_free_gb: float = 0.0
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
