"""Restore one commune from its backups, onto the same server or onto a new one.

The single run and the fleet call ``restore`` alike. In order (each phase timed):
1. read the server: its release, a restore under way, the commune's snapshots; on a server
   without the destination's settings (a new server), the repository password and the
   destination's credentials are asked for (environment first) and kept on the server;
2. the snapshot chosen (``--snapshot``, else the one of a restore under way, else the latest);
   data about to be replaced is confirmed (``--yes`` for scripts) and saved first;
3. files: secrets, state and the snapshot's release put back, ``current`` pointed at it;
4. install: the existing install on that state (a new server is bootstrapped, its proxy and
   firewall set; on the same server it finds nothing to do);
5. data: volumes and databases restored, the services started;
6. health checks; then the restore is marked done. Onto a new server, the DNS records to
   change are given.
An interrupted or failed restore is finished by running it again (apply/scripts/restore.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.check.findings import ERROR
from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.operations.report import FAILED, OperationResult, Reporter
from kit_collab.plan.changes import Saved, data_of
from kit_collab.profile.backup_model import CREDENTIALS
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet

PASSWORD_ENV = "KIT_COLLAB_RESTIC_PASSWORD"  # noqa: S105 (a variable's name)
Ask = Callable[[str, bool], str]  # (question, secret) -> answer
Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class RestoreOptions:
    snapshot: str | None = None  # an id (or its beginning); default: the latest
    yes: bool = False  # overwrite existing data without asking
    wait: int = 300  # seconds for the services to become healthy


@dataclass
class Restored(OperationResult):
    records: list[Any] | None = None  # DNS records to change (a new server)


class _Phases:
    """Each phase's duration, in seconds, in the order run."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, fr: str = "", en: str = "") -> Iterator[None]:
        """Time ``name``; say ``fr``/``en`` first (nothing when the step says itself)."""
        if fr:
            self.reporter.step(tr(fr, en))
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - start, 1)


def _section(profile: Profile) -> Any:
    section = profile.sauvegardes
    if section is None:
        raise InputError(tr("le profil n'a pas de section « sauvegardes: » : kit-collab ne "
                            "sait pas où lire les sauvegardes",
                            "the profile has no 'sauvegardes:' section: kit-collab does not "
                            "know where to read the backups"),
                         hint=tr("recopiez la destination de la fiche de secours dans "
                                 "« sauvegardes: » (type et adresse)", "copy the destination "
                                 "from the recovery sheet into 'sauvegardes:' (type, address)"))
    return section


def destination(profile: Profile, ask: Ask | None) -> Any:
    """The destination with the password and credentials the humans give (environment first,
    then a prompt when there is a terminal)."""
    from kit_collab.apply.restore import Destination

    section = _section(profile)
    password = os.environ.get(PASSWORD_ENV) or _asked(
        ask, tr("Mot de passe du dépôt de sauvegarde (fiche de secours)",
                "Backup repository password (recovery sheet)"), PASSWORD_ENV)
    creds = {name: os.environ.get(name) or _asked(ask, name, name)
             for name in CREDENTIALS.get(section.type, ())}
    return Destination(section.type, section.repository, password, creds)


def _asked(ask: Ask | None, question: str, env: str) -> str:
    if ask is None:
        raise InputError(tr(f"{env} manquant : la restauration sur ce serveur en a besoin",
                            f"{env} missing: the restore onto this server needs it"),
                         hint=tr(f"définissez {env}, ou lancez la commande dans un terminal",
                                 f"set {env}, or run the command in a terminal"))
    answer = ask(question, True).strip()
    if not answer:
        raise InputError(tr("réponse vide : restauration abandonnée",
                            "empty answer: restore abandoned"))
    return answer


