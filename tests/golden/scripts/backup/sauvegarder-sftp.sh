#!/bin/sh
# kit-collab: the backup of commune saint-essai-fr (written by kit-collab install; run by the
# timer and by `kit-collab backup`). Argument: sauvegarder (default) or verifier.
set -u
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; K="$C/secrets"; B="$C/sauvegarde"
W="$B/travail"; mkdir -p "$W" "$B/staging/postgres"
set -a
# shellcheck disable=SC1091  # the server's own file, written by kit-collab
. "$K/sauvegarde.env"
set +a
unset KIT_COLLAB_DESTINATION
export RESTIC_PROGRESS_FPS=1
r() { restic --cache-dir "$B/cache" -o "sftp.command=ssh -i $K/sauvegarde_ssh -o UserKnownHostsFile=$K/sauvegarde_known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -p 2222 sauv@nas.exemple.fr -s sftp" "$@"; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
jstr() { if [ -z "$1" ]; then printf null; else printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's#://[^/@ ]*@#://***@#g')"; fi; }
classify() {
  case "$1" in 12) return 20 ;; 11) return 23 ;; esac
  if grep -qi 'wrong password' "$2"; then return 20; fi
  if grep -qiE 'no space left|insufficient storage|quota exceeded|disk full' "$2"; then return 22; fi
  if grep -qi 'already locked' "$2"; then return 23; fi
  if grep -qiE 'connection refused|no route to host|timeout|no such host|unreachable|connection reset|dial tcp|ssh|sftp|name resolution|EOF' "$2"; then return 21; fi
  return 1
}
alerte() { :; }
case "${1:-sauvegarder}" in
  lister)
    out=$(r snapshots --json --host "$S" --tag kit-collab 2>"$W/lerr") || {
      rc=$?; classify "$rc" "$W/lerr"; code=$?; tail -n 3 "$W/lerr" >&2; exit "$code"; }
    printf 'snapshots %s\n' "$out"
    if [ -f "$B/historique.jsonl" ]; then sed 's/^/historique /' "$B/historique.jsonl"; fi
    exit 0 ;;
  sonder)
    r cat config >/dev/null 2>"$W/serr"; rc=$?
    if [ "$rc" = 0 ]; then echo destination-ok; exit 0; fi
    classify "$rc" "$W/serr"; code=$?
    printf 'destination-echec %s %s\n' "$code" "$(tail -n 1 "$W/serr" | sed 's#://[^/@ ]*@#://***@#g')"
    exit 0 ;;
  verifier)
    exec 9>"$B/.verrou"
    if ! flock -w 7200 9; then echo "sauvegarde-en-cours" >&2; exit 24; fi
debut=$(now)
verified() { printf '{"date": "%s", "ok": %s, "erreur": %s, "partie": "%s"}\n' "$debut" "$1" "$(jstr "$2")" 10% > "$B/verification.json.tmp"
  mv "$B/verification.json.tmp" "$B/verification.json"; }
r check --read-data-subset=10% >"$W/check" 2>&1; rc=$?
if [ "$rc" = 0 ]; then verified true ""; echo verification-ok; exit 0; fi
classify "$rc" "$W/check"; code=$?
al_err="$(grep -iE 'error|fatal' "$W/check" | tail -n 3 | tr '\n' ' ')"; verified false "$al_err"
alerte verification "$code" "$al_err" "$B/verification.json"
echo "verification-echec"; tail -n 5 "$W/check" >&2; exit "$code"
    ;;
  sauvegarder)
    exec 9>"$B/.verrou"
    if ! flock -n 9; then echo "sauvegarde-en-cours" >&2; exit 24; fi ;;
  *) echo "usage: sauvegarder.sh [sauvegarder|verifier|lister|sonder]" >&2; exit 2 ;;
esac
maint=0; REL=""; debut=$(now); t0=$(date +%s)
stop() { if [ "$maint" = 1 ]; then maint=0
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ maintenance:mode --off </dev/null >>"$W/err" 2>&1 || true
fi; }
status() { # ok error snapshot added size
  fin=$(now); duree=$(( $(date +%s) - t0 ))
  printf '{"debut": "%s", "fin": "%s", "duree_s": %s, "ok": %s, "erreur": %s, "snapshot": %s, "octets_ajoutes": %s, "taille": %s, "release": %s, "derniere_reussie": %s}\n' \
    "$debut" "$fin" "$duree" "$1" "$(jstr "$2")" "$(jstr "$3")" "${4:-0}" "${5:-0}" "$(jstr "$REL")" "$(jstr "$6")" > "$B/derniere.json.tmp"
  mv "$B/derniere.json.tmp" "$B/derniere.json"
}
previous_ok() { sed -n 's/.*"derniere_reussie": "\([^"]*\)".*/\1/p' "$B/derniere.json" 2>/dev/null; }
last_ok=$(previous_ok)
A=/var/log/kit-collab/audit.log
audit() { mkdir -p "${A%/*}"; printf '%s %s sauvegarde %s %s\n' "$(now)" "${KC_QUI:-minuterie}" "${REL:-?}" "$1" >> "$A"; }
fail() { rc=${2:-1}; stop
  msg="$1: $(tail -n 3 "$W/err" 2>/dev/null | tr '\n' ' ' | sed 's#://[^/@ ]*@#://***@#g')"
  status false "$msg" "" 0 0 "$last_ok"; audit "echec"; alerte sauvegarde "$rc" "$msg" "$B/derniere.json"; echo "erreur $msg" >&2; exit "$rc"; }
