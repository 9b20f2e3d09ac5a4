set -eu
if [ ! -d /run/systemd/system ]; then echo no-systemd; exit 0; fi
printf '%s' '[Unit]
Description=kit-collab : sauvegarde de la commune saint-essai-fr
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/opt/kit-collab/communes/saint-essai-fr/sauvegarde/sauvegarder.sh sauvegarder
Nice=10
IOSchedulingClass=idle
TimeoutStartSec=8h
' > /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr.service
printf '%s' '[Unit]
Description=kit-collab : sauvegarde de nuit de la commune saint-essai-fr

[Timer]
OnCalendar=*-*-* 02:30:00
RandomizedDelaySec=2h
Persistent=true

[Install]
WantedBy=timers.target
' > /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr.timer
printf '%s' '[Unit]
Description=kit-collab : vérification des sauvegardes de la commune saint-essai-fr
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/opt/kit-collab/communes/saint-essai-fr/sauvegarde/sauvegarder.sh verifier
Nice=10
IOSchedulingClass=idle
TimeoutStartSec=8h
' > /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr-verification.service
printf '%s' '[Unit]
Description=kit-collab : vérification hebdomadaire des sauvegardes de la commune saint-essai-fr

[Timer]
OnCalendar=Sun *-*-* 05:00:00
RandomizedDelaySec=3h
Persistent=true

[Install]
WantedBy=timers.target
' > /etc/systemd/system/kit-collab-sauvegarde-saint-essai-fr-verification.timer
systemctl daemon-reload
systemctl enable --now kit-collab-sauvegarde-saint-essai-fr.timer kit-collab-sauvegarde-saint-essai-fr-verification.timer >/dev/null 2>&1
echo units-installed
