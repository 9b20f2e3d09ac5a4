set -eu
docker compose --progress plain -f /opt/kit-collab/proxy/compose.yaml pull --policy missing
docker compose --progress plain -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/releases/r-2/compose.yaml pull --policy missing
echo pulled
