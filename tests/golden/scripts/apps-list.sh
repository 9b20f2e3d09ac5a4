docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ app:list --output=json </dev/null 2>&1
