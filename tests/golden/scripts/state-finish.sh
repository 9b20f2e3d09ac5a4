set -eu
C=/opt/kit-collab/communes/saint-essai-fr
umask 077
printf '%s\n' '{
  "note": "x'"'"'; rm -rf / #$(id)`id`",
  "release": "r-2"
}' > "$C/state.json.new" && mv "$C/state.json.new" "$C/state.json"
mkdir -p /var/log/kit-collab
printf '%s\n' '2026-01-01T00:00:00Z moi install r-2 ok' >> /var/log/kit-collab/audit.log
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
# shellcheck disable=SC2010  # release ids are made by kit-collab ([a-z0-9-]); ls -t sorts by age
ls -1t "$C/releases" 2>/dev/null | grep -v -x -e "$cur" | tail -n +4 | while read -r old; do rm -rf "$C/releases/$old"; done
rm -rf "$C/.lock"
echo finished
