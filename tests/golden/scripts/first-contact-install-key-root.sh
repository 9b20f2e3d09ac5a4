set -eu
U=root
if id -u "$U" >/dev/null 2>&1; then
  echo user=present
else
  echo user=absent
  exit 3
fi
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)
GROUP=$(id -gn "$U")
install -d -m 0700 -o "$U" -g "$GROUP" "$HOME_DIR/.ssh"
AK="$HOME_DIR/.ssh/authorized_keys"
touch "$AK"
if grep -qF AAAAC3NzaC1lZDI1NTE5AAAAIKc "$AK"; then
  echo key=present
else
  if [ -n "$(tail -c 1 "$AK")" ]; then echo >> "$AK"; fi
  printf '%s\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc moi@poste' >> "$AK"
  echo key=added
fi
chown "$U:$GROUP" "$AK"
chmod 0600 "$AK"
