set -u
R=/opt/kit-collab; C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr
b64() { base64 -w0 "$1" 2>/dev/null; }
# shellcheck disable=SC1091  # the server's own file, read there
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${ID:-}"; echo "os_version=${VERSION_ID:-}"; echo "arch=$(uname -m)"
echo "mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
d=$R; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_kb=$(df -Pk "$d" | awk 'NR==2{print $4}')"; echo "disk_dev=$(stat -c %d "$d")"
dr=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || true)
if [ -n "$dr" ] && [ -d "$dr" ]; then echo "docker_kb=$(df -Pk "$dr" | awk 'NR==2{print $4}')"; echo "docker_dev=$(stat -c %d "$dr")"; fi
if [ -d "$C" ]; then echo "commune_dir=1"; fi
if command -v ufw >/dev/null 2>&1 && fw=$(ufw show added 2>/dev/null); then printf '%s
' "$fw" | sed 's/^/ufw=/'; echo "ufw_read=1"; fi
echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo "compose=$(docker compose version --short 2>/dev/null)"
echo "current=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null)"
rel=""; for r in "$C"/releases/*; do [ -d "$r" ] || continue; case "${r##*/}" in *.partial) ;; *) rel="$rel${r##*/} " ;; esac; done
echo "releases=$rel"
echo "state=$(b64 "$C/state.json")"
sf="$C/secrets/secrets.json"
if [ ! -e "$sf" ]; then st=absent; elif [ ! -r "$sf" ] || [ ! -f "$sf" ]; then st=unreadable; elif [ ! -s "$sf" ]; then st=empty; else st=present; fi
echo "secrets_file=$st"
echo "secrets=$(b64 "$sf")"
echo "lock=$(b64 "$C/.lock/info")"
if [ -d "$C/.lock" ]; then echo "lock_dir=1"; fi
(docker volume ls -q 2>/dev/null || true) | while read -r v; do case "$v" in "${S}_"*) echo "volume=$v" ;; esac; done
echo "bootstrap=$(cat "$R/.bootstrap" 2>/dev/null)"
for f in "$R"/communes/*/ports.claim; do [ -f "$f" ] || continue; n=$(basename "$(dirname "$f")"); [ "$n" = "$S" ] || echo "claim=$n $(tr '\n' ' ' < "$f")"; done
for d in "$R"/communes/*/; do n=$(basename "$d"); [ ! -d "$d" ] || [ "$n" = "$S" ] || echo "commune=$n"; done
for s in "$R"/communes/*/state.json; do [ -f "$s" ] || continue; n=$(basename "$(dirname "$s")"); [ "$n" = "$S" ] || echo "other=$n $(b64 "$s")"; done
echo "daemon=$(b64 /etc/docker/daemon.json)"
if [ -d "$C/current/" ]; then (cd "$C/current/" && find . -type f -exec sha256sum {} + | awk '{print "file=" $1 " " substr($2, 3)}'); fi
for f in "$C"/current/*/compose.yaml; do [ -f "$f" ] && echo "compose=$(basename "$(dirname "$f")") $(b64 "$f")"; done
for d in "$C"/avant-*; do [ -d "$d" ] && echo "snapshot=${d##*/avant-}"; done
for f in "$R"/proxy/*; do [ -f "$f" ] && echo "proxy=$(basename "$f") $(sha256sum < "$f" | cut -c1-64)"; done
(ss -Hlntu 2>/dev/null || true) | awk '{n=split($5,a,":"); print "port=" $1 " " a[n]}'
echo "time=$(date -u +%s.%N)"
echo "end=ok"
