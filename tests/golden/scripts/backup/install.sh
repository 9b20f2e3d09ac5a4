set -eu
umask 077
B=/opt/kit-collab/communes/saint-essai-fr/sauvegarde
mkdir -p "$B"
cat > "$B/sauvegarder.sh.tmp"
chmod 700 "$B/sauvegarder.sh.tmp"
mv "$B/sauvegarder.sh.tmp" "$B/sauvegarder.sh"
echo script-installed 10
