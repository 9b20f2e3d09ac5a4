#!/usr/bin/python3
"""kce2e stand-ins ("substituts") for the services whose images no registry reachable from
this machine holds: Nextcloud, Element Web, Jitsi Meet's web, jicofo and jvb, Collabora.

Each one runs under the image name the recipe pins and answers what kit-collab's HTTPS health
checks and the compose healthchecks read, the way the real service does, and no more; every
HTTP answer carries ``X-Kce2e-Substitut: <kind>``. Where it is cheap, a stand-in also proves
that the rendered configuration fits the real services next to it:
- nextcloud reports ``installed: true`` only once its entrypoint (nextcloud-entrypoint.py) has
  installed it, logging in to its real PostgreSQL and real Redis with the rendered credentials
  (nextcloud.env), as Nextcloud's install would;
- jitsi-web serves /xmpp-websocket from the real Prosody (XMPP_BOSH_URL_BASE), as its nginx does;
- jicofo and jvb are healthy only while they can log in to the real Prosody with their
  rendered passwords (SASL PLAIN), as the real components must.

    standin.py nextcloud|element|jitsi-web|jicofo|jvb|collabora
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Reply = tuple[int, str, bytes]  # status, content type, body
Answer = Callable[[str], Reply | None]


def log(kind: str, text: str) -> None:
    print(f"kce2e substitut {kind}: {text}", file=sys.stderr, flush=True)


def serve(kind: str, port: int, answer: Answer) -> None:
    """HTTP on ``port``; ``answer(path)`` -> (status, content type, body) or None (404)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = answer(self.path.split("?")[0])
            status, ctype, body = found or (404, "text/plain", b"404 (kce2e substitut)\n")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Kce2e-Substitut", kind)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 (in a container)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    log(kind, f"listening on :{port}")
    server.serve_forever()


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        log("config", f"{name} is not set")
        sys.exit(2)
    return value


# ---------------------------------------------------------------------------------------------
# Nextcloud


def nextcloud_config() -> dict[str, str]:
    """The 'key' => value lines of config.php, as the stand-in occ writes it (the entrypoint
    stand-in, nextcloud-entrypoint.py, installs before this server starts, as upstream's does
    before apache)."""
    path = Path("/var/www/html/config/config.php")
    if not path.exists():
        return {}
    return dict(re.findall(r"^\s*'([a-z_.]+)' => '?([^',]*)'?,$", path.read_text(), re.M))


def nextcloud_code_version() -> str:
    path = Path("/var/www/html/version.php")
    found = re.search(r"array\(([\d,\s]+)\)", path.read_text()) if path.exists() else None
    return ".".join(x.strip() for x in found[1].split(",")) if found else ""


def nextcloud() -> None:
    def answer(path: str) -> Reply | None:
        if path == "/status.php":
            config = nextcloud_config()
            version = config.get("version", nextcloud_code_version())
            status = {"installed": config.get("installed") == "true",
                      "maintenance": config.get("maintenance") == "true",
                      "needsDbUpgrade": version != nextcloud_code_version(),
                      "version": version, "versionstring": version.rsplit(".", 1)[0],
                      "edition": "",
                      "productname": "Nextcloud (substitut kce2e)", "extendedSupport": False}
            return 200, "application/json", json.dumps(status).encode()
        if path in ("/", "/index.php", "/login"):
            return 200, "text/html", b"<title>Nextcloud (substitut kce2e)</title>\n"
        return None

    serve("nextcloud", 80, answer)


# ---------------------------------------------------------------------------------------------
# Element Web and Collabora


def element() -> None:
    config = Path("/app/config.json")

    def answer(path: str) -> Reply | None:
        if path == "/config.json" and config.exists():
            return 200, "application/json", config.read_bytes()
        if path in ("/", "/index.html"):
            return 200, "text/html", b"<title>Element (substitut kce2e)</title>\n"
        return None

    serve("element", int(os.environ.get("ELEMENT_WEB_PORT", "80")), answer)


DISCOVERY = ('<?xml version="1.0" encoding="utf-8"?>\n'
             '<wopi-discovery><net-zone name="external-http">'
             '<app name="writer"><action ext="odt" name="edit" '
             'urlsrc="https://{host}/browser/kce2e/cool.html?"/></app>'
             "</net-zone></wopi-discovery>\n")


def collabora() -> None:
    """As coolwsd (CollaboraOnline/online, docker/from-packages/scripts/
    start-collabora-online.sh): nothing listens on 9980 while it starts (proof key, CA
    certificates, the first kit forked: KCE2E_COLLABORA_START_SECONDS), then the discovery,
    and the admin console's pages, which the proxy must not publish."""
    host = env("server_name", "localhost")
    delay = float(os.environ.get("KCE2E_COLLABORA_START_SECONDS", "15"))
    log("collabora", f"starting (ready in {delay:g} s)")
    time.sleep(delay)

    def answer(path: str) -> Reply | None:
        if path == "/hosting/discovery":
            return 200, "text/xml", DISCOVERY.format(host=host).encode()
        if path == "/":
            return 200, "text/plain", b"OK\n"
        if path.startswith("/browser/dist/admin/") or path.startswith(("/cool/adminws",
                                                                         "/cool/getMetrics")):
            return 200, "text/html", b"<title>Admin (substitut kce2e)</title>\n"
        return None

    serve("collabora", 9980, answer)


