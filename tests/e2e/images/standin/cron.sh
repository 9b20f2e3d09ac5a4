#!/bin/sh
# kce2e stand-in for Nextcloud's /cron.sh (substitut): stays up, stops at once on SIGTERM.
trap 'exit 0' TERM INT
echo "kce2e substitut nextcloud-cron: running" >&2
while :; do sleep 60 & wait $!; done
