set -eu
umask 077
K=/opt/kit-collab/communes/saint-essai-fr/secrets
mkdir -p "$K"; chmod 700 "$K"
cat > /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl.new
if [ -s /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl.new ]; then
  chmod 600 /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl.new; mv /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl.new /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl; echo alerte-configuree
else
  rm -f /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl.new /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl; echo alerte-retiree
fi
