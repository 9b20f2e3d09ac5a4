docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml logs --no-color --tail 20 nextcloud matrix-synapse
