set -eu
umask 022
C=/opt/kit-collab/communes/saint-essai-fr; R=/opt/kit-collab; REL=r-1; BASE=''
NEW="$C/releases/$REL.partial"
mkdir -p "$C/releases"
rm -rf "$NEW"; mkdir -p "$NEW"
if [ -n "$BASE" ] && [ -d "$C/releases/$BASE" ]; then cp -a "$C/releases/$BASE/." "$NEW/"; fi
cd "$NEW"; cd "$R"
tar -x -f - -C "$R"
rm -rf "$C/releases/$REL"; mv "$NEW" "$C/releases/$REL"
echo uploaded
