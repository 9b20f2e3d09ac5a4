set -u
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
CONF=/srv/ssh/sshd_config
DIR=$(sed -n 's|^[[:space:]]*[Ii]nclude[[:space:]][[:space:]]*\(/[^[:space:]]*\)/\*\.conf[[:space:]]*$|\1|p' "$CONF" | head -n 1)
if [ -z "$DIR" ]; then echo dropin=no-include; exit 6; fi
rm -f "$DIR"/00-kit-collab-sans-mot-de-passe.conf
if [ "$CONF" = /etc/ssh/sshd_config ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service
else
  PIDFILE=$("$SSHD" -T -f "$CONF" 2>/dev/null | awk '$1 == "pidfile" {print $2}')
  kill -HUP "$(cat "${PIDFILE:-/run/sshd.pid}")"
fi
echo dropin=removed