def restore(transport: Any, profile: Profile, profile_path: Path, recipes: RecipeSet,
            options: RestoreOptions, reporter: Reporter, *, ask: Ask | None = None,
            confirm: Confirm | None = None) -> Restored:
    """Restore the commune (see the module)."""
    from kit_collab.apply import restore as steps

    phases = _Phases(reporter)
    with phases.phase("lecture", "Lecture du serveur et des sauvegardes",
                      "Reading the server and the backups"):
        found = _settings(transport, profile, reporter, ask)
    snap = _chosen(found, options.snapshot)
    new = found.marker.get("nouveau_serveur") == "oui" if found.marker else not found.current
    saved = _saved(recipes, profile)
    safety = _safety(found, snap, options, confirm, saved, profile)
    with phases.phase("fichiers", f"Restauration des fichiers (sauvegarde {snap.short_id} du "
                      f"{snap.time[:16]}, version {snap.release})",
                      f"Restoring the files (backup {snap.short_id} of {snap.time[:16]}, "
                      f"release {snap.release})"):
        steps.restore_files(transport, profile, snap, safety, new)
    outcome = _install(transport, profile, recipes, options, reporter, phases)
    with phases.phase("donnees", "Restauration des volumes et des bases de données",
                      "Restoring the volumes and the databases"):
        steps.restore_data(transport, profile, snap, saved)
    return _health_and_finish(transport, profile, recipes, options, reporter, phases,
                              (snap, outcome, new, safety is not None))


def _settings(transport: Any, profile: Profile, reporter: Reporter, ask: Ask | None) -> Any:
    """The server's probe, once it has the destination's settings: written from what the
    humans give on a server without them, or when the password it has is refused while the
    commune is not running there (a mistyped password corrected by running again)."""
    from kit_collab.apply import restore as steps
    from kit_collab.apply.scripts.restore import PASSWORD

    found = steps.probe(transport, profile)
    retyped = (found.failure == PASSWORD and not found.current
               and (ask is not None or bool(os.environ.get(PASSWORD_ENV))))
    if not found.settings or retyped:
        _section(profile)
        steps.write_settings(transport, profile, destination(profile, ask))
        key = steps.sftp_key(transport, profile)
        if key:
            reporter.step(tr(f"Clé publique du serveur, à autoriser sur la destination "
                             f"SFTP (authorized_keys) : {key}", f"The server's public key, "
                             f"to authorize on the SFTP destination (authorized_keys): {key}"))
        found = steps.probe(transport, profile)
    if found.failure:
        raise steps.failure(found.failure, profile)
    return found


def _chosen(found: Any, wanted: str | None) -> Any:
    from kit_collab.apply.scripts.restore import choose

    asked = wanted or found.marker.get("snapshot")
    snap = choose(found.snapshots, asked)
    if snap is None and asked:
        raise InputError(tr(f"sauvegarde introuvable : {asked}", f"backup not found: {asked}"),
                         hint=tr("« kit-collab backups » liste les sauvegardes de la commune",
                                 "'kit-collab backups' lists the commune's backups"))
    if snap is None:
        raise InputError(tr("aucune sauvegarde de cette commune dans le dépôt",
                            "no backup of this commune in the repository"),
                         hint=tr("vérifiez commune.code et sauvegardes.adresse dans le profil",
                                 "check commune.code and sauvegardes.adresse in the profile"))
    if not snap.release or not snap.commune_dir:
        raise InputError(tr(f"la sauvegarde {snap.short_id} n'est pas une sauvegarde "
                            "complète de kit-collab", f"backup {snap.short_id} is not a "
                            "complete kit-collab backup"))
    return snap


def _saved(recipes: RecipeSet, profile: Profile) -> list[Saved]:
    """The data the recipes declare (``donnees``), databases included."""
    del profile
    return [Saved.of(recipe, spec) for recipe, specs in sorted(data_of(recipes).items())
            for spec in specs]


