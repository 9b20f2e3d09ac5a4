set -eu
C=/opt/kit-collab/communes/saint-essai-fr
(umask 077 && printf '%s\n' '{
  "note": "x'"'"'; rm -rf / #$(id)`id`",
  "release": "r-1"
}' > "$C/state.json.new")
sync "$C/state.json.new" 2>/dev/null || sync
if [ -f "$C/state.json" ]; then cp -p "$C/state.json" "$C/state.json.prev"; fi
mv "$C/state.json.new" "$C/state.json"
echo recorded
