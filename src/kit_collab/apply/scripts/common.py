"""What every script sent to the server shares: quoting, the commune's paths, compose lines.

Builders in this package are pure: they take values and return the text of one POSIX sh
script (one SSH round trip); each parser is a pure function of that script's output. Every
value that reaches a script goes through ``q`` (``shlex.quote``).
"""

from __future__ import annotations

import shlex

from kit_collab.constants import proxy_project

q = shlex.quote


def commune_dir(root: str, slug: str) -> str:
    return f"{root}/communes/{slug}"


def audit_path(root: str) -> str:
    """DESIGN.md's /var/log/kit-collab/audit.log, kept inside the root for other roots."""
    return "/var/log/kit-collab/audit.log" if root == "/opt/kit-collab" else f"{root}/log/audit.log"


def compose(root: str, slug: str, *args: str) -> str:
    """A `docker compose` command on the commune's project, through the stable `current`
    path so that bind mounts do not change with each release. ``args`` are shell words."""
    file = f"{commune_dir(root, slug)}/current/compose.yaml"
    return " ".join(["docker", "compose", "-p", q(slug), "-f", q(file), *args])


def proxy_compose(root: str, *args: str) -> str:
    """A `docker compose` command on the server's shared proxy. ``args`` are shell words."""
    return " ".join(["docker", "compose", "-p", q(proxy_project()), "-f",
                     q(f"{root}/proxy/compose.yaml"), *args])


def proxy_locked(root: str, commands: str) -> str:
    """Run commands holding the server's proxy lock: communes sharing a server serialize on
    the shared proxy (its files and reloads), and on nothing else."""
    return f"""exec 9>{q(root + "/.proxy.lock")}
flock -w 600 9
{commands}
flock -u 9"""


def reload_proxy(root: str) -> str:
    """A graceful Caddy reload (no connection dropped): picks up every commune's site."""
    return proxy_compose(root, "exec", "-T", "caddy", "caddy", "reload", "--config",
                         q(f"{root}/proxy/Caddyfile"), "--adapter", "caddyfile")


def audit_lines(root: str, line: str) -> str:
    """Append one line to the server's audit log (its folder made when missing)."""
    audit = audit_path(root)
    return (f"mkdir -p {q(audit.rsplit('/', 1)[0])}\n"
            f"printf '%s\\n' {q(line)} >> {q(audit)}")
