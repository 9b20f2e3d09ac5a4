"""Stand-ins for the services that cannot run here (no registry holds their images):
Nextcloud, Element Web, Jitsi Meet's web container and Collabora Online. Each answers only
what kit-collab's health checks read, as the real one does. Run as a process, so that a test
can stop it by its PID to play a stopped backend:

    python checkbed_standin.py nextcloud|element|jitsi|collabora PORT [FILE|PUBLIC_URL]

``FILE`` (element): the rendered config.json, served as is; (jitsi): the PUBLIC_URL.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Nextcloud's status.php, as Nextcloud 34 writes it.
NEXTCLOUD_STATUS = {"installed": True, "maintenance": False, "needsDbUpgrade": False,
                    "version": "34.0.2.1", "versionstring": "34.0.2", "edition": "",
                    "productname": "Nextcloud", "extendedSupport": False}
JITSI_INDEX = ('<!DOCTYPE html><html><head><script src="libs/app.bundle.min.js?v=11146">'
               "</script></head><body></body></html>")


def jitsi_config(public_url: str) -> str:
    """config.js as Jitsi web serves it at stable-11146-2: written at start from
    web/rootfs/defaults/system-config.js (ENABLE_SUBDOMAINS unset, so true; ENABLE_AUTH=1,
    ENABLE_GUESTS=1, ENABLE_XMPP_WEBSOCKET=1, XMPP_DOMAIN meet.jitsi), then served by nginx
    with SSI on (web/rootfs/defaults/meet.conf), which fills ``subdir`` with "" on the root
    path. Only the lines kit-collab's checks and the browser's XMPP connection read."""
    host = public_url.removeprefix("https://").rstrip("/")
    return ("// Jitsi Meet configuration.\n"
            "var config = {};\n\n"
            "config.hosts = {};\n"
            "config.hosts.domain = 'meet.jitsi';\n\n"
            "var subdir = '';\n"
            "var subdomain = '';\n"
            "if (subdir.startsWith('<!--')) {\n    subdir = '';\n}\n"
            "config.hosts.muc = 'muc.' + subdomain + 'meet.jitsi';\n\n"
            "config.hosts.anonymousdomain = 'guest.meet.jitsi';\n"
            "config.hosts.authdomain = 'meet.jitsi';\n\n"
            f"config.bosh = 'https://{host}/' + subdir + 'http-bind';\n\n"
            f"config.websocket = 'wss://{host}/' + subdir + 'xmpp-websocket';\n")

# What Prosody's mod_websocket answers to a plain GET.
PROSODY_WEBSOCKET = ("It works! Now point your WebSocket client to this URL to connect to "
                     "Prosody.")
COLLABORA_DISCOVERY = ('<?xml version="1.0" encoding="utf-8"?>\n<wopi-discovery><net-zone '
                       'name="external-http"></net-zone></wopi-discovery>\n')


def routes(kind: str, extra: str | None) -> dict[str, tuple[str, bytes]]:
    if kind == "nextcloud":
        return {"/status.php": ("application/json", json.dumps(NEXTCLOUD_STATUS).encode())}
    if kind == "element":
        assert extra is not None
        return {"/config.json": ("application/json", Path(extra).read_bytes()),
                "/": ("text/html", b"<title>Element</title>")}
    if kind == "jitsi":
        assert extra is not None
        config = jitsi_config(extra)
        return {"/": ("text/html", JITSI_INDEX.encode()),
                "/config.js": ("application/javascript", config.encode()),
                "/xmpp-websocket": ("text/plain", PROSODY_WEBSOCKET.encode())}
    if kind == "collabora":
        return {"/hosting/discovery": ("text/xml", COLLABORA_DISCOVERY.encode())}
    raise SystemExit(f"unknown stand-in {kind}")


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    table = routes(kind, sys.argv[3] if len(sys.argv) > 3 else None)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = table.get(self.path.split("?")[0])
            status, (ctype, body) = (200, found) if found else (404, ("text/plain", b"404"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"ready {kind} {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