interrupted() { trap - INT TERM HUP; stop; status false interrompue "" 0 0 "$last_ok"; audit interrompue
  alerte sauvegarde 130 interrompue "$B/derniere.json"; exit 130; }
trap interrupted INT TERM HUP
REL=$(basename "$(readlink "$C/current")")
if [ -z "$REL" ] || [ ! -d "$C/releases/$REL" ]; then fail "aucune version installée"; fi
status false en-cours-ou-interrompue "" 0 0 "$last_ok"
: > "$W/err"
r cat config >/dev/null 2>"$W/err"; rc=$?
if [ "$rc" != 0 ]; then
  if [ "$rc" = 10 ] || grep -q 'Is there a repository' "$W/err"; then
    r init >/dev/null 2>"$W/err" || { rc=$?; classify "$rc" "$W/err"; fail "init" $?; }
  else classify "$rc" "$W/err"; fail "depot" $?; fi
fi
r unlock >/dev/null 2>&1 || true
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T matrix-db pg_dump --no-password -U synapse -d synapse </dev/null > "$B/staging/"postgres/matrix-db.sql.tmp 2>>"$W/err" || fail 'dump matrix-db'
mv "$B/staging/"postgres/matrix-db.sql.tmp "$B/staging/"postgres/matrix-db.sql
maint=1
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T -u 33 nextcloud php occ maintenance:mode --on </dev/null >>"$W/err" 2>&1 || fail 'maintenance'
docker compose -p saint-essai-fr -f /opt/kit-collab/communes/saint-essai-fr/current/compose.yaml exec -T nextcloud-db pg_dump --no-password -U nextcloud -d nextcloud </dev/null > "$B/staging/"postgres/nextcloud-db.sql.tmp 2>>"$W/err" || fail 'dump nextcloud-db'
mv "$B/staging/"postgres/nextcloud-db.sql.tmp "$B/staging/"postgres/nextcloud-db.sql
( r backup --json --host "$S" --tag kit-collab --tag commune=saint-essai-fr --tag recette=jitsi@1.0.0+11146 --tag recette=matrix@1.0.0+1.157.1 --tag recette=nextcloud@1.0.0+34.0.2 --tag "release=$REL" \
  /opt/kit-collab/communes/saint-essai-fr/sauvegarde/staging/postgres /var/lib/docker/volumes/saint-essai-fr_jitsi_prosody_data/_data /var/lib/docker/volumes/saint-essai-fr_matrix_data/_data /var/lib/docker/volumes/saint-essai-fr_nextcloud_html/_data /opt/kit-collab/communes/saint-essai-fr/secrets /opt/kit-collab/communes/saint-essai-fr/state.json "$C/releases/$REL" 2>"$W/err"; echo "$?" > "$W/rc" ) | while IFS= read -r l; do
  case "$l" in *'"summary"'*) printf '%s\n' "$l" > "$W/summary" ;; esac
  if [ "${KC_PROGRESS:-0}" = 1 ]; then printf 'progres %s\n' "$l" >&2; fi
done
rc=$(cat "$W/rc" 2>/dev/null || echo 1)
stop
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then classify "$rc" "$W/err"; fail "backup" $?; fi
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,}\"]*\).*/\1/p" "$W/summary"; }
snap=$(field snapshot_id); added=$(field data_added); size=$(field total_bytes_processed)
last_ok=$(now)
status true "" "$snap" "${added:-0}" "${size:-0}" "$last_ok"
audit "ok $snap"
printf '%s\n' "$(cat "$B/derniere.json")" >> "$B/historique.jsonl"
if ! r forget --host "$S" --tag kit-collab --group-by host --keep-daily=7 --keep-weekly=4 --keep-monthly=12 --prune >/dev/null 2>"$W/err"; then
  echo "nettoyage-echec $(tail -n 1 "$W/err")" >&2
fi
rm -f "$B/staging/postgres/"*.sql
echo "sauvegarde-ok $snap"
