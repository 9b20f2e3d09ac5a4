set -eu
C=/opt/kit-collab/communes/saint-essai-fr
(umask 077 && printf '%s\n' '{
  "note": "x'"'"'; rm -rf / #$(id)`id`",
  "release": "r-2"
}' > "$C/state.json.new")
sync "$C/state.json.new" 2>/dev/null || sync
if [ -f "$C/state.json" ]; then cp -p "$C/state.json" "$C/state.json.prev"; fi
mv "$C/state.json.new" "$C/state.json"
mkdir -p /var/log/kit-collab
printf '%s\n' '2026-01-01T00:00:00Z moi install r-2 ok' >> /var/log/kit-collab/audit.log
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
kept() { for k in "$cur" r-1 r-2 'x'"'"'; rm -rf / #$(id)`id`'; do [ "$k" = "$1" ] && return 0; done; return 1; }
for d in "$C"/releases/* "$C"/releases/.*.old; do
  [ -e "$d" ] || continue
  kept "${d##*/}" || rm -rf "$d"
done
rm -rf "$C/.lock"
echo finished
