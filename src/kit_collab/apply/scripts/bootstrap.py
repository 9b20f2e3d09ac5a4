"""Preparing a fresh server (Docker, firewall, automatic updates, registry mirror), and its
known failures read back as one sentence and its fix."""

from __future__ import annotations

import json
from collections.abc import Iterable

from kit_collab.apply.scripts.common import q

# marker printed by the script -> (message fr, en, fix fr, en)
FAILURES = {
    "unsupported-os": (
        "système du serveur non pris en charge", "server system not supported",
        "installez Debian 12 ou 13, ou Ubuntu 24.04", "install Debian 12 or 13, or Ubuntu 24.04"),
    "no-compose-v2": (
        "Docker Compose v2 introuvable après l'installation", "Docker Compose v2 not found "
        "after installing", "installez le paquet docker-compose-plugin (dépôt de Docker) puis "
        "relancez", "install the docker-compose-plugin package (Docker's repository), then "
        "run again"),
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


def bootstrap(root: str, version: str, ssh_port: int, open_ports: Iterable[tuple[str, str]],
              mirror: str | None) -> str:
    """Prepare a fresh Debian 12 / Ubuntu 24.04 server: Docker engine and compose v2, a
    firewall that lets in only SSH and the web (the communes' own ports are opened by the
    firewall step, under the lock, on every install), automatic security
    updates, and the registry mirror. Only what is missing is installed."""
    # Commented as kit-collab's: the firewall step (firewall.py) then manages them.
    rules = "\n".join(f"ufw allow {q(f'{port}/{proto}')} comment kit-collab >/dev/null"
                      for port, proto in open_ports)
    return f"""set -eu
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC1091  # the server's own file, read there
. /etc/os-release
case "$ID:$VERSION_ID" in debian:12|debian:13|ubuntu:24.04) ;;
  *) echo "unsupported-os=$ID $VERSION_ID"; exit 3 ;; esac
need=""
command -v docker >/dev/null || need="$need docker.io"
docker compose version >/dev/null 2>&1 || need="$need $(apt-cache show docker-compose-v2 >/dev/null 2>&1 && echo docker-compose-v2 || echo docker-compose)"
command -v ufw >/dev/null || need="$need ufw"
dpkg -s unattended-upgrades >/dev/null 2>&1 || need="$need unattended-upgrades"
# shellcheck disable=SC2086  # $need is a list of package names, split on purpose
if [ -n "$need" ]; then apt-get update -q && apt-get install -y -q $need; fi
docker compose version >/dev/null 2>&1 || {{ echo "no-compose-v2"; exit 3; }}
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
    return next((text for marker, text in FAILURES.items() if marker in output), None)
