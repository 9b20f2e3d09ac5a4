#!/bin/sh
# kce2e: Prosody answers over HTTP (its websocket endpoint answers a plain GET).
exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${PROSODY_HTTP_PORT:-5280}/xmpp-websocket"
