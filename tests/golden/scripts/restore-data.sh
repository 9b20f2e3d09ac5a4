# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; R="$C/.restauration"; K="$C/secrets"
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo 'verrou sans détails'; fi
  exit 4
fi
if ! { printf '%s\n' moi > "$C/.lock/info.nouveau" \
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }; then
  rm -rf "$C/.lock"; exit 1
fi
trap 'rm -rf "$C/.lock"' EXIT
trap 'exit 143' TERM HUP INT PIPE
[ -s "$K/sauvegarde.env" ] || { echo no-settings; exit 21; }
set -a
# shellcheck disable=SC1091  # the server's own file, written by kit-collab
. "$K/sauvegarde.env"
set +a
unset KIT_COLLAB_DESTINATION
r() { restic "$@"; }
[ -f "$C/current/compose.yaml" ] || { echo "no-current"; exit 1; }
F="$R"/opt/kit-collab/communes/saint-essai-fr/sauvegarde/staging
back() { docker compose -p "$S" -f "$C/current/compose.yaml" "$@"; }
if command -v docker >/dev/null; then
  for c in $(docker ps -q --filter "label=com.docker.compose.project=$S"); do
    docker stop -t 30 "$c" >/dev/null
  done
fi
if ! docker volume inspect "${S}_"nextcloud_html >/dev/null 2>&1; then
  docker volume create --label "com.docker.compose.project=$S" \
    --label com.docker.compose.volume=nextcloud_html "${S}_"nextcloud_html >/dev/null
fi
m=$(docker volume inspect --format '{{.Mountpoint}}' "${S}_"nextcloud_html)
t="${m%/*}/.kit-collab-restauration"; rm -rf "$t"; mkdir -p "$t"
rc=0; r restore abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 --target "$t" --include /var/lib/docker/volumes/saint-essai-fr_nextcloud_html/_data 2>"$C/.restic-err" || rc=$?
if [ "$rc" != 0 ]; then
  echo 'restic-failed volume nextcloud_html' "code=$rc"; tail -n 5 "$C/.restic-err"; rm -f "$C/.restic-err"
  exit 22
fi
rm -f "$C/.restic-err"
find "$m" -mindepth 1 -delete
if [ -d "$t"/var/lib/docker/volumes/saint-essai-fr_nextcloud_html/_data ]; then find "$t"/var/lib/docker/volumes/saint-essai-fr_nextcloud_html/_data -mindepth 1 -maxdepth 1 -exec mv -t "$m" {} +; fi
rm -rf "$t"
if [ -f "$F/postgres/"nextcloud-db.sql ]; then
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
fi
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml up -d --remove-orphans </dev/null
echo data-restored
