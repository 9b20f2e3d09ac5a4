"""Small reads over the verified SSH connection: the server's clock, and the root
certificate of the proxy's internal authority."""

from __future__ import annotations

from kit_collab.apply.scripts.common import proxy_compose, q

CLOCK = "date -u +%s.%N"
CADDY_ROOT_CA = "/data/caddy/pki/authorities/local/root.crt"  # in the proxy's data volume


def clock() -> str:
    return CLOCK


def parse_clock(output: str, before: float, after: float) -> tuple[float | None, float]:
    """(server clock minus ours, uncertainty) in seconds, from the output of ``clock()`` run
    between ``before`` and ``after`` (our clock). None when the answer cannot be read."""
    text = output.strip()
    uncertainty = (after - before) / 2
    if not text.replace(".", "", 1).isdigit():  # a date without %N prints "…%N" or "…N"
        text, uncertainty = text.split(".")[0], uncertainty + 1
    if not text.isdigit() and not text.replace(".", "", 1).isdigit():
        return None, uncertainty
    return float(text) - (before + after) / 2, uncertainty


def internal_ca(root: str, path: str = CADDY_ROOT_CA) -> str:
    """Print the proxy's internal root certificate, read from the running Caddy."""
    return proxy_compose(root, "exec", "-T", "caddy", "cat", q(path))


def parse_internal_ca(code: int, output: str) -> str | None:
    return output if code == 0 and "BEGIN CERTIFICATE" in output else None
