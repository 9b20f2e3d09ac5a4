"""What stops a command on the server when kit-collab's SSH connection ends before it does.

sshd does not stop the commands of an exec channel without a terminal when the connection
drops (kill -9 of kit-collab, a second Ctrl-C, a network cut): ``docker compose up`` would
go on alone, and the next install could run beside it. A pseudo-terminal would hang them up,
but it mangles the binary streams kit-collab sends on stdin (the release's tar).

So every script sent over SSH starts with this guard: it finds the sshd process that started
the command (its nearest ancestor named ``sshd``, or ``sshd-session`` from OpenSSH 9.8,
which moved session handling there: openssh-portable commit 03e3de4, Debian 13 ships it)
and leaves a watcher, detached and silent, that checks every second that this sshd is still
there (a zombie counts as gone). When it is gone, the command's whole process group gets
TERM, then KILL 5 s later (coreutils ``timeout``, when it wraps the command, passes the TERM
on and kills after its own grace). The watcher ends with the command. Only shell builtins run
in the foreground (reads of /proc): the guard costs no round trip and about two forks.
"""

from __future__ import annotations

from kit_collab.apply.scripts.sudo import GRACE

# POSIX sh (dash, busybox): functions' positional parameters are their own.
GUARD = f"""kc_hangup() {{
  kc_p=$$ kc_s=
  while [ "$kc_p" -gt 1 ] 2>/dev/null; do
    read -r kc_c < "/proc/$kc_p/comm" 2>/dev/null || return 0
    case $kc_c in sshd|sshd-session) kc_s=$kc_p; break ;; esac
    read -r kc_l < "/proc/$kc_p/stat" 2>/dev/null || return 0
    kc_l=${{kc_l##*) }}
    set -- $kc_l
    kc_p=$2
  done
  [ -n "$kc_s" ] || return 0
  read -r kc_l < "/proc/$$/stat" 2>/dev/null || return 0
  kc_l=${{kc_l##*) }}
  set -- $kc_l
  kc_g=$3
  ( ( trap '' TERM HUP INT
      while kill -0 $$ 2>/dev/null; do
        kc_l=Z
        read -r kc_l < "/proc/$kc_s/stat" 2>/dev/null
        case ${{kc_l##*) }} in Z*|X*)
          kill -s TERM -- "-$kc_g"; sleep {GRACE}; kill -s KILL -- "-$kc_g"; exit 0 ;;
        esac
        sleep 1
      done ) </dev/null >/dev/null 2>&1 & )
}}
kc_hangup
"""


def guarded(script: str) -> str:
    """``script`` with the guard in front (its first line stays a comment-free guard)."""
    return GUARD + script
