"""What the server looks like, read in one round trip: the script and its pure parser."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from kit_collab.apply.scripts import firewall as firewall_script
from kit_collab.apply.scripts.common import commune_dir, q
from kit_collab.bundle import structure
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan import secrets_guard
from kit_collab.plan.facts import Facts
from kit_collab.plan.state import State, from_json


def no_details() -> str:
    """The lock's description when its folder exists without its details file."""
    return tr("verrou sans détails", "lock without details")


def script(root: str, slug: str) -> str:
    """A read-only sh script; every line of its output is ``key=value``."""
    return f"""set -u
R={q(root)}; C={q(commune_dir(root, slug))}; S={q(slug)}
b64() {{ base64 -w0 "$1" 2>/dev/null; }}
# shellcheck disable=SC1091  # the server's own file, read there
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${{ID:-}}"; echo "os_version=${{VERSION_ID:-}}"; echo "arch=$(uname -m)"
echo "mem_kb=$(awk '/^MemTotal:/{{print $2}}' /proc/meminfo)"
d=$R; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_kb=$(df -Pk "$d" | awk 'NR==2{{print $4}}')"; echo "disk_dev=$(stat -c %d "$d")"
dr=$(docker info --format '{{{{.DockerRootDir}}}}' 2>/dev/null || true)
if [ -n "$dr" ] && [ -d "$dr" ]; then echo "docker_kb=$(df -Pk "$dr" | awk 'NR==2{{print $4}}')"; echo "docker_dev=$(stat -c %d "$dr")"; fi
if [ -d "$C" ]; then echo "commune_dir=1"; fi
if command -v ufw >/dev/null 2>&1 && fw=$(ufw show added 2>/dev/null); then printf '%s\n' "$fw" | sed 's/^/ufw=/'; echo "ufw_read=1"; fi
echo "docker=$(docker version --format '{{{{.Server.Version}}}}' 2>/dev/null)"
echo "compose=$(docker compose version --short 2>/dev/null)"
echo "current=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null)"
rel=""; for r in "$C"/releases/*; do [ -d "$r" ] || continue; case "${{r##*/}}" in *.partial) ;; *) rel="$rel${{r##*/}} " ;; esac; done
echo "releases=$rel"
echo "state=$(b64 "$C/state.json")"
sf="$C/secrets/secrets.json"
if [ ! -e "$sf" ]; then st=absent; elif [ ! -r "$sf" ] || [ ! -f "$sf" ]; then st=unreadable; elif [ ! -s "$sf" ]; then st=empty; else st=present; fi
echo "secrets_file=$st"
echo "secrets=$(b64 "$sf")"
echo "lock=$(b64 "$C/.lock/info")"
if [ -d "$C/.lock" ]; then echo "lock_dir=1"; fi
(docker volume ls -q 2>/dev/null || true) | while read -r v; do case "$v" in "${{S}}_"*) echo "volume=$v" ;; esac; done
echo "bootstrap=$(cat "$R/.bootstrap" 2>/dev/null)"
for f in "$R"/communes/*/ports.claim; do [ -f "$f" ] || continue; n=$(basename "$(dirname "$f")"); [ "$n" = "$S" ] || echo "claim=$n $(tr '\\n' ' ' < "$f")"; done
for d in "$R"/communes/*/; do n=$(basename "$d"); [ ! -d "$d" ] || [ "$n" = "$S" ] || echo "commune=$n"; done
for s in "$R"/communes/*/state.json; do [ -f "$s" ] || continue; n=$(basename "$(dirname "$s")"); [ "$n" = "$S" ] || echo "other=$n $(b64 "$s")"; done
echo "daemon=$(b64 /etc/docker/daemon.json)"
if [ -d "$C/current/" ]; then (cd "$C/current/" && find . -type f -exec sha256sum {{}} + | awk '{{print "file=" $1 " " substr($2, 3)}}'); fi
for f in "$C"/current/*/compose.yaml; do [ -f "$f" ] && echo "compose=$(basename "$(dirname "$f")") $(b64 "$f")"; done
for d in "$C"/avant-*; do [ -d "$d" ] && echo "snapshot=${{d##*/avant-}}"; done
for f in "$R"/proxy/*; do [ -f "$f" ] && echo "proxy=$(basename "$f") $(sha256sum < "$f" | cut -c1-64)"; done
(ss -Hlntu 2>/dev/null || true) | awk '{{n=split($5,a,":"); print "port=" $1 " " a[n]}}'
echo "time=$(date -u +%s.%N)"
echo "end=ok"
"""


def _b64json(value: str, what: str) -> Any:
    if not value:
        return {}
    try:
        return json.loads(base64.b64decode(value))
    except (binascii.Error, ValueError):
        raise DeployError(tr(f"fichier {what} illisible sur le serveur",
                             f"unreadable {what} file on the server"),
                          hint=tr("vérifiez-le à la main ; kit-collab ne l'écrase pas",
                                  "check it by hand; kit-collab does not overwrite it")) from None


def _secrets(status: str, encoded: str) -> tuple[dict[str, dict[str, str]], str]:
    """The commune's secrets and, when they cannot be used, why (French, no value in it)."""
    if status == "unreadable":
        return {}, tr("illisible", "unreadable")
    if not encoded:
        return {}, ""
    try:
        data = json.loads(base64.b64decode(encoded))
    except (binascii.Error, ValueError):
        return {}, tr("tronqué ou abîmé (ce n'est pas du JSON)", "truncated or damaged (not JSON)")
    why = secrets_guard.shape_problem(data)
    return ({}, why) if why else (data, "")


