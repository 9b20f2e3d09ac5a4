"""The scripts of the first contact with a server (``kit-collab acces``), run as root over the
connection opened with the hosting provider's password, and the parsers of their output.

1. ``account`` tells whether the account kit-collab will use exists;
2. ``install_key`` creates it if asked (with passwordless sudo: kit-collab runs every server
   script as root through ``sudo -n``, it cannot type a password), then adds the public key to
   its ``~/.ssh/authorized_keys``, once;
3. ``disable_passwords`` writes the drop-in that turns SSH password login off, checks the
   whole configuration with ``sshd -t`` (the drop-in is removed at once if it fails, so a
   broken configuration never reaches a reload), checks with ``sshd -T`` that the setting
   is in effect, then reloads sshd; ``enable_passwords`` removes the drop-in again.

Upstream facts (OpenSSH sshd_config(5), Debian 12 openssh-server 1:9.2p1 and Debian 13
1:10.0p1; Ubuntu 24.04 likewise): "for each keyword, the first obtained value will be used";
Debian's /etc/ssh/sshd_config begins with ``Include /etc/ssh/sshd_config.d/*.conf``, whose
files are read in lexical order; cloud images ship ``50-cloud-init.conf`` with
``PasswordAuthentication yes``. The drop-in is therefore named ``00-…``, read first. Password
login means ``PasswordAuthentication`` and ``KbdInteractiveAuthentication`` (PAM's prompts);
``sshd -t`` checks the configuration, ``sshd -T`` prints the values in effect; a reload
(SIGHUP, or ``systemctl reload ssh``) keeps the open sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit_collab.apply.scripts.common import q

DEFAULT_CONFIG = "/etc/ssh/sshd_config"
DROPIN = "00-kit-collab-sans-mot-de-passe.conf"
DROPIN_TEXT = ("# kit-collab : connexion SSH par clé seulement (kit-collab acces)\n"
               "PasswordAuthentication no\n"
               "KbdInteractiveAuthentication no\n")
SUDOERS_DIR = "/etc/sudoers.d"

_SSHD = 'SSHD=$(command -v sshd || echo /usr/sbin/sshd)\n'


def sudoers_file(user: str) -> str:
    return f"{SUDOERS_DIR}/kit-collab-{user}"


def account(user: str) -> str:
    """Prints ``account=present`` or ``account=absent``; for a present account other than
    root, ``sudo=nopasswd`` when sudo lets it do anything without a password (as root,
    ``sudo -l -U`` lists its rules: ``(ALL) NOPASSWD: ALL``), else ``sudo=other``."""
    return f"""U={q(user)}
if id -u "$U" >/dev/null 2>&1; then
  echo account=present
  if [ "$U" != root ]; then
    if sudo -n -l -U "$U" 2>/dev/null | grep -qE 'NOPASSWD: *ALL'; then echo sudo=nopasswd; else echo sudo=other; fi
  fi
else
  echo account=absent
fi
"""


def install_key(user: str, public_key: str, *, create: bool, sudo_rule: bool = False) -> str:
    """Create ``user`` (``create``) with passwordless sudo (also given to an existing account
    with ``sudo_rule``), then add ``public_key`` to its authorized keys unless its key is
    there already. Prints ``user=``, ``sudo=`` and ``key=`` lines; exits 3 when the account
    is absent and not to be created."""
    blob = public_key.split()[1]
    create = create and user != "root"  # root always exists, and needs no sudo rule
    sudo = "" if user == "root" else f"""
if [ "$SUDO_RULE" = 1 ]; then
  mkdir -p {SUDOERS_DIR}
  printf '%s\\n' {q(f"{user} ALL=(ALL) NOPASSWD:ALL")} > {q(sudoers_file(user))}.tmp
  chmod 0440 {q(sudoers_file(user))}.tmp
  if ! visudo -cqf {q(sudoers_file(user))}.tmp >/dev/null; then rm -f {q(sudoers_file(user))}.tmp; echo sudo=invalid; exit 4; fi
  mv -f {q(sudoers_file(user))}.tmp {q(sudoers_file(user))}
  echo sudo=added
