set -eu
for v in saint-essai-fr_matrix_db 'saint-essai-fr_x'"'"'; rm -rf / #$(id)`id`'; do
  [ -n "$v" ] || continue
  docker volume inspect "$v" >/dev/null 2>&1 || continue
  if [ -n "$(docker ps -aq --filter volume="$v")" ]; then echo "in-use $v"; continue; fi
  docker volume rm "$v" >/dev/null && echo "removed $v"
done
echo pg-pruned
