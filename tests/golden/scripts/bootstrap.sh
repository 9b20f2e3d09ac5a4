set -eu
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
docker compose version >/dev/null 2>&1 || { echo "no-compose-v2"; exit 3; }
printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' > /etc/apt/apt.conf.d/20auto-upgrades
true
ufw default deny incoming >/dev/null; ufw default allow outgoing >/dev/null
ufw allow 22/tcp comment kit-collab >/dev/null
ufw allow 80/tcp comment kit-collab >/dev/null
ufw allow 443/udp comment kit-collab >/dev/null
ufw allow 10000:10010/udp comment kit-collab >/dev/null
ufw --force enable >/dev/null
mkdir -p /opt/kit-collab/communes /opt/kit-collab/proxy
echo 1 > /opt/kit-collab/.bootstrap
echo bootstrapped
