# shellcheck disable=SC2034  # not every round uses every name
set -eu
umask 077
C=/opt/kit-collab/communes/saint-essai-fr; S=saint-essai-fr; R="$C/.restauration"; K="$C/secrets"
rm -rf "$R" "$C/restauration.json"
mkdir -p /var/log/kit-collab
printf '%s\n' 'x'"'"'; rm -rf / #$(id)`id`' >> /var/log/kit-collab/audit.log
echo restore-finished
