"""What the fleet does for one commune: each action calls one operation with the commune's
log as its reporter. The single run calls the same operations (see cli/session.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kit_collab.check.findings import ERROR
from kit_collab.errors import ConnectError
from kit_collab.fleet.inventory import InventoryEntry
from kit_collab.fleet.runner import CommuneJob, CommuneLog
from kit_collab.i18n import tr
from kit_collab.operations import accounts as accounts_op
from kit_collab.operations import diagnose as diagnose_op
from kit_collab.operations import install as install_op
from kit_collab.operations import plan as plan_op
from kit_collab.operations import sheets as sheets_op
from kit_collab.operations import status as status_op
from kit_collab.operations.report import OperationResult
from kit_collab.recipes.load import RecipeSet

Connect = Callable[[], Any]


def plan_action(recipes: RecipeSet) -> CommuneJob:
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        return plan_op.plan(connect(), entry.profile, recipes, log)
    return act


def install_action(recipes: RecipeSet, options: install_op.InstallOptions) -> CommuneJob:
    """``options.sheets_dir`` is the folder of every commune's sheets: each one's in its own
    ``fiches-<commune>`` sub-folder."""
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        own = options
        if options.sheets_dir is not None:
            own = replace(options, sheets_dir=options.sheets_dir / f"fiches-{entry.slug}")
        result = install_op.install(connect(), entry.profile, entry.path, recipes, own, log)
        if result.sheets:
            log.step(result.sheets)
        for f in result.findings:
            if f.level == ERROR:
                log.step(f"{f.level} {f.service} {f.check} : {f.message} → {f.fix}")
        return result
    return act


def status_action(recipes: RecipeSet) -> CommuneJob:
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        return status_op.status(connect(), entry.profile, recipes, log)
    return act


def check_action(recipes: RecipeSet, options: diagnose_op.DiagnoseOptions) -> CommuneJob:
    """With ``options.server`` False, the server is never connected to."""
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        log.step(tr("Diagnostic", "Diagnosis"))
        try:
            transport = connect() if options.server else None
            result = diagnose_op.diagnose(entry.profile, recipes, options,
                                          transport=transport, profile_path=entry.path)
        except ConnectError as exc:
            result = diagnose_op.unreachable(entry.profile, recipes, options, exc,
                                             profile_path=entry.path)
        for f in result.findings:
            log.step(f"{f.level} {f.service} {f.check} : {f.message}"
                     + (f" → {f.fix}" if f.fix else ""))
        for record in result.records:
            line = record.zone_line()
            log.step(tr(f"DNS à créer : {line}", f"DNS to create: {line}"))
        return result
    return act


def users_action(recipes: RecipeSet, options: accounts_op.AccountsOptions,
                 confirm: accounts_op.ConfirmRemovals | None = None) -> CommuneJob:
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        return accounts_op.accounts(connect(), entry.profile, recipes, options, log, confirm)
    return act


def sheets_action(recipes: RecipeSet, options: sheets_op.SheetsOptions) -> CommuneJob:
    """Each commune's sheets in a ``fiches-<commune>`` folder: beside its profile, or under
    the folder given (one sub-folder per commune)."""
    def act(entry: InventoryEntry, log: CommuneLog, connect: Connect) -> OperationResult:
        folder = (options.folder / f"fiches-{entry.slug}") if options.folder else None
        return sheets_op.sheets(connect(), entry.profile, entry.path, recipes,
                                replace(options, folder=folder), log)
    return act
