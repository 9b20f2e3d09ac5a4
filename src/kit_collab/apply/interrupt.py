"""Ctrl-C during an operation that changes a server: stop between two steps, never inside one.

- The first Ctrl-C only *asks*: the step running on the server (an upload, ``compose up``,
  the tasks...) finishes, then the operation stops at its next ``check`` with
  ``Interrupted`` (exit 130), releasing the lock on its way out, the pending operation kept
  on the server so that the next install resumes it.
- A second Ctrl-C stops at once: the lock stays (its details name this process, so the next
  install from this machine takes it over; elsewhere ``kit-collab unlock PROFIL --force``),
  and the command running on the server is stopped there when the connection closes (see
  apply/scripts/hangup.py).
The CLI installs the signal handler (cli/session.py); this module holds what it decides on:
whether an operation that stops between steps is running, which locks this process holds.

For the tests only: ``KIT_COLLAB_TEST_PAUSE_AT=<step>`` makes ``check`` pause before that
step (a line on stderr, then sleep), so that a test can kill kit-collab at that exact point.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from kit_collab import constants
from kit_collab.errors import KitCollabError
from kit_collab.i18n import tr

PAUSE_ENV = "KIT_COLLAB_TEST_PAUSE_AT"

BEFORE, PENDING, DONE = "avant", "en-attente", "fait"
# The steps an install stops before, and where the commune then stands: running release
# unchanged, pending operation recorded on the server, or new release committed.
STEPS: dict[str, tuple[str, str, str]] = {
    "envoi": ("l'envoi de la version", "the upload", BEFORE),
    "verrou": ("la prise du verrou", "taking the lock", BEFORE),
    "images": ("le téléchargement des images", "pulling the images", BEFORE),
    "bascule": ("la bascule vers la nouvelle version", "switching to the new release", BEFORE),
    "taches": ("les tâches après installation", "the post-install tasks", PENDING),
    "comptes": ("les comptes des agents", "the agents' accounts", PENDING),
    "etat": ("l'enregistrement de l'état", "recording the state", PENDING),
    "sante": ("les contrôles de santé", "the health checks", DONE),
}


class Interrupted(KitCollabError):
    """The operation stopped between two steps after a Ctrl-C."""

    exit_code = constants.EXIT_INTERRUPTED


class _Flags:
    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.requested = threading.Event()
        self.clear()

    def clear(self) -> None:
        self.requested.clear()
        self.sections = 0
        self.paths: dict[str, str] = {}  # commune -> its profile file, for the hints
        self.held: set[str] = set()  # communes whose lock this process holds
        self.on_stop: dict[int, Callable[[], object]] = {}  # local commands to stop


_flags = _Flags()


def reset() -> None:
    """Forget any request (a new command in the same process, the tests)."""
    with _flags.guard:
        _flags.clear()


@contextmanager
def section(slug: str = "", path: str = "") -> Iterator[None]:
    """While inside, a first Ctrl-C asks to stop between steps instead of stopping at once."""
    with _flags.guard:
        _flags.sections += 1
        if slug:
            _flags.paths[slug] = path or slug
    try:
        yield
    finally:
        with _flags.guard:
            _flags.sections -= 1


def active() -> bool:
    return _flags.sections > 0


def requested() -> bool:
    return _flags.requested.is_set()


def request() -> None:
    _flags.requested.set()


def hold(slug: str) -> None:
    """This process now holds the commune's lock."""
    with _flags.guard:
        _flags.held.add(slug)


def release(slug: str) -> None:
    with _flags.guard:
        _flags.held.discard(slug)


def on_hard_stop(key: int, stop: Callable[[], object] | None) -> None:
    """Register (or with None, forget) what stops a command running on this machine."""
    with _flags.guard:
        if stop is None:
            _flags.on_stop.pop(key, None)
        else:
            _flags.on_stop[key] = stop


def hard_stop() -> None:
    """The second Ctrl-C: stop the local commands still running (their own sessions)."""
    for stop in list(_flags.on_stop.values()):
        with suppress(OSError):
            stop()


def _profile(slug: str) -> str:
    return _flags.paths.get(slug, slug)


def check(step: str, slug: str = "") -> None:
    """Between two steps: stop here (Interrupted, exit 130) when a Ctrl-C asked for it."""
    _test_pause(step)
    if not requested():
        return
    fr, en, stands = STEPS.get(step, (step, step, BEFORE))
    profile = _profile(slug) if slug else "PROFIL"
    raise Interrupted(tr(f"installation interrompue avant {fr}", f"install interrupted "
                         f"before {en}"), hint=_next(stands, profile))


def _next(stands: str, profile: str) -> str:
    """What to run next, from where the commune stands."""
    if stands == DONE:
        return tr(f"la nouvelle version est en place et enregistrée : vérifiez-la avec "
                  f"« kit-collab check {profile} »", f"the new release is in place and "
                  f"recorded: check it with 'kit-collab check {profile}'")
    if stands == PENDING:
        return tr(f"l'opération en attente est notée sur le serveur : relancez « kit-collab "
                  f"install {profile} », elle reprend les étapes restantes (« kit-collab "
                  f"status {profile} » la montre)",
                  f"the pending operation is recorded on the server: run 'kit-collab install "
                  f"{profile}' again, it resumes the remaining steps ('kit-collab status "
                  f"{profile}' shows it)")
    return tr(f"la version en service n'a pas changé : relancez « kit-collab install "
              f"{profile} » pour terminer", f"the running release did not change: run "
              f"'kit-collab install {profile}' again to finish")


def first_message() -> str:
    return tr("interruption demandée, kit-collab termine l'étape en cours (Ctrl-C encore : "
              "arrêt immédiat, le verrou reste posé)",
              "interruption requested, kit-collab is finishing the current step (Ctrl-C "
              "again: stop at once, the lock stays)")


def hard_stop_message() -> str:
    """What the second Ctrl-C says: which locks stay, and how to release them."""
    with _flags.guard:
        held = sorted(_flags.held)
    if not held:
        return tr("arrêt immédiat ; aucun verrou n'était posé par kit-collab",
                  "stopped at once; kit-collab held no lock")
    commands = "; ".join(f"kit-collab unlock {_profile(s)} --force" for s in held)
    return tr(f"arrêt immédiat : le verrou de {', '.join(held)} est conservé (la commande en "
              "cours sur le serveur y est arrêtée). La prochaine installation depuis ce poste "
              f"le reprend ; sinon, pour le lever : {commands}",
              f"stopped at once: the lock of {', '.join(held)} is kept (the command running "
              "on the server is stopped there). The next install from this machine takes it "
              f"over; otherwise, to release it: {commands}")


def _test_pause(step: str) -> None:
    if os.environ.get(PAUSE_ENV) != step:
        return
    sys.stderr.write(f"kit-collab: pause de test avant {step}\n")
    sys.stderr.flush()
    while True:  # until the test kills this process
        time.sleep(60)