# ---------------------------------------------------------------------------------------------
# Jitsi Meet


def jitsi_web() -> None:
    public = env("PUBLIC_URL").rstrip("/")
    host = public.split("://", 1)[-1]
    bosh = env("XMPP_BOSH_URL_BASE").rstrip("/")
    if not bosh.startswith("http://"):
        log("jitsi-web", f"XMPP_BOSH_URL_BASE must be http://...: {bosh}")
        sys.exit(2)
    domain = env("XMPP_DOMAIN")
    index = ('<!DOCTYPE html><html><head><title>Jitsi Meet (substitut kce2e)</title>'
             '<script src="libs/app.bundle.min.js?v=11146"></script></head><body></body></html>\n')
    # As the image writes it at stable-11146-2 (web/rootfs/defaults/system-config.js with
    # ENABLE_SUBDOMAINS unset, i.e. true), nginx's SSI filling `subdir` with '' when served:
    # the text "/xmpp-websocket" does not occur in it.
    config = (f"var config = {{}};\nvar subdir = '';\n"
              f"config.hosts = {{ domain: '{domain}', muc: 'muc.{domain}' }};\n"
              f"config.bosh = 'https://{host}/' + subdir + 'http-bind';\n"
              f"config.websocket = 'wss://{host}/' + subdir + 'xmpp-websocket';\n")

    def answer(path: str) -> Reply | None:
        if path in ("/", "/index.html"):
            return 200, "text/html", index.encode()
        if path == "/config.js":
            return 200, "application/javascript", config.encode()
        if path == "/xmpp-websocket":
            # As the web image's nginx: to Prosody's HTTP port.
            try:
                url = f"{bosh}/xmpp-websocket"  # http:// only, checked above
                with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
                    return resp.status, resp.headers.get("Content-Type", "text/plain"), \
                        resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, "text/plain", exc.read()
            except OSError as exc:
                return 502, "text/plain", f"prosody unreachable: {exc}\n".encode()
        return None

    serve("jitsi-web", 8000, answer)


def xmpp_login(server: str, port: int, domain: str, user: str, password: str) -> str:
    """A client login with SASL PLAIN (Prosody here allows it without TLS): '' when it
    succeeds, else what went wrong."""
    try:
        with socket.create_connection((server, port), timeout=5) as sock:
            sock.settimeout(5)

            def until(*markers: bytes) -> bytes:
                data = b""
                while not any(m in data for m in (*markers, b"</stream:stream>")):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data

            opening = (f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
                       "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
            sock.sendall(opening.encode())
            features = until(b"</stream:features>")
            if b"PLAIN" not in features:
                return f"no PLAIN mechanism offered: {features[-200:]!r}"
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            sock.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                         f"{token}</auth>".encode())
            reply = until(b"<success", b"</failure>", b"<failure/>")
            sock.sendall(b"</stream:stream>")
            if b"<success" in reply:
                return ""
            return f"login refused: {reply[:200]!r}"
    except OSError as exc:
        return f"{server}:{port}: {exc}"


def jitsi_component(kind: str, port: int, user: str, password_var: str) -> None:
    server, xmpp_port = env("XMPP_SERVER"), int(env("XMPP_PORT", "5222"))
    domain = env("XMPP_AUTH_DOMAIN")
    password = env(password_var)
    state = {"error": "not tried yet"}

    def watch() -> None:
        while True:
            error = xmpp_login(server, xmpp_port, domain, user, password)
            if error != state["error"]:
                log(kind, f"XMPP login as {user}@{domain}: {error or 'ok'}")
            state["error"] = error
            time.sleep(5 if not error else 2)

    threading.Thread(target=watch, daemon=True).start()
    if kind == "jvb":  # the media port: bound, as the bridge's would be
        media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        media.bind(("0.0.0.0", int(env("JVB_PORT", "10000"))))  # noqa: S104 (in a container)

    def answer(path: str) -> Reply | None:
        if path == "/about/health":
            if state["error"]:
                return 500, "application/json", json.dumps({"error": state["error"]}).encode()
            return 200, "application/json", b"{}"
        return None

    serve(kind, port, answer)


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "nextcloud":
        nextcloud()
    elif kind == "element":
        element()
    elif kind == "collabora":
        collabora()
    elif kind == "jitsi-web":
        jitsi_web()
    elif kind == "jicofo":
        jitsi_component("jicofo", 8888, "focus", "JICOFO_AUTH_PASSWORD")
    elif kind == "jvb":
        jitsi_component("jvb", 8080, os.environ.get("JVB_AUTH_USER", "jvb"),
                        "JVB_AUTH_PASSWORD")
    else:
        sys.exit(f"usage: {sys.argv[0]} nextcloud|element|jitsi-web|jicofo|jvb|collabora")


if __name__ == "__main__":
    main()
