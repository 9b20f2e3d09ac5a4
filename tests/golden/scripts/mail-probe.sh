command -v curl >/dev/null 2>&1 || { echo "curl-exit=90"; exit 0; }
code=0
curl --connect-timeout 10 --max-time 40 -sS --ssl-reqd --config - --request NOOP smtp://smtp.exemple.fr:587 2>&1 || code=$?
echo "curl-exit=$code"
