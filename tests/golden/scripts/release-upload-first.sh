set -eu
umask 027
C=/opt/kit-collab/communes/saint-essai-fr; R=/opt/kit-collab; REL=r-1; BASE=''
NEW="$C/releases/$REL.partial"; M="$C/releases/$REL.sha256"
mkdir -p "$C/releases"
rm -rf "$NEW" "$M"; mkdir -p "$NEW"
if [ -n "$BASE" ] && [ -d "$C/releases/$BASE" ]; then cp -a "$C/releases/$BASE/." "$NEW/"; fi
cd "$NEW"; cd "$R"
tar -x -f - -C "$R"
incomplete() { echo "upload-incomplete $1"; rm -f "$M"; exit 7; }
[ -f "$M" ] || incomplete manifest
[ "$(sha256sum < "$M" | cut -c1-64)" = abababababababababababababababababababababababababababababababab ] || incomplete manifest
(cd "$NEW" && sha256sum -c --quiet --strict "$M" >/dev/null 2>&1) || incomplete files
[ "$(cd "$NEW" && find . -type f | wc -l)" -eq 3 ] || incomplete count
rm -f "$M"
chmod 0750 "$C" "$C/releases"
OLD="$C/releases/.$REL.old"; rm -rf "$OLD"
if [ -d "$C/releases/$REL" ]; then mv "$C/releases/$REL" "$OLD"; fi
mv "$NEW" "$C/releases/$REL"; rm -rf "$OLD"
echo uploaded
