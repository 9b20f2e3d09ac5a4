set -eu
C=/opt/kit-collab/communes/saint-essai-fr
for d in "$C"/avant-*; do
  [ -e "$d" ] || continue
  [ "${d##*/}" = avant-r-2 ] || rm -rf "$d"
done
echo pruned