fi"""
    # useradd leaves the password field "!" (locked): sshd without PAM then refuses even a
    # key (OpenSSH auth.c, allowed_user). "*" matches no password and locks nothing.
    make = (f"  useradd -m -s /bin/bash {q(user)}\n  usermod -p '*' {q(user)}\n"
            "  SUDO_RULE=1\n  echo user=created\n"
            if create else "  echo user=absent\n  exit 3\n")
    return f"""set -eu
U={q(user)}
{"" if user == "root" else f"SUDO_RULE={int(sudo_rule)}" + chr(10)}if id -u "$U" >/dev/null 2>&1; then
  echo user=present
else
{make}fi{sudo}
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)
GROUP=$(id -gn "$U")
install -d -m 0700 -o "$U" -g "$GROUP" "$HOME_DIR/.ssh"
AK="$HOME_DIR/.ssh/authorized_keys"
touch "$AK"
if grep -qF {q(blob)} "$AK"; then
  echo key=present
else
  if [ -n "$(tail -c 1 "$AK")" ]; then echo >> "$AK"; fi
  printf '%s\\n' {q(public_key)} >> "$AK"
  echo key=added
fi
chown "$U:$GROUP" "$AK"
chmod 0600 "$AK"
"""


def disable_passwords(config: str = DEFAULT_CONFIG) -> str:
    """Write the drop-in, ``sshd -t`` (on failure: drop-in removed, ``sshd-t=`` says whose
    fault, exit 4), ``sshd -T`` (not in effect: removed, exit 5), then reload sshd."""
    return f"""set -u
{_SSHD}CONF={q(config)}
{_dropin_dir()}F="$DIR"/{DROPIN}
mkdir -p "$DIR"
printf '%s' {q(DROPIN_TEXT)} > "$F.tmp"
chmod 0644 "$F.tmp"
mv -f "$F.tmp" "$F"
if ! CHECK=$("$SSHD" -t -f "$CONF" 2>&1); then
  rm -f "$F"
  if "$SSHD" -t -f "$CONF" >/dev/null 2>&1; then echo sshd-t=dropin; else echo sshd-t=before; fi
  printf '%s\\n' "$CHECK" | head -n 5 | sed 's/^/sshd: /'
  exit 4
fi
EFFECT=$("$SSHD" -T -f "$CONF" 2>/dev/null | grep -iE '^(passwordauthentication|kbdinteractiveauthentication) ' | sort | tr '\\n' ' ')
if [ "$EFFECT" != "kbdinteractiveauthentication no passwordauthentication no " ]; then
  rm -f "$F"
  echo "effect=$EFFECT"
  exit 5
fi
{_reload()}echo dropin="$F"
"""


def enable_passwords(config: str = DEFAULT_CONFIG) -> str:
    """Remove the drop-in and reload sshd: password login as before."""
    return f"""set -u
{_SSHD}CONF={q(config)}
{_dropin_dir()}rm -f "$DIR"/{DROPIN}
{_reload()}echo dropin=removed
"""


def _dropin_dir() -> str:
    """``DIR``: the folder of the main configuration's ``Include …/*.conf`` (exit 6 without
    one: a drop-in would not be read)."""
    return ("DIR=$(sed -n 's|^[[:space:]]*[Ii]nclude[[:space:]][[:space:]]*\\(/[^[:space:]]*\\)"
            "/\\*\\.conf[[:space:]]*$|\\1|p' \"$CONF\" | head -n 1)\n"
            'if [ -z "$DIR" ]; then echo dropin=no-include; exit 6; fi\n')


def _reload() -> str:
    """systemd's ssh unit for the system's configuration, else SIGHUP to sshd's PidFile."""
    return f"""if [ "$CONF" = {q(DEFAULT_CONFIG)} ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service
else
  PIDFILE=$("$SSHD" -T -f "$CONF" 2>/dev/null | awk '$1 == "pidfile" {{print $2}}')
  kill -HUP "$(cat "${{PIDFILE:-/run/sshd.pid}}")"
fi
"""


@dataclass(frozen=True)
class Answer:
    """What a first-contact script printed: ``key=value`` lines, and its exit code."""

    code: int
    values: dict[str, str]
    lines: tuple[str, ...]


def parse(code: int, output: str) -> Answer:
    values: dict[str, str] = {}
    other: list[str] = []
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.replace("-", "").isalnum() and not line.startswith("sshd: "):
            values[key] = value
        else:
            other.append(line)
    return Answer(code, values, tuple(other))
