set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; K="$C/secrets"
mkdir -p "$K" "$C/sauvegarde/staging/postgres"
chmod 700 "$K" "$C/sauvegarde"
if [ ! -s "$K/restic.pass" ]; then
  pw=$(tr -dc 'a-z0-9' </dev/urandom | head -c 32)
  [ "${#pw}" = 32 ] || { echo no-random; exit 1; }
  printf '%s\n' "$pw" > "$K/restic.pass.tmp"; mv "$K/restic.pass.tmp" "$K/restic.pass"
fi
cat > "$K/sauvegarde.env.new"
if [ -s "$K/sauvegarde.env.new" ]; then
  mv "$K/sauvegarde.env.new" "$K/sauvegarde.env"
else
  rm -f "$K/sauvegarde.env.new"
  grep -qxF 'KIT_COLLAB_DESTINATION='"'"'sftp sftp:sauv@nas:/srv/c'"'"'' "$K/sauvegarde.env" 2>/dev/null || { echo credentials-missing; exit 25; }
fi
chmod 600 "$K/restic.pass" "$K/sauvegarde.env"
[ -s "$K/sauvegarde_ssh" ] || ssh-keygen -q -t ed25519 -N '' -C kit-collab-sauvegarde -f "$K/sauvegarde_ssh"
if [ ! -s "$K/sauvegarde_known_hosts" ]; then
  ssh-keyscan -p 22 -T 10 nas 2>/dev/null > "$K/sauvegarde_known_hosts.tmp" || true
  [ -s "$K/sauvegarde_known_hosts.tmp" ] || { echo host-key-unreadable; exit 21; }
  mv "$K/sauvegarde_known_hosts.tmp" "$K/sauvegarde_known_hosts"
fi
printf 'cle-publique %s\n' "$(cat "$K/sauvegarde_ssh.pub")"
echo configured
