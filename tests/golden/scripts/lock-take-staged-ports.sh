set -eu
C=/opt/kit-collab/communes/saint-essai-fr
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then cat "$C/.lock/info" 2>/dev/null; exit 4; fi
printf '%s\n' 'x'"'"'; rm -rf / #$(id)`id`' > "$C/.lock/info"
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
if [ "$cur" != '' ]; then echo "current=$cur"; rm -rf "$C/.lock"; exit 5; fi
exec 8>/opt/kit-collab/.ports.lock
flock -w 600 8
for f in /opt/kit-collab/communes/*/ports.claim; do
  if [ ! -f "$f" ] || [ "$f" = "$C/ports.claim" ]; then continue; fi
  for p in 3478 10000 10001; do
    if grep -qx "$p" "$f"; then echo "port=$p"; rm -rf "$C/.lock"; exit 6; fi
  done
done
printf '%s\n' 3478 10000 10001 > "$C/ports.claim"
flock -u 8
exec 9>/opt/kit-collab/.proxy.lock
flock -w 600 9
umask 077
mkdir -p "$C/secrets"; chmod 700 "$C/secrets"
tar -x -f - -C /opt/kit-collab
flock -u 9
echo locked
