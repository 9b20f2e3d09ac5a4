"""The command line that runs a script with sh: through ``sudo -n`` for a non-root user,
under coreutils ``timeout`` when it has one, and how a refused sudo answers."""

from __future__ import annotations

from kit_collab.apply.scripts.common import q

SUDO_REFUSED = 97
GRACE = 5  # seconds between the server-side timeout's TERM and KILL
NO_SUDO = "kit-collab:sudo-absent"
SUDO_ASKS = "kit-collab:sudo-mot-de-passe"


def command_line(script: str, *, sudo: bool, root: bool, check_sudo: bool = False,
                 timeout: float | None = None) -> str:
    """The command that runs ``script`` with sh, through ``sudo -n`` for a non-root user.

    ``check_sudo`` puts a guard in front that exits with SUDO_REFUSED and a marker on stderr
    when sudo is missing or wants a password, instead of running the script. ``timeout``
    wraps sh in coreutils ``timeout``, which stops its whole process group.
    """
    inner = f"sh -c {q(script)}"
    if timeout:
        inner = f"timeout -k {GRACE} {float(timeout):.3f} {inner}"
    if not sudo or root:
        return inner
    if not check_sudo:
        return f"sudo -n {inner}"
    return f"sh -c {q(sudo_guard(inner))}"


def sudo_guard(inner: str) -> str:
    """``inner`` run through ``sudo -n`` once sudo is known to be there without a password."""
    return (f"command -v sudo >/dev/null 2>&1 || {{ echo {NO_SUDO} >&2; exit {SUDO_REFUSED}; }}; "
            f"sudo -n true 2>/dev/null || {{ echo {SUDO_ASKS} >&2; exit {SUDO_REFUSED}; }}; "
            f"exec sudo -n {inner}")


def sudo_refusal(code: int, stderr: bytes) -> str | None:
    """``absent`` (no sudo), ``password`` (sudo wants one) or None (sudo worked)."""
    if code != SUDO_REFUSED:
        return None
    if NO_SUDO.encode() in stderr:
        return "absent"
    if SUDO_ASKS.encode() in stderr:
        return "password"
    return None
