set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; F="$C/"'avant-x'"'"'; rm -rf / #$(id)`id`'
mp() { docker volume inspect --format '{{.Mountpoint}}' "$1"; }
P="$F.partial"; stopped=""
need=0
add() {
  m=$(mp "$1") || { echo "volume-missing $1"; exit 1; }
  k=$(du -sk "$m" | cut -f1); need=$((need + k))
}
add saint-essai-fr_nextcloud_db
need=$((need + need / 10 + 204800))
free=$(df -Pk "$C" | awk 'NR==2{print $4}')
if [ "$free" -lt "$need" ]; then echo "no-space need-kb=$need free-kb=$free"; exit 8; fi
cleanup() {
  rc=$?
  if [ "$rc" != 0 ]; then rm -rf "$P"; fi
  for c in $stopped; do docker start "$c" >/dev/null || rc=1; done
  exit "$rc"
}
trap cleanup EXIT
rm -rf "$P"; mkdir -p "$P/postgres" "$P/volumes"
docker compose -p "$S" -f "$C/current/compose.yaml" exec -T nextcloud-db \
  pg_dump --no-password -U nextcloud -d nextcloud </dev/null > "$P/postgres/"nextcloud-db.sql
dump_ok() { [ -s "$P/postgres/$1" ] || { echo "snapshot-unverified $1"; exit 10; }
  tail -n 8 "$P/postgres/$1" | grep -qxF -- '-- PostgreSQL database dump complete' || { echo "snapshot-unverified $1"; exit 10; }
}
tar_ok() { [ -s "$P/volumes/$1" ] || { echo "snapshot-unverified $1"; exit 10; }
  tar -tf "$P/volumes/$1" >/dev/null 2>&1 || { echo "snapshot-unverified $1"; exit 10; }
}
dump_ok nextcloud-db.sql
printf '%s\n' '{
  "de": "r-1",
  "donnees": [
    {
      "base": "nextcloud",
      "recette": "nextcloud",
      "service": "nextcloud-db",
      "utilisateur": "nextcloud",
      "volume_base": "nextcloud_db",
      "volumes": []
    }
  ],
  "release": "x'"'"'; rm -rf / #$(id)`id`"
}' > "$P/snapshot.json"
sync
rm -rf "$F"; mv "$P" "$F"
echo snapshot-taken
