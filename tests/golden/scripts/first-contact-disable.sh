set -u
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
CONF=/etc/ssh/sshd_config
DIR=$(sed -n 's|^[[:space:]]*[Ii]nclude[[:space:]][[:space:]]*\(/[^[:space:]]*\)/\*\.conf[[:space:]]*$|\1|p' "$CONF" | head -n 1)
if [ -z "$DIR" ]; then echo dropin=no-include; exit 6; fi
F="$DIR"/00-kit-collab-sans-mot-de-passe.conf
mkdir -p "$DIR"
printf '%s' '# kit-collab : connexion SSH par clé seulement (kit-collab acces)
PasswordAuthentication no
KbdInteractiveAuthentication no
' > "$F.tmp"
chmod 0644 "$F.tmp"
mv -f "$F.tmp" "$F"
if ! CHECK=$("$SSHD" -t -f "$CONF" 2>&1); then
  rm -f "$F"
  if "$SSHD" -t -f "$CONF" >/dev/null 2>&1; then echo sshd-t=dropin; else echo sshd-t=before; fi
  printf '%s\n' "$CHECK" | head -n 5 | sed 's/^/sshd: /'
  exit 4
fi
EFFECT=$("$SSHD" -T -f "$CONF" 2>/dev/null | grep -iE '^(passwordauthentication|kbdinteractiveauthentication) ' | sort | tr '\n' ' ')
if [ "$EFFECT" != "kbdinteractiveauthentication no passwordauthentication no " ]; then
  rm -f "$F"
  echo "effect=$EFFECT"
  exit 5
fi
if [ "$CONF" = /etc/ssh/sshd_config ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service
else
  PIDFILE=$("$SSHD" -T -f "$CONF" 2>/dev/null | awk '$1 == "pidfile" {print $2}')
  kill -HUP "$(cat "${PIDFILE:-/run/sshd.pid}")"
fi
echo dropin="$F"
