set -eu
C=/opt/kit-collab/communes/saint-essai-fr
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo 'verrou sans détails'; fi
  exit 4
fi
if ! { printf '%s\n' 'moi remove r-1' > "$C/.lock/info.nouveau" \
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }; then
  rm -rf "$C/.lock"; exit 1
fi
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml down --remove-orphans || true
mkdir -p /opt/kit-collab/retirees
rm -rf "$C/.lock"
mv "$C" /opt/kit-collab/retirees/saint-essai-fr-20260101-000000
rm -rf /opt/kit-collab/proxy/communes/saint-essai-fr
exec 9>/opt/kit-collab/.proxy.lock
flock -w 600 9
docker compose -p kit-collab-proxy -f /opt/kit-collab/proxy/compose.yaml exec -T caddy caddy reload --config /opt/kit-collab/proxy/Caddyfile --adapter caddyfile || true
flock -u 9
echo removed
