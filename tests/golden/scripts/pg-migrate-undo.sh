set -eu
OLD=saint-essai-fr_matrix_db; NEW=saint-essai-fr_matrix_db-pg18
[ "$NEW" != "$OLD" ] || { echo same-volume; exit 1; }
ids=$(docker ps -aq --filter volume="$NEW")
for c in $ids; do docker rm -f "$c" >/dev/null; done
if docker volume inspect "$NEW" >/dev/null 2>&1; then docker volume rm "$NEW" >/dev/null; fi
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml up -d --wait --no-deps matrix-db matrix-synapse </dev/null
echo pg-undone
