set -u
failed=0
out="$(mktemp)"
if OC_PASS='x'"'"'; rm -rf / #$(id)`id`' docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 -e OC_PASS nextcloud php occ status </dev/null >"$out" 2>&1; then echo "task 0 ok"; else echo "task 0 failed"; tail -n 5 "$out"; failed=1; fi
if docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T nextcloud php occ status </dev/null >"$out" 2>&1; then echo "task 1 ok"; else echo "task 1 failed"; tail -n 5 "$out"; failed=1; fi
rm -f "$out"
exit "$failed"
