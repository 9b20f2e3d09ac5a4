set -eu
C=/opt/kit-collab/communes/saint-essai-fr
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then cat "$C/.lock/info" 2>/dev/null; exit 4; fi
printf '%s\n' 'moi@poste pid=1 install r-1' > "$C/.lock/info"
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
if [ "$cur" != r-0 ]; then echo "current=$cur"; rm -rf "$C/.lock"; exit 5; fi
echo locked
