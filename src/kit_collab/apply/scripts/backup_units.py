"""The systemd units that run a commune's backups by themselves: a nightly timer and a weekly
integrity check, each a oneshot service running ``sauvegarder.sh``.

Read in systemd's own documentation (systemd.timer(5), systemd 252 on Debian 12, 255 on
Ubuntu 24.04, 257 on Debian 13; all three have every option used): ``OnCalendar=`` with
``RandomizedDelaySec=`` spreads the communes of one server over the following hours;
``Persistent=true`` runs a start missed while the server was off at the next boot.
"""

from __future__ import annotations

from kit_collab.apply.scripts.common import commune_dir, q

UNIT_DIR = "/etc/systemd/system"
SPREAD = "2h"  # the nightly start is drawn in the two hours after sauvegardes.heure
CHECK_CALENDAR = "Sun *-*-* 05:00:00"
CHECK_SPREAD = "3h"


def names(slug: str) -> dict[str, str]:
    """The unit file names of a commune's backups."""
    base = f"kit-collab-sauvegarde-{slug}"
    return {"service": f"{base}.service", "timer": f"{base}.timer",
            "check_service": f"{base}-verification.service",
            "check_timer": f"{base}-verification.timer"}


def _service(root: str, slug: str, action: str, what: str) -> str:
    script = f"{commune_dir(root, slug)}/sauvegarde/sauvegarder.sh"
    return f"""[Unit]
Description=kit-collab : {what} de la commune {slug}
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart={script} {action}
Nice=10
IOSchedulingClass=idle
TimeoutStartSec=8h
"""


def _timer(slug: str, calendar: str, spread: str, what: str) -> str:
    return f"""[Unit]
Description=kit-collab : {what} de la commune {slug}

[Timer]
OnCalendar={calendar}
RandomizedDelaySec={spread}
Persistent=true

[Install]
WantedBy=timers.target
"""


def units(root: str, slug: str, hour: str) -> dict[str, str]:
    """Unit file name -> text. ``hour`` is ``HH:MM`` (validated by the profile)."""
    n = names(slug)
    return {
        n["service"]: _service(root, slug, "sauvegarder", "sauvegarde"),
        n["timer"]: _timer(slug, f"*-*-* {hour}:00", SPREAD, "sauvegarde de nuit"),
        n["check_service"]: _service(root, slug, "verifier", "vérification des sauvegardes"),
        n["check_timer"]: _timer(slug, CHECK_CALENDAR, CHECK_SPREAD,
                                 "vérification hebdomadaire des sauvegardes"),
    }


def install(root: str, slug: str, hour: str) -> str:
    """Write the units and enable both timers; on a server without systemd (a test bed),
    nothing is enabled and ``no-systemd`` is said."""
    files = units(root, slug, hour)
    writes = "".join(f"printf '%s' {q(text)} > {q(f'{UNIT_DIR}/{name}')}\n"
                     for name, text in files.items())
    timers = " ".join(q(names(slug)[k]) for k in ("timer", "check_timer"))
    return f"""set -eu
if [ ! -d /run/systemd/system ]; then echo no-systemd; exit 0; fi
{writes}systemctl daemon-reload
systemctl enable --now {timers} >/dev/null 2>&1
echo units-installed
"""


def remove(slug: str) -> str:
    """Stop, disable and delete the commune's backup units (its repository is kept)."""
    n = names(slug)
    timers = " ".join(q(n[k]) for k in ("timer", "check_timer"))
    paths = " ".join(q(f"{UNIT_DIR}/{name}") for name in n.values())
    return f"""set -u
if [ -d /run/systemd/system ]; then
  systemctl disable --now {timers} >/dev/null 2>&1 || true
fi
rm -f {paths}
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo units-removed
"""


def trigger(slug: str) -> str:
    """Start the nightly service now (as the timer would) and wait for it to end."""
    return f"""systemctl start {q(names(slug)["service"])}
"""
