set -eu
C=/opt/kit-collab/communes/saint-essai-fr
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml down --remove-orphans || true
rm -f "$C/current" "$C/ports.claim"
rm -rf /opt/kit-collab/proxy/communes/saint-essai-fr
exec 9>/opt/kit-collab/.proxy.lock
flock -w 600 9
docker compose -p kit-collab-proxy -f /opt/kit-collab/proxy/compose.yaml exec -T caddy caddy reload --config /opt/kit-collab/proxy/Caddyfile --adapter caddyfile || true
flock -u 9
echo rolled-back
