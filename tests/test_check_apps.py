"""The promised apps (issue 14 item 9): the Nextcloud tasks install Calendar, Contacts and
Deck; `check` reads `occ app:list` and reports an app that is not enabled."""

from __future__ import annotations

import json

from kit_collab.apply.scripts import apps as apps_script
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.model import Task
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.check.findings import ERROR, OK, WARNING
from kit_collab.check.rules.apps import app_findings, expected_apps
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile


def _task(service: str, *argv: str) -> Task:
    return Task("nextcloud", "t", "t", service, "33", tuple(argv), ())


def test_expected_apps_are_read_from_the_tasks() -> None:
    tasks = [_task("nextcloud", "php", "occ", "app:enable", "groupfolders"),
             _task("nextcloud", "sh", "-c", "php occ app:install calendar || "
                   "php occ app:enable calendar"),
             _task("nextcloud", "php", "occ", "config:app:set", "richdocuments", "wopi_url"),
             _task("matrix-synapse", "app:enable", "nope")]
    assert expected_apps(tasks) == ["groupfolders", "calendar"]


def test_shipped_recipes_expect_calendar_contacts_and_deck() -> None:
    data = base_profile()
    data["services"]["nextcloud"]["collabora"] = True
    bundle = make_bundle(Profile.model_validate(data), load_recipes(), draw=SYSTEM).bundle
    expected = expected_apps(bundle.tasks)
    assert {"calendar", "contacts", "deck", "groupfolders", "richdocuments"} <= set(expected)


def test_check_reports_a_missing_app() -> None:
    findings = app_findings(["calendar", "contacts", "deck"], {"calendar", "deck", "files"})
    assert [(f.level, f.check) for f in findings] == [(ERROR, "application contacts")]
    assert "Contacts (contacts)" in findings[0].message
    assert "kit-collab install" in findings[0].fix


def test_all_apps_enabled_is_one_ok_finding() -> None:
    (finding,) = app_findings(["calendar", "deck"], {"calendar", "deck"})
    assert finding.level == OK and "calendar, deck" in finding.message


def test_unreadable_app_list_is_a_warning_not_silence() -> None:
    (finding,) = app_findings(["calendar"], None)
    assert finding.level == WARNING
    assert app_findings([], None) == []


def test_app_list_output_as_occ_prints_it() -> None:
    out = json.dumps({"enabled": {"calendar": "5.0.0", "files": "2.0"},
                      "disabled": {"deck": "1.0"}})
    assert apps_script.parse_app_list(0, out + "\n") == {"calendar", "files"}
    # A PHP warning before the JSON does not hide it.
    assert apps_script.parse_app_list(0, "Warning: x\n" + out) == {"calendar", "files"}
    # occ exits 0 after "Cannot write into config directory!": no JSON, nothing to trust.
    assert apps_script.parse_app_list(0, "Cannot write into \"config\" directory!\n") is None
    assert apps_script.parse_app_list(1, out) is None
    assert apps_script.parse_app_list(0, "{not json") is None


def test_app_list_script_runs_occ_as_www_data_in_nextcloud() -> None:
    script = apps_script.app_list("/opt/kit-collab", "saint-essai-fr")
    assert "exec -T -u 33 nextcloud php occ app:list --output=json" in script
