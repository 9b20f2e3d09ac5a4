"""The upgrade gate, run by install's preflight before any change: the intermediate release
asked for first, --sans-sauvegarde said and audited, the backups' hook wanted when a
destination exists; and the recipes an intermediate release is rendered from."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace

import pytest

from kit_collab.operations import upgrade
from kit_collab.operations.report import QuietReporter
from kit_collab.plan.state import State
from kit_collab.recipes.load import load_recipes

RECIPES = load_recipes()
NC = RECIPES["nextcloud"].spec.images


@dataclass
class _Facts:  # the fields of plan.facts.Facts the gate reads
    images: dict[str, str] = field(default_factory=dict)
    state: State = field(default_factory=State)
    volume_names: dict[str, str] = field(default_factory=dict)


def _bundle() -> SimpleNamespace:
    services = [SimpleNamespace(recipe="nextcloud", name=n, image=NC[k])
                for n, k in (("nextcloud", "app"), ("nextcloud-db", "db"))]
    return SimpleNamespace(services=services, slug="lhay")


def test_two_majors_behind_asks_for_the_intermediate_release_before_any_change() -> None:
    state, reporter = upgrade.Upgrade(), QuietReporter()
    facts = _Facts(images={"nextcloud": "nextcloud:32.0.13-apache", "nextcloud-db": NC["db"]})
    with pytest.raises(upgrade.NeedsIntermediate) as info:
        upgrade.gate(state, RECIPES, facts, _bundle(), reporter, lambda: "")
    assert info.value.step.image == "nextcloud:33.0.7-apache"
    assert any("32.0.13-apache →" in s for s in reporter.steps)  # the plan was said first
    stepped = upgrade.with_image(RECIPES, info.value.step)
    assert stepped["nextcloud"].spec.images["app"] == "nextcloud:33.0.7-apache"
    assert RECIPES["nextcloud"].spec.images["app"] == NC["app"]  # the original untouched


def test_state_json_images_stand_in_for_containers_that_are_down() -> None:
    facts = _Facts(state=State(images={"nextcloud": "nextcloud:33.0.7-apache"}))
    seen = upgrade.view(RECIPES, facts, _bundle())
    assert [s.kind for s in seen.steps][:2] == ["sauvegarde", "nextcloud-major"]


def test_without_backup_is_said_and_returned_for_the_audit_log() -> None:
    state, reporter = upgrade.Upgrade(without_backup=True), QuietReporter()
    facts = _Facts(images={"nextcloud": "nextcloud:33.0.7-apache", "nextcloud-db": NC["db"]})
    called: list[bool] = []
    note = upgrade.gate(state, RECIPES, facts, _bundle(), reporter,
                        lambda: called.append(True) or "")
    assert note == "sans-sauvegarde" and not called
    assert any("SANS instantané" in s for s in reporter.steps)
    assert all(not r.spec.donnees for r in upgrade.without_data(RECIPES))  # nothing saved


def test_a_backup_destination_calls_the_backups_hook_before_a_stateful_upgrade(
        monkeypatch: pytest.MonkeyPatch) -> None:
    profile = SimpleNamespace(sauvegardes={"destination": "sftp:..."})
    monkeypatch.setattr(upgrade, "BACKUP_HOOK", "kit_collab.operations.no_such_module")
    said = upgrade.backup_before(None, profile, QuietReporter())
    assert "instantané local" in said  # no backups' module: said, the snapshot alone
    hook = ModuleType("kc_test_backups")
    hook.before_upgrade = lambda _t, p, _r: f"sauvegarde vers {p.sauvegardes['destination']}"
    monkeypatch.setitem(sys.modules, "kc_test_backups", hook)
    monkeypatch.setattr(upgrade, "BACKUP_HOOK", "kc_test_backups")
    assert upgrade.backup_before(None, profile, QuietReporter()) == "sauvegarde vers sftp:..."
    assert upgrade.backup_before(None, SimpleNamespace(), QuietReporter()) == ""
    state = upgrade.Upgrade()
    facts = _Facts(images={"nextcloud": "nextcloud:33.0.7-apache", "nextcloud-db": NC["db"]})
    upgrade.gate(state, RECIPES, facts, _bundle(), QuietReporter(), lambda: "sauvegarde faite")
    assert state.notes == ["sauvegarde faite"]
    assert [s.kind for s in upgrade.after_steps(state)] == ["nextcloud-apps"]


def test_postgres_major_is_planned_as_a_migration_and_going_down_is_refused() -> None:
    reporter = QuietReporter()
    facts = _Facts(images={"nextcloud": NC["app"], "nextcloud-db": "postgres:15.14"})
    upgrade.gate(upgrade.Upgrade(), RECIPES, facts, _bundle(), reporter, lambda: "")
    said = "\n".join(reporter.steps)
    assert "PostgreSQL 15 → 17 (nextcloud-db)" in said and "nextcloud_db-pg17" in said
    assert "jamais un simple changement d'image" in said
    newer = _Facts(images={"nextcloud": NC["app"], "nextcloud-db": "postgres:18.1"})
    with pytest.raises(upgrade.plan_upgrade.UpgradeRefused, match="plus ancienne") as info:
        upgrade.gate(upgrade.Upgrade(), RECIPES, newer, _bundle(), QuietReporter(), lambda: "")
    assert "rien n'a été changé" in info.value.message and info.value.exit_code == 2


def test_the_backups_module_takes_a_backup_before_a_stateful_upgrade(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook is the backups' real module; a destination that fails is said and the checked
    local snapshot stays the protection (issue 17)."""
    from kit_collab.apply.backup import BackupError
    from kit_collab.operations import backup as backup_op
    from kit_collab.operations.report import OperationResult

    profile = SimpleNamespace(sauvegardes=SimpleNamespace(type="rest"))
    done: list[object] = []

    def ok(transport: object, prof: object, reporter: object) -> OperationResult:
        done.append(prof)
        return OperationResult(0, "ok", "sauvegarde 1a2b3c4d : 12 Mo ajoutés en 3 s", "", {})

    monkeypatch.setattr(backup_op, "backup", ok)
    said = upgrade.backup_before(None, profile, QuietReporter())
    assert done == [profile] and "sauvegardé avant la mise à niveau" in said and "1a2b3c4d" in said

    def unreachable(transport: object, prof: object, reporter: object) -> OperationResult:
        raise BackupError("destination injoignable", kind="injoignable")

    monkeypatch.setattr(backup_op, "backup", unreachable)
    said = upgrade.backup_before(None, profile, QuietReporter())
    assert "injoignable" in said and "instantané local" in said