def _images(recipe: str, encoded: str) -> dict[str, str]:
    """Service -> image of one recipe's compose file in the current release ({} when it
    cannot be read: its images are then unknown, never guessed)."""
    try:
        doc = yaml.safe_load(base64.b64decode(encoded))
        return {s.name: s.image for s in structure.services(recipe, recipe, doc)}
    except (binascii.Error, ValueError, yaml.YAMLError, AttributeError, TypeError):
        return {}


def _volume_names(encoded: str) -> dict[str, str]:
    """Volume key -> the ``name:`` one recipe's compose file gives it (only those named)."""
    try:
        doc = yaml.safe_load(base64.b64decode(encoded))
        return {str(k): str(v["name"]) for k, v in (doc.get("volumes") or {}).items()
                if isinstance(v, dict) and v.get("name")}
    except (binascii.Error, ValueError, yaml.YAMLError, AttributeError, TypeError):
        return {}


def _int(text: str | None) -> int | None:
    """A number the script printed; None when it is missing or garbled (never a crash:
    ``unlock --force`` reads the facts of servers in any state)."""
    return int(text) if text and text.isdigit() else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass
class _Lines:
    """The script's output sorted by key: plain values, and the keys that repeat."""

    values: dict[str, str] = field(default_factory=dict)
    proxy: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    others: dict[str, State] = field(default_factory=dict)
    claims: dict[str, frozenset[int]] = field(default_factory=dict)
    ports: set[tuple[str, int]] = field(default_factory=set)
    volumes: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    volume_names: dict[str, str] = field(default_factory=dict)
    snapshots: list[str] = field(default_factory=list)
    ufw: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def _other(self, name: str, encoded: str) -> None:
        """Another commune's state: unreadable, it is a warning for this one, never a stop
        (its ports stay held through its ports.claim)."""
        where = f"communes/{name}/state.json"
        try:
            self.others[name] = from_json(_b64json(encoded, where), where)
        except DeployError as exc:
            self.warnings.append(tr(
                f"état de la commune {name} illisible ({exc.message}) : ignoré pour celle-ci",
                f"state of commune {name} unreadable ({exc.message}): ignored for this one"))

    def add(self, key: str, value: str) -> None:
        name, _, rest = value.partition(" ")
        if key == "proxy" and rest:
            self.proxy[name] = rest.strip()
        elif key == "claim" and rest:
            self.claims[name] = frozenset(int(n) for n in rest.split() if n.isdigit())
        elif key == "other" and rest:
            self._other(name, rest.strip())
        elif key == "ufw":
            self.ufw.append(value)
        elif key == "volume" and name:
            self.volumes.append(name)
        elif key == "compose" and rest:
            self.images.update(_images(name, rest.strip()))
            self.volume_names.update(_volume_names(rest.strip()))
        elif key == "snapshot" and name:
            self.snapshots.append(name)
        elif key == "commune" and name:
            self.communes.append(name)
        elif key == "file" and rest:
            self.files[rest] = name  # "file=<sha256> <path>"
        elif key == "port":
            if rest.strip().isdigit():
                self.ports.add(("udp" if name.startswith("udp") else "tcp", int(rest)))
        else:
            self.values[key] = value.strip()


def parse(output: str) -> Facts:
    """Facts from the script's output (pure)."""
    lines = _Lines()
    for line in output.splitlines():
        key, _, value = line.partition("=")
        lines.add(key, value)
    values, proxy, files, ports = lines.values, lines.proxy, lines.files, lines.ports
    others, claims = lines.others, lines.claims
    if values.get("end") != "ok":
        raise DeployError(tr("lecture de l'état du serveur interrompue",
                             "reading the server's state was cut short"))
    lock = base64.b64decode(values.get("lock", "") or b"").decode("utf-8", "replace").strip()
    if not lock and values.get("lock_dir"):
        lock = no_details()
    secrets, problem = _secrets(values.get("secrets_file", ""), values.get("secrets", ""))
    return Facts(
        os_id=values.get("os_id", ""), os_version=values.get("os_version", ""),
        arch=values.get("arch", ""),
        mem_mb=(_int(values.get("mem_kb")) or 0) // 1024,
        disk_free_gb=round((_int(values.get("disk_kb")) or 0) / 1024 / 1024, 1),
        disk_free_kb=_int(values.get("disk_kb")), docker_free_kb=_int(values.get("docker_kb")),
        docker_same_disk=values.get("docker_dev") == values.get("disk_dev"),
        commune_dir=bool(values.get("commune_dir")),
        firewall=firewall_script.parse_added("\n".join(lines.ufw))
        if values.get("ufw_read") else None,
        docker=values.get("docker", ""), compose=values.get("compose", ""),
        current=values.get("current", ""),
        releases=tuple(sorted(values.get("releases", "").split())),
        state=from_json(_b64json(values.get("state", ""), "state.json")),
        secrets=secrets, secrets_file=values.get("secrets_file", ""), secrets_problem=problem,
        volumes=tuple(sorted(lines.volumes)), neighbours=tuple(sorted(lines.communes)),
        warnings=tuple(lines.warnings), lock=lock, proxy_files=proxy, ports_in_use=frozenset(ports),
        server_time=_float(values.get("time", "")),
        release_files=files, others=others, claims=claims, bootstrap_version=values.get("bootstrap", ""),
        daemon=_b64json(values.get("daemon", ""), "/etc/docker/daemon.json"),
        images=lines.images, volume_names=lines.volume_names, snapshots=tuple(sorted(lines.snapshots)),
    )
