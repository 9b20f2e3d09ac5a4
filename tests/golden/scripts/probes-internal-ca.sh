docker compose -p kit-collab-proxy -f /opt/kit-collab/proxy/compose.yaml exec -T caddy cat /data/caddy/pki/authorities/local/root.crt
