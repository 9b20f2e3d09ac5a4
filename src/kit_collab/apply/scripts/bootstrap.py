"""Preparing a fresh server (Docker, firewall, automatic updates, registry mirror), and its
known failures read back as one sentence and its fix."""

from __future__ import annotations

import json
from collections.abc import Iterable

from kit_collab.apply.scripts.common import q
from kit_collab.plan.facts import COMPOSE_MIN, COMPOSE_PACKAGE, SUPPORTED_OS, os_refusal

# marker printed by the script -> (message fr, en, fix fr, en)
FAILURES = {
    "no-compose-v2": (
        "Docker Compose v2 introuvable après l'installation", "Docker Compose v2 not found "
        "after installing", "sur le serveur : apt-get install docker-compose (Debian 13) ou "
        "docker-compose-v2 (Ubuntu 24.04), puis relancez", "on the server: apt-get install "
        "docker-compose (Debian 13) or docker-compose-v2 (Ubuntu 24.04), then run again"),
    "docker-start-failed": (
        "le moteur Docker ne démarre pas après son installation", "the Docker engine does "
        "not start after being installed", "sur le serveur : systemctl status docker et "
        "journalctl -u docker, puis relancez", "on the server: systemctl status docker and "
        "journalctl -u docker, then run again"),
    "docker-restart-failed": (
        "Docker n'a pas redémarré après le réglage du miroir de registre", "Docker did not "
        "restart after setting the registry mirror", "sur le serveur : systemctl status "
        "docker (ou service docker status), puis relancez", "on the server: systemctl status "
        "docker (or service docker status), then run again"),
    "mirror-not-applied": (
        "le miroir de registre n'est pas pris en compte par Docker", "Docker does not use "
        "the registry mirror", "vérifiez /etc/docker/daemon.json et serveur.miroir_registre",
        "check /etc/docker/daemon.json and serveur.miroir_registre"),
}


def _mirror_block(mirror: str | None) -> str:
    if not mirror:  # only with a mirror is /etc/docker/daemon.json ours to write
        return "true"
    daemon = json.dumps({"registry-mirrors": [mirror]})
    restart = ('if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null '
               '2>&1; then systemctl restart docker || { echo "docker-restart-failed"; exit 3; '
               '}; else service docker restart || { echo "docker-restart-failed"; exit 3; }; fi')
    return f"""mkdir -p /etc/docker
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != {q(daemon)} ]; then
  printf '%s\\n' {q(daemon)} > /etc/docker/daemon.json
  {restart}
  for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info --format '{{{{json .RegistryConfig.Mirrors}}}}' | grep -qF {q(mirror)} || {{ echo "mirror-not-applied"; exit 3; }}
fi"""


def _packages_block() -> str:
    """Docker and compose v2 from the distribution's own packages (no other repository),
    only what is missing; the engine enabled and started by systemd; compose >= 2.20."""
    systems = "|".join(f"{os_id}:{version}" for os_id, version in sorted(SUPPORTED_OS))
    compose = " ".join(f"{os_id}) cp={pkg} ;;" for os_id, pkg in sorted(COMPOSE_PACKAGE.items()))
    return f"""# shellcheck disable=SC1091  # the server's own file, read there
. /etc/os-release
case "$ID:$VERSION_ID" in {systems}) ;;
  *) echo "unsupported-os=$ID $VERSION_ID"; exit 3 ;; esac
case "$ID" in {compose} esac
need=""
command -v docker >/dev/null || need="$need docker.io"
docker compose version >/dev/null 2>&1 || need="$need $cp"
command -v ufw >/dev/null || need="$need ufw"
dpkg -s unattended-upgrades >/dev/null 2>&1 || need="$need unattended-upgrades"
command -v restic >/dev/null || need="$need restic"  # backups (apply/scripts/backup.py)
# shellcheck disable=SC2086  # $need is a list of package names, split on purpose
if [ -n "$need" ]; then apt-get update -q && apt-get install -y -q $need; fi
if [ -d /run/systemd/system ]; then
  systemctl enable --now docker.service >/dev/null 2>&1 || {{ echo "docker-start-failed"; exit 3; }}
elif ! docker info >/dev/null 2>&1; then
  service docker start >/dev/null 2>&1 || {{ echo "docker-start-failed"; exit 3; }}
fi
for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || {{ echo "docker-start-failed"; exit 3; }}
cv=$(docker compose version --short 2>/dev/null) || cv=""
[ -n "$cv" ] || {{ echo "no-compose-v2"; exit 3; }}
printf '%s\\n%s\\n' {COMPOSE_MIN} "${{cv#v}}" | sort -C -V || {{ echo "compose-too-old=$cv"; exit 3; }}"""


def bootstrap(root: str, version: str, ssh_port: int, open_ports: Iterable[tuple[str, str]],
              mirror: str | None) -> str:
    """Prepare a fresh Debian 13 / Ubuntu 24.04 server: Docker engine and compose v2 from the
    distribution, a firewall that lets in only SSH and the web (the communes' own ports are
    opened by the firewall step, under the lock, on every install), automatic security
    updates, and the registry mirror. Only what is missing is installed."""
    # Commented as kit-collab's: the firewall step (firewall.py) then manages them.
    rules = "\n".join(f"ufw allow {q(f'{port}/{proto}')} comment kit-collab >/dev/null"
                      for port, proto in open_ports)
    return f"""set -eu
export DEBIAN_FRONTEND=noninteractive
{_packages_block()}
printf 'APT::Periodic::Update-Package-Lists "1";\\nAPT::Periodic::Unattended-Upgrade "1";\\n' > /etc/apt/apt.conf.d/20auto-upgrades
{_mirror_block(mirror)}
ufw default deny incoming >/dev/null; ufw default allow outgoing >/dev/null
ufw allow {int(ssh_port)}/tcp comment kit-collab >/dev/null
{rules}
ufw --force enable >/dev/null
mkdir -p {q(root)}/communes {q(root)}/proxy
echo {q(version)} > {q(root)}/.bootstrap
echo bootstrapped
"""


def failure(code: int, output: str) -> tuple[str, str, str, str] | None:
    """The known failure the bootstrap reported (message and fix, French and English)."""
    if code == 0:
        return None
    for line in output.splitlines():
        marker, _, value = line.partition("=")
        if marker == "unsupported-os":
            return os_refusal(value.strip() or "?")
        if marker == "compose-too-old":
            return (f"Docker Compose {value} trop ancien : kit-collab demande la version "
                    f"{COMPOSE_MIN} ou plus récente", f"Docker Compose {value} is too old: "
                    f"kit-collab needs version {COMPOSE_MIN} or newer",
                    "installez Debian 13 ou Ubuntu 24.04, dont les paquets fournissent une "
                    "version récente, ou mettez à jour le paquet de compose",
                    "install Debian 13 or Ubuntu 24.04, whose packages bring a recent "
                    "version, or upgrade the compose package")
    return next((text for marker, text in FAILURES.items() if marker in output), None)
