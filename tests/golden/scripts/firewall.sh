set -eu
if ! command -v ufw >/dev/null 2>&1; then echo "firewall=absent"; exit 0; fi
exec 7>/opt/kit-collab/.firewall.lock
flock -w 600 7
F=/opt/kit-collab/communes/saint-essai-fr/pare-feu
printf '%s\n' 3478/udp 49160:49259/udp > "$F.nouveau"
mv -f "$F.nouveau" "$F"
wanted=$({ printf '%s\n' 22/tcp 80/tcp 443/tcp 443/udp; cat /opt/kit-collab/communes/*/pare-feu 2>/dev/null || true; } | grep -E '^[0-9]{1,5}(:[0-9]{1,5})?/(tcp|udp)$' | sort -u)
have=$(ufw show added | sed -n "s/^ufw allow \([0-9:]*\/[a-z]*\) comment 'kit-collab'$/\1/p" | sort -u)
for r in $wanted; do
  if ! printf '%s\n' "$have" | grep -qxF "$r"; then ufw allow "$r" comment kit-collab >/dev/null; echo "opened=$r"; fi
done
for r in $have; do
  [ "$r" = 22/tcp ] && continue
  if ! printf '%s\n' "$wanted" | grep -qxF "$r"; then ufw delete allow "$r" >/dev/null; echo "closed=$r"; fi
done
flock -u 7
echo "firewall=ok"
