set -eu
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC1091  # the server's own file, read there
. /etc/os-release
case "$ID:$VERSION_ID" in debian:13|ubuntu:24.04) ;;
  *) echo "unsupported-os=$ID $VERSION_ID"; exit 3 ;; esac
case "$ID" in debian) cp=docker-compose ;; ubuntu) cp=docker-compose-v2 ;; esac
need=""
command -v docker >/dev/null || need="$need docker.io"
docker compose version >/dev/null 2>&1 || need="$need $cp"
command -v ufw >/dev/null || need="$need ufw"
dpkg -s unattended-upgrades >/dev/null 2>&1 || need="$need unattended-upgrades"
command -v restic >/dev/null || need="$need restic"  # backups (apply/scripts/backup.py)
# shellcheck disable=SC2086  # $need is a list of package names, split on purpose
if [ -n "$need" ]; then apt-get update -q && apt-get install -y -q $need; fi
if [ -d /run/systemd/system ]; then
  systemctl enable --now docker.service >/dev/null 2>&1 || { echo "docker-start-failed"; exit 3; }
elif ! docker info >/dev/null 2>&1; then
  service docker start >/dev/null 2>&1 || { echo "docker-start-failed"; exit 3; }
fi
for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || { echo "docker-start-failed"; exit 3; }
cv=$(docker compose version --short 2>/dev/null) || cv=""
[ -n "$cv" ] || { echo "no-compose-v2"; exit 3; }
printf '%s\n%s\n' 2.20 "${cv#v}" | sort -C -V || { echo "compose-too-old=$cv"; exit 3; }
printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' > /etc/apt/apt.conf.d/20auto-upgrades
mkdir -p /etc/docker
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != '{"registry-mirrors": ["http://miroir.local:5000"]}' ]; then
  printf '%s\n' '{"registry-mirrors": ["http://miroir.local:5000"]}' > /etc/docker/daemon.json
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl restart docker || { echo "docker-restart-failed"; exit 3; }; else service docker restart || { echo "docker-restart-failed"; exit 3; }; fi
  for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info --format '{{json .RegistryConfig.Mirrors}}' | grep -qF http://miroir.local:5000 || { echo "mirror-not-applied"; exit 3; }
fi
ufw default deny incoming >/dev/null; ufw default allow outgoing >/dev/null
ufw allow 2222/tcp comment kit-collab >/dev/null

ufw --force enable >/dev/null
mkdir -p /opt/kit-collab/communes /opt/kit-collab/proxy
echo 1 > /opt/kit-collab/.bootstrap
echo bootstrapped
