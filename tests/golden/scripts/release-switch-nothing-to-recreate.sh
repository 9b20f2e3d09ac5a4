set -eu
C=/opt/kit-collab/communes/saint-essai-fr
ln -sfn releases/r-2 "$C/current.new" && mv -T "$C/current.new" "$C/current"
P=/opt/kit-collab/proxy/communes/saint-essai-fr; PR=r-2
(umask 022; mkdir -p "$P")
if [ ! -d "$P/$PR" ]; then
  rm -rf "$P/.$PR.new"; (umask 022; cp -R "$C/releases/$PR/proxy" "$P/.$PR.new")
  mv "$P/.$PR.new" "$P/$PR"
fi
ln -sfn "$PR" "$P/current.new" && mv -T "$P/current.new" "$P/current"
for d in "$P"/*; do [ -L "$d" ] || [ -d "$C/releases/${d##*/}" ] || rm -rf "$d"; done
exec 9>/opt/kit-collab/.proxy.lock
flock -w 600 9
docker compose -p kit-collab-proxy -f /opt/kit-collab/proxy/compose.yaml up -d --remove-orphans
flock -u 9
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml up -d --remove-orphans --wait --wait-timeout 300
true
exec 9>/opt/kit-collab/.proxy.lock
flock -w 600 9
docker compose -p kit-collab-proxy -f /opt/kit-collab/proxy/compose.yaml exec -T caddy caddy reload --config /opt/kit-collab/proxy/Caddyfile --adapter caddyfile
flock -u 9
echo up
