set -eu
umask 022
C=/opt/kit-collab/communes/saint-essai-fr; R=/opt/kit-collab; REL=r-2; BASE=r-1
NEW="$C/releases/$REL.partial"
mkdir -p "$C/releases"
rm -rf "$NEW"; mkdir -p "$NEW"
if [ -n "$BASE" ] && [ -d "$C/releases/$BASE" ]; then cp -a "$C/releases/$BASE/." "$NEW/"; fi
cd "$NEW"; rm -f -- nextcloud/old.conf 'a b'; cd "$R"
tar -x -f - -C "$R"
rm -rf "$C/releases/$REL"; mv "$NEW" "$C/releases/$REL"
echo uploaded
