"""Backups of one commune, used alike by a single run and by the fleet: set up at install,
``backup`` now, ``backups`` (the list), and what ``check`` and ``status`` say about them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kit_collab import constants
from kit_collab.check.findings import ERROR, Finding
from kit_collab.errors import DeployError
from kit_collab.i18n import count, tr
from kit_collab.operations.report import OperationResult, Reporter
from kit_collab.profile.backup_model import CREDENTIALS
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet

Progress = Callable[[int, int], None]


@dataclass
class BackupResult(OperationResult):
    last: dict[str, Any] = field(default_factory=dict)


def credentials(kind: str, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The destination's credentials from the environment; None when some are missing (the
    ones kept on the server are then used)."""
    env = os.environ if environ is None else environ
    names = CREDENTIALS.get(kind, ())
    if not names:
        return {}
    if all(env.get(n) for n in names):
        return {n: env[n] for n in names}
    return None


def ensure(transport: Any, profile: Profile, recipes: RecipeSet, bundle: Any,
           reporter: Reporter, creds: Mapping[str, str] | None = None,
           ask: Callable[[str], str] | None = None,
           secrets: Mapping[str, Mapping[str, str]] | None = None) -> list[Finding]:
    """Set up (or refresh) the commune's backups after an install: secrets, script, timers.
    Nothing without a ``sauvegardes`` section. Credentials: ``creds``, else the environment,
    else the ones kept on the server, else typed once (``ask``, on a terminal). With
    ``messagerie``, a failed run is e-mailed (the relay's password from ``secrets``, else the
    config kept on the server). A failure is an error finding, not a crash."""
    from kit_collab.apply import backup as apply_backup
    from kit_collab.apply import backup_mail
    from kit_collab.plan import changes

    section = profile.sauvegardes
    if section is None:
        return []
    reporter.step(tr("Sauvegardes : préparation sur le serveur", "Backups: server set-up"))
    versions = dict(bundle.recipes)
    data = {r: d for r, d in changes.data_of(recipes).items() if r in versions}
    plan = apply_backup.plan_for(profile, data, versions)
    given = dict(creds) if creds is not None else credentials(section.type)
    try:
        try:
            done = apply_backup.setup(transport, profile, plan, given)
        except apply_backup.BackupError as exc:
            if exc.kind != "identifiants" or ask is None:
                raise
            typed = {name: ask(name) for name in CREDENTIALS[section.type]}
            done = apply_backup.setup(transport, profile, plan, typed)
        mailed = backup_mail.store_sender(transport, profile, secrets)
    except (apply_backup.BackupError, DeployError) as exc:
        return [Finding(ERROR, "sauvegardes", "installation", exc.message, exc.hint or "")]
    if done.public_key:
        reporter.step(tr(f"Clé publique à autoriser sur la destination SFTP : {done.public_key}",
                         f"Public key to authorize on the SFTP destination: {done.public_key}"))
    if mailed:
        to = profile.commune.email_contact
        reporter.step(tr(f"Un échec de sauvegarde sera signalé par e-mail à {to}",
                         f"A failed backup will be e-mailed to {to}"))
    if not done.units:
        reporter.step(tr("Pas de systemd sur ce serveur : aucune minuterie installée",
                         "No systemd on this server: no timer installed"))
    return []


def backup(transport: Any, profile: Profile, reporter: Reporter,
           progress: Progress | None = None) -> BackupResult:
    """One backup now. Failures raise (BackupError: French message, fix, exit code)."""
    from kit_collab.apply import backup as apply_backup

    reporter.step(tr("Sauvegarde en cours", "Backing up"))
    last = apply_backup.backup_now(transport, profile, progress or reporter.progress)
    summary = tr(f"sauvegarde {last.get('snapshot')} : {size_text(last.get('octets_ajoutes'))} "
                 f"ajoutés en {last.get('duree_s')} s",
                 f"backup {last.get('snapshot')}: {size_text(last.get('octets_ajoutes'))} added "
                 f"in {last.get('duree_s')} s")
    data = {"commune": profile.commune.code, "sauvegarde": last}
    return BackupResult(constants.EXIT_OK, "ok", summary, "", data, last=last)


def backups(transport: Any, profile: Profile, reporter: Reporter) -> OperationResult:
    """The commune's snapshots, oldest first."""
    from kit_collab.apply import backup as apply_backup

    reporter.step(tr("Liste des sauvegardes", "Listing backups"))
    listed = apply_backup.snapshots(transport, profile)
    summary = count(len(listed), ("sauvegarde", "sauvegardes"), ("backup", "backups"))
    return OperationResult.of(constants.EXIT_OK, summary, "",
                              {"commune": profile.commune.code, "sauvegardes": listed})


def findings(transport: Any, profile: Profile, now: datetime | None = None) -> list[Finding]:
    """What ``check`` says about the commune's backups: the destination probed now, the
    last backup and the last integrity check (two more round trips)."""
    from kit_collab.apply import backup as apply_backup
    from kit_collab.check.rules import backup as rules

    if profile.sauvegardes is None:
        return [rules.no_section()]
    last, checked = apply_backup.read_status(transport, profile)
    return [*rules.destination_finding(apply_backup.probe(transport, profile)),
            *rules.backup_findings(last, checked, now or datetime.now(UTC))]


def last_backup(transport: Any, profile: Profile) -> dict[str, Any] | None:
    """``derniere.json`` for ``status`` (None without backups or before the first one)."""
    from kit_collab.apply import backup as apply_backup

    if profile.sauvegardes is None:
        return None
    return apply_backup.read_status(transport, profile)[0]


def column(last: Mapping[str, Any] | None) -> str:
    """The "dernière sauvegarde" cell: when, and whether it worked."""
    if not last:
        return "—"
    when = str(last.get("derniere_reussie") or last.get("fin") or "?")[:16].replace("T", " ")
    if last.get("ok"):
        return when
    return tr(f"échec ({last.get('erreur')}) ; réussie : {when}",
              f"failed ({last.get('erreur')}); succeeded: {when}")


def size_text(value: Any) -> str:
    n = float(value or 0)
    for unit in ("o", "Ko", "Mo", "Go"):
        if n < 1024 or unit == "Go":
            return f"{n:.0f} {unit}" if unit == "o" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} Go"


def before_upgrade(transport: Any, profile: Profile, reporter: Reporter) -> str:
    """The upgrades' hook (operations/upgrade.backup_before): a backup to the configured
    destination before a stateful image changes. The local pre-switch snapshot is taken and
    checked in any case; a destination that fails here is said, not fatal (issue 17: "to the
    configured destination, or at least the local pre-switch snapshot")."""
    from kit_collab.apply.backup import BackupError

    try:
        done = backup(transport, profile, reporter)
    except BackupError as exc:
        return tr(f"sauvegarde distante avant la mise à niveau impossible ({exc}) : seul "
                  "l'instantané local, vérifié, protège les données",
                  f"remote backup before the upgrade failed ({exc}): only the checked local "
                  "snapshot protects the data")
    return tr(f"sauvegardé avant la mise à niveau : {done.summary}",
              f"backed up before the upgrade: {done.summary}")
