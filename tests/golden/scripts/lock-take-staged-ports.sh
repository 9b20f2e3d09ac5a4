set -eu
C=/opt/kit-collab/communes/saint-essai-fr
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo 'verrou sans détails'; fi
  exit 4
fi
if ! { printf '%s\n' 'x'"'"'; rm -rf / #$(id)`id`' > "$C/.lock/info.nouveau" \
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }; then
  rm -rf "$C/.lock"; exit 1
fi
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
T=$(mktemp -d /opt/kit-collab/.recu.XXXXXX) || { rm -rf "$C/.lock"; exit 1; }
if ! tar -x -f - -C "$T" || ! (cd "$T" && find . -type f -exec sync {} +); then
  rm -rf "$T" "$C/.lock"; echo "staging=failed"; exit 1
fi
(cd "$T" && find . -type f) | while read -r f; do
  f=${f#./}; d=/opt/kit-collab/$f; mkdir -p "$(dirname "$d")"
  case "$f" in */secrets.json) if [ -s "$d" ]; then ln -f "$d" "$d.precedent"; fi ;; esac
  mv -f "$T/$f" "$d"
done
rm -rf "$T"

flock -u 9
echo locked
