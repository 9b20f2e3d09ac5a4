# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; R="$C/.restauration"; K="$C/secrets"
cur=$(basename "$(readlink "$C/current" 2>/dev/null)" 2>/dev/null || true)
echo "current=$cur"
if [ -s "$C/restauration.json" ]; then echo "marker=$(tr -d '\n' < "$C/restauration.json")"; fi
if [ -s "$C/secrets/sauvegarde.env" ]; then echo settings=yes; else echo settings=no; exit 0; fi
if ! command -v restic >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q restic >/dev/null 2>&1; } \
    || { echo no-restic; exit 20; }
fi
[ -s "$K/sauvegarde.env" ] || { echo no-settings; exit 21; }
set -a
# shellcheck disable=SC1091  # the server's own file, written by kit-collab
. "$K/sauvegarde.env"
set +a
unset KIT_COLLAB_DESTINATION
r() { restic "$@"; }
printf 'snapshots='
rc=0; r snapshots --json --host "$S" 2>"$C/.restic-err" || rc=$?
if [ "$rc" != 0 ]; then
  echo 'restic-failed snapshots' "code=$rc"; tail -n 5 "$C/.restic-err"; rm -f "$C/.restic-err"
  exit 22
fi
rm -f "$C/.restic-err"
echo
