docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml ps -a --format json
