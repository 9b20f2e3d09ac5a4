"""Run a PostgreSQL major migration on the server (apply/scripts/pg_migrate.py) and turn its
answer into one French sentence when it fails. The caller (the upgrade) holds the commune's
lock, has uploaded the new release and taken the pre-upgrade snapshot; after ``migrate`` it
switches to the new release (whose compose file names the new volume), and calls ``undo``
when that release fails its health, ``prune`` after a later successful install."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kit_collab.apply.runner import check, run
from kit_collab.apply.scripts import pg_migrate as script
from kit_collab.errors import DeployError
from kit_collab.i18n import count, tr
from kit_collab.plan.pg_major import PgMigration

TIMEOUT = 6 * 3600  # a large database on a small server: hours, never forever


def migrate(transport: Any, target: script.Target, m: PgMigration) -> script.Outcome:
    """Migrate ``m``; the outcome (row counts, step times) or a DeployError saying what
    stopped it, the old cluster back in service."""
    result = run(transport, script.migrate(target, m), timeout=TIMEOUT)
    text = result.stdout.decode("utf-8", "replace")
    outcome = script.parse(text)
    if result.code == 0 and outcome.done:
        return outcome
    raise _failure(m, result, outcome, text)


def migrate_all(transport: Any, target: script.Target, planned: Sequence[PgMigration],
                say: Callable[[str], None] = lambda _: None) -> list[script.Outcome]:
    """Every migration of an upgrade, in order; when one fails, those already done are
    undone (their old clusters back in service) before the error goes up."""
    done: list[PgMigration] = []
    outcomes = []
    try:
        for m in planned:
            say(tr(f"Migration PostgreSQL {m.old_major} → {m.new_major} de {m.service} "
                   f"(nouveau volume {m.new_volume})",
                   f"PostgreSQL {m.old_major} → {m.new_major} migration of {m.service} "
                   f"(new volume {m.new_volume})"))
            outcomes.append(migrate(transport, target, m))
            done.append(m)
    except BaseException:
        for m in reversed(done):
            undo(transport, target, m)
        raise
    return outcomes


def _failure(m: PgMigration, result: Any, outcome: script.Outcome,
             text: str) -> DeployError:
    what = f"PostgreSQL {m.old_major} → {m.new_major} ({m.service})"
    if result.code == script.MISMATCH_EXIT and outcome.mismatches:
        table, before, after = outcome.mismatches[0]
        more = len(outcome.mismatches) - 1
        others = tr(f" (et {count(more, ('autre', 'autres'), ('', ''))})",
                    f" (and {more} more)") if more else ""
        return DeployError(
            tr(f"{what} : la table {table} avait {before} lignes avant l'export et en a "
               f"{after} après l'import{others} ; rien n'a basculé, l'ancienne base est "
               "remise en service",
               f"{what}: table {table} had {before} rows before the dump and {after} after "
               f"the restore{others}; nothing was switched, the old database is back in "
               "service"),
            hint=tr("un service écrivait-il encore dans la base ? Relancez la mise à jour ; "
                    "si cela se reproduit, gardez la sortie de --verbose",
                    "was a service still writing to the database? Run the upgrade again; "
                    "if it happens again, keep the output of --verbose"))
    if result.code == script.NO_SPACE_EXIT and outcome.no_space:
        need, free = (round(kb / 1024) for kb in outcome.no_space)
        return DeployError(
            tr(f"{what} : place insuffisante ({need} Mo nécessaires pour l'export et la "
               f"nouvelle grappe, {free} Mo libres) ; rien n'a changé",
               f"{what}: not enough space ({need} MB needed for the dump and the new "
               f"cluster, {free} MB free); nothing changed"),
            hint=tr("libérez de la place sur le serveur puis relancez la mise à jour",
                    "free some space on the server, then run the upgrade again"))
    if "volume-not-named" in text:
        return DeployError(
            tr(f"{what} : le fichier compose de la nouvelle version ne nomme pas le volume "
               f"{m.new_volume} pour la base ; rien n'a changé",
               f"{what}: the new release's compose file does not name the volume "
               f"{m.new_volume} for the database; nothing changed"),
            hint=tr("la recette doit nommer le volume de la grappe d'après l'état "
                    "(voir plan/pg_major.py) ; signalez-le aux mainteneurs de kit-collab",
                    "the recipe must name the cluster's volume from the state (see "
                    "plan/pg_major.py); report it to kit-collab's maintainers"))
    try:
        check(result, tr(f"la migration {what}", f"the migration {what}"))
    except DeployError as err:
        return err
    return DeployError(tr(f"la migration {what} n'a pas abouti", f"the migration {what} "
                          "did not finish"))


def undo(transport: Any, target: script.Target, m: PgMigration) -> None:
    """The old cluster back in service (the old release current again), the new volume
    removed."""
    check(run(transport, script.undo(target, m), timeout=900),
          tr(f"le retour à l'ancienne base de {m.service}",
             f"going back to the old database of {m.service}"))


def prune(transport: Any, root: str, slug: str, volumes: list[str]) -> list[str]:
    """Remove old clusters' volumes; the ones removed."""
    out = check(run(transport, script.prune(root, slug, volumes), timeout=600),
                tr("la suppression des anciens volumes PostgreSQL",
                   "removing the old PostgreSQL volumes"))
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("removed ")]
