# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; R="$C/.restauration"; K="$C/secrets"
mkdir -p "$C/secrets"; chmod 700 "$C/secrets"
T=$(mktemp -d "$C/.reglages.XXXXXX")
tar -x -f - -C "$T" --no-same-owner --no-same-permissions
for f in restic.pass sauvegarde.env; do
  if [ -f "$T/$f" ]; then chmod 600 "$T/$f"; mv -f "$T/$f" "$C/secrets/$f"; fi
done
rm -rf "$T"
echo settings-written
