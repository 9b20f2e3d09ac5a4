set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr
W="$C/"'pg-migration-x'"'"'; rm -rf / #$(id)`id`'; T='saint-essai-fr-x'"'"'; rm -rf / #$(id)`id`-pg18-migration'
OLD='saint-essai-fr_x'"'"'; rm -rf / #$(id)`id`'; NEW='saint-essai-fr_x'"'"'; rm -rf / #$(id)`id`-pg18'
stamp() { echo "t $1 $(date +%s%N)"; }
stamp start
[ "$NEW" != "$OLD" ] || { echo same-volume; exit 1; }
newc() { docker compose -p "$S" -f '/opt/kit-collab/communes/saint-essai-fr/releases/x'"'"'; rm -rf / #$(id)`id`/compose.yaml' "$@"; }
newc config --format json | grep -qF "\"name\": \"$NEW\"" || { echo "volume-not-named $NEW"; exit 1; }
m=$(docker volume inspect --format '{{.Mountpoint}}' "$OLD") || { echo "volume-missing $OLD"; exit 1; }
k=$(du -sk "$m" | cut -f1); echo "old-kb $k"
need=$((2 * k + k / 10 + 204800))
free=$(df -Pk "$C" | awk 'NR==2{print $4}')
if [ "$free" -lt "$need" ]; then echo "no-space need-kb=$need free-kb=$free"; exit 8; fi
rm -rf "$W"; mkdir -p "$W"
cleanup() {
  rc=$?
  docker rm -f "$T" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    if [ "$NEW" != "$OLD" ]; then docker volume rm "$NEW" >/dev/null 2>&1 || true; fi
    docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml start 'x'"'"'; rm -rf / #$(id)`id`' >/dev/null 2>&1 || rc=1
    n=0; until docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T 'x'"'"'; rm -rf / #$(id)`id`' pg_isready -q -h 127.0.0.1 -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' </dev/null; do
      n=$((n + 1)); [ "$n" -lt 180 ] || { rc=1; break; }
      sleep 1
    done
    docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml start 'x'"'"'; rm -rf / #$(id)`id`' b >/dev/null 2>&1 || rc=1
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml stop -t 30 'x'"'"'; rm -rf / #$(id)`id`' b >/dev/null
stamp clients-stopped
printf '%s\n' 'SELECT format('"'"'SELECT %L || '"'"''"'"'|'"'"''"'"' || count(*) FROM %I.%I'"'"',
  n.nspname || '"'"'.'"'"' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = '"'"'r'"'"' AND n.nspname <> '"'"'information_schema'"'"'
  AND n.nspname NOT LIKE '"'"'pg\_%'"'"'
ORDER BY 1 \gexec
' | docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T 'x'"'"'; rm -rf / #$(id)`id`' psql -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' -X -q -At -v ON_ERROR_STOP=1 > "$W/before"
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T 'x'"'"'; rm -rf / #$(id)`id`' pg_dumpall --roles-only --no-password -U 'x'"'"'; rm -rf / #$(id)`id`' </dev/null > "$W/roles.all"
grep -v -E '^(CREATE|ALTER) ROLE "?x'"'"'; rm -rf / #$(id)`id`"?( |;|$)' "$W/roles.all" > "$W/roles.sql" || [ "$?" = 1 ]
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T 'x'"'"'; rm -rf / #$(id)`id`' pg_dump --no-password -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' </dev/null > "$W/dump.sql"
echo "dump-bytes $(wc -c < "$W/dump.sql")"
stamp dumped
if docker volume inspect "$NEW" >/dev/null 2>&1; then docker volume rm "$NEW" >/dev/null; fi
newc run -d --no-deps --name "$T" --label org.kit-collab.pg-migration="$S" 'x'"'"'; rm -rf / #$(id)`id`' </dev/null >/dev/null
n=0; until docker exec "$T" pg_isready -q -h 127.0.0.1 -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`'; do
  n=$((n + 1)); [ "$n" -lt 180 ] || { echo 'not-ready x'"'"'; rm -rf / #$(id)`id`'; docker logs --tail 20 "$T" 2>&1 | sed 's/^/log /'; exit 1; }
  sleep 1
done
stamp initialised
docker exec -i "$T" psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' < "$W/roles.sql" >/dev/null
docker exec -i "$T" psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' < "$W/dump.sql" >/dev/null
stamp restored
docker exec -i "$T" psql -X -q -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' -c ANALYZE </dev/null >/dev/null
printf '%s\n' 'SELECT format('"'"'SELECT %L || '"'"''"'"'|'"'"''"'"' || count(*) FROM %I.%I'"'"',
  n.nspname || '"'"'.'"'"' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = '"'"'r'"'"' AND n.nspname <> '"'"'information_schema'"'"'
  AND n.nspname NOT LIKE '"'"'pg\_%'"'"'
ORDER BY 1 \gexec
' | docker exec -i "$T" psql -U 'x'"'"'; rm -rf / #$(id)`id`' -d 'x'"'"'; rm -rf / #$(id)`id`' -X -q -At -v ON_ERROR_STOP=1 > "$W/after"
stamp counted
awk -F'|' 'NR == FNR { b[$1] = $2; next } { a[$1] = $2 }
END {
  for (t in b) if (!(t in a) || a[t] != b[t]) { print "count-mismatch", t, b[t], ((t in a) ? a[t] : "-"); bad = 1 }
  for (t in a) if (!(t in b)) { print "count-mismatch", t, "-", a[t]; bad = 1 }
  exit bad
}' "$W/before" "$W/after" || exit 10
sed 's/^/rows /' "$W/after"
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml stop -t 30 'x'"'"'; rm -rf / #$(id)`id`' >/dev/null
docker stop -t 60 "$T" >/dev/null
stamp stopped
echo pg-migrated
