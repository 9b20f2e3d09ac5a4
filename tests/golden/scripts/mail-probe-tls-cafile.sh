command -v curl >/dev/null 2>&1 || { echo "curl-exit=90"; exit 0; }
code=0
curl --connect-timeout 10 --max-time 40 -sS --cacert 'x'"'"'; rm -rf / #$(id)`id`' --config - --request NOOP smtps://smtp.exemple.fr:465 2>&1 || code=$?
echo "curl-exit=$code"
