set -u
if [ -d /run/systemd/system ]; then
  systemctl disable --now kit-collab-sauvegarde-saint-essai-fr.timer kit-collab-sauvegarde-saint-essai-fr-verification.timer >/dev/null 2>&1 || true
fi
rm -f /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr.service /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr.timer /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr-verification.service /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr-verification.timer
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo units-removed
