set -eu
C=/opt/kit-collab/communes/saint-essai-fr
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo 'verrou sans détails'; fi
  exit 4
fi
if ! { printf '%s\n' 'moi@poste pid=1 install r-1' > "$C/.lock/info.nouveau" \
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }; then
  rm -rf "$C/.lock"; exit 1
fi
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
if [ "$cur" != r-0 ]; then echo "current=$cur"; rm -rf "$C/.lock"; exit 5; fi
echo locked