def _safety(found: Any, snap: Any, options: RestoreOptions, confirm: Confirm | None,
            saved: list[Saved], profile: Profile) -> list[Saved] | None:
    """When the commune runs here and no restore is under way: confirmed, then saved first."""
    if not found.current or found.marker:
        return None
    if not options.yes:
        question = tr(f"Les données actuelles de {profile.commune.nom} (version "
                      f"{found.current}) seront remplacées par la sauvegarde {snap.short_id} "
                      f"du {snap.time[:16]}. Une sauvegarde de sécurité est prise d'abord. "
                      "Continuer ?",
                      f"The current data of {profile.commune.nom} (release {found.current}) "
                      f"will be replaced by backup {snap.short_id} of {snap.time[:16]}. A "
                      "safety backup is taken first. Continue?")
        if confirm is None or not confirm(question):
            raise InputError(tr("restauration annulée : rien n'a été changé",
                                "restore cancelled: nothing was changed"),
                             hint=tr("--yes pour confirmer sans question (scripts)",
                                     "--yes to confirm without a question (scripts)"))
    return saved


def _install(transport: Any, profile: Profile, recipes: RecipeSet, options: RestoreOptions,
             reporter: Reporter, phases: _Phases) -> Any:
    from kit_collab.apply import deploy

    with phases.phase("installation", "Installation de la version restaurée",
                      "Installing the restored release"):
        return deploy.install(transport, profile, recipes, reporter=reporter,
                              wait_seconds=options.wait)


def _health_and_finish(transport: Any, profile: Profile, recipes: RecipeSet,
                       options: RestoreOptions, reporter: Reporter, phases: _Phases,
                       done: tuple[Any, Any, bool, bool]) -> Restored:
    from kit_collab.apply import restore as steps
    from kit_collab.operations import backup as backup_op
    from kit_collab.operations import diagnose, dns_records

    snap, outcome, new, safety = done
    with phases.phase("sante"):
        findings = diagnose.health_after_deploy(transport, profile, outcome.bundle,
                                                options.wait, reporter)
    errors = [f for f in findings if f.level == ERROR]
    records = dns_records.records(profile, recipes) if new else []
    running = outcome.bundle.release
    data = {"commune": profile.commune.code, "sauvegarde": snap.short_id, "date": snap.time,
            "release_sauvegardee": snap.release, "release": running,
            "nouveau_serveur": new, "securite": safety,
            "phases": phases.seconds, "constats": [f.as_dict() for f in findings],
            "dns": [r.as_dict() for r in records]}
    if errors:
        return Restored(constants.EXIT_FAILURE, FAILED, tr(
            f"sauvegarde {snap.short_id} restaurée, services en erreur",
            f"backup {snap.short_id} restored, services failing"), errors[0].message, data,
            records=records)
    again = backup_op.ensure(transport, profile, recipes, outcome.bundle, reporter)  # nightly
    data["constats"] += [f.as_dict() for f in again]
    steps.finish(transport, profile, snap)
    if new:  # the new server's own first backup: check is green at once, not the next night
        data["premiere_sauvegarde"] = _first_backup(transport, profile, reporter, phases)
    summary = tr(f"sauvegarde {snap.short_id} du {snap.time[:16]} restaurée (version "
                 f"{snap.release}, en service : {running})", f"backup {snap.short_id} of "
                 f"{snap.time[:16]} restored (release {snap.release}, running: {running})")
    base = OperationResult.of(constants.EXIT_OK, summary, "", data)
    return Restored(base.code, base.state, base.summary, base.message, base.data,
                    records=records)



def _first_backup(transport: Any, profile: Profile, reporter: Reporter, phases: _Phases) -> str:
    """One backup of the restored commune from its new server; a failure is said (the nightly
    timer tries again), never undoes the restore."""
    from kit_collab.apply.backup import BackupError
    from kit_collab.operations import backup as backup_op

    with phases.phase("premiere-sauvegarde"):
        try:
            return str(backup_op.backup(transport, profile, reporter).last.get("snapshot", ""))
        except BackupError as exc:
            reporter.step(tr(f"première sauvegarde du serveur neuf impossible : {exc} ; la "
                             "sauvegarde de nuit réessaiera (kit-collab backup pour la lancer)",
                             f"first backup of the new server failed: {exc}; the nightly "
                             "backup will try again (kit-collab backup to run it)"))
            return ""
