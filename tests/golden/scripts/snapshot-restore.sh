set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; F="$C/"avant-r-2
mp() { docker volume inspect --format '{{.Mountpoint}}' "$1"; }
[ -f "$F/snapshot.json" ] || { echo snapshot-missing; exit 9; }
back() { docker compose -p "$S" -f "$C/releases/"r-1/compose.yaml "$@"; }
[ -f "$C/releases/"r-1/compose.yaml ]
running=$(docker ps -q --filter "label=com.docker.compose.project=$S")
for c in $running; do docker stop -t 30 "$c" >/dev/null; done
if ! docker volume inspect saint-essai-fr_nextcloud_html >/dev/null 2>&1; then
  docker volume create --label com.docker.compose.project="$S" \
    --label com.docker.compose.volume=nextcloud_html saint-essai-fr_nextcloud_html >/dev/null
fi
m=$(mp saint-essai-fr_nextcloud_html); [ -d "$m" ] || { echo 'volume-missing nextcloud_html'; exit 1; }
find "$m" -mindepth 1 -delete
tar -C "$m" --numeric-owner -xpf "$F/volumes/"nextcloud_html.tar
ids=$(docker ps -aq --filter volume=saint-essai-fr_nextcloud_db)
for c in $ids; do docker rm -f "$c" >/dev/null; done
if docker volume inspect saint-essai-fr_nextcloud_db >/dev/null 2>&1; then docker volume rm saint-essai-fr_nextcloud_db >/dev/null; fi
back up -d --no-deps nextcloud-db </dev/null
n=0; until back exec -T nextcloud-db pg_isready -q -h 127.0.0.1 -U nextcloud -d nextcloud </dev/null; do
  n=$((n + 1)); [ "$n" -lt 120 ] || { echo 'base-not-ready nextcloud-db'; exit 1; }
  sleep 1
done
back exec -T nextcloud-db psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U nextcloud \
  -d nextcloud < "$F/postgres/"nextcloud-db.sql >/dev/null
echo snapshot-restored
