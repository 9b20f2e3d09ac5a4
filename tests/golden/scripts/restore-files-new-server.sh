# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; R="$C/.restauration"; K="$C/secrets"
mkdir -p "$C"
if ! mkdir "$C/.lock" 2>/dev/null; then
  if [ -s "$C/.lock/info" ]; then cat "$C/.lock/info"; else echo 'verrou sans détails'; fi
  exit 4
fi
if ! { printf '%s\n' 'x'"'"'; rm -rf / #$(id)`id`' > "$C/.lock/info.nouveau" \
       && sync "$C/.lock/info.nouveau" && mv -f "$C/.lock/info.nouveau" "$C/.lock/info"; }; then
  rm -rf "$C/.lock"; exit 1
fi
trap 'rm -rf "$C/.lock"' EXIT
trap 'exit 143' TERM HUP INT PIPE
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
printf '%s\n' '{"nouveau_serveur": "oui", "release": "r-1", "snapshot": "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"}' > "$C/restauration.json.nouveau"
mv -f "$C/restauration.json.nouveau" "$C/restauration.json"
rm -rf "$R"; mkdir -p "$R"
rc=0; r restore abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 --target "$R" --exclude /var/lib/docker/volumes 2>"$C/.restic-err" || rc=$?
if [ "$rc" != 0 ]; then
  echo 'restic-failed files' "code=$rc"; tail -n 5 "$C/.restic-err"; rm -f "$C/.restic-err"
  exit 22
fi
rm -f "$C/.restic-err"
O="$R"/opt/kit-collab/communes/saint-essai-fr
[ -d "$O/releases/"r-1 ] || { echo "release-missing"; exit 1; }
mkdir -p "$C/secrets" "$C/releases"; chmod 700 "$C/secrets"
for f in "$O/secrets/"* "$O/secrets/".[!.]*; do
  [ -f "$f" ] || continue
  case "${f##*/}" in restic.pass|sauvegarde.env|sauvegarde_ssh|sauvegarde_ssh.pub|sauvegarde_known_hosts) continue ;; esac
  cp -p "$f" "$C/secrets/.restaure"; chmod 600 "$C/secrets/.restaure"
  mv -f "$C/secrets/.restaure" "$C/secrets/${f##*/}"
done
if [ -f "$O/state.json" ]; then cp -p "$O/state.json" "$C/.state.restaure"; mv -f "$C/.state.restaure" "$C/state.json"; fi
if [ ! -d "$C/releases/"r-1 ]; then
  rm -rf "$C/releases/.restaure"; cp -a "$O/releases/"r-1 "$C/releases/.restaure"
  mv "$C/releases/.restaure" "$C/releases/"r-1
fi
ln -sfn releases/r-1 "$C/current.new" && mv -T "$C/current.new" "$C/current"
echo files-restored
