set -u
err="$(mktemp)"
printf '\n@@kc:begin %s\n' lock
cat /opt/kit-collab/communes/saint-essai-fr/.lock/info 2>/dev/null || true </dev/null 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' lock "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' lock.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' lock.err
fi

printf '\n@@kc:begin %s\n' matrix
echo 'secret matrix.bot_password absent' >&2; false 2>"$err"; rc=$?
printf '\n@@kc:end %s %s\n' matrix "$rc"
if [ "$rc" != 0 ]; then
  printf '@@kc:begin %s\n' matrix.err; tail -c 1500 "$err"
  printf '\n@@kc:end %s 0\n' matrix.err
fi

rm -f "$err"
