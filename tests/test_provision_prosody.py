"""Jitsi provisioning against a real Prosody 13 (Debian 13's, the major the Jitsi image
runs: in a container of the kce2e/prosody image, run by the test under tmp; provbed.py).

provision's own read and apply scripts run through a LocalTransport, with prosodyctl called
here (pointed at the test config) instead of in the jitsi-prosody container. Each account is
checked by a real XMPP login (SASL PLAIN over loopback). Skipped when prosody is absent.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit_collab.apply import provision
from kit_collab.apply.transport import LocalTransport

from .provbed import (
    Prosody,
    local_target,
    profile_data,
    profile_of,
    prosody_version,
    running_prosody,
    secrets_for,
)

pytestmark = pytest.mark.validators


@pytest.fixture
def prosody(tmp_path: Path) -> Iterator[Prosody]:
    with running_prosody(tmp_path / "prosody") as server:
        yield server


def _target(server: Prosody, tmp: Path) -> provision.Target:
    return local_target(tmp, prosody_config=str(server.config))


def _survey(server: Prosody, tmp: Path, data: dict[str, Any],
            secrets: dict[str, dict[str, str]]) -> provision.Survey:
    with LocalTransport() as transport:
        return provision.survey(transport, _target(server, tmp), profile_of(data), ("jitsi",),
                                secrets)


def _apply(server: Prosody, tmp: Path, data: dict[str, Any], survey: provision.Survey,
           secrets: dict[str, dict[str, str]], *, confirm: bool) -> provision.Outcome:
    with LocalTransport() as transport:
        outcome = provision.apply(transport, _target(server, tmp), profile_of(data),
                                  survey.actions, secrets, confirm_disable=confirm)
    assert outcome.failed == [], [(r.action, r.log) for r in outcome.failed]
    return outcome


def test_jitsi_accounts_are_tested_against_prosody_13_as_the_jitsi_image_runs(
        prosody: Prosody) -> None:
    """Issue 14, item 11: not Debian 12's Prosody 0.12 any more."""
    version = prosody_version()
    print(f"Prosody {version}")
    assert version.split(".")[0] == "13", version


def test_accounts_created_login_and_rerun_is_a_noop(prosody: Prosody, tmp_path: Path) -> None:
    data = profile_data(jitsi=True)
    secrets = secrets_for(profile_of(data))
    found = _survey(prosody, tmp_path, data, secrets)
    assert found.warnings == []
    assert [(a.kind, a.target) for a in found.actions] == [
        ("create-user", "mdupont"), ("create-user", "jagent"), ("create-user", "lpetit")]
    _apply(prosody, tmp_path, data, found, secrets, confirm=False)
    for uid in ("mdupont", "jagent", "lpetit"):
        assert prosody.account_file(uid).is_file()
        assert prosody.can_login(uid, secrets["comptes"][uid])  # the running server sees it
        assert not prosody.can_login(uid, "not-the-password")
    again = _survey(prosody, tmp_path, data, secrets)
    assert again.actions == []
    assert [u.id for u in again.existing.jitsi.users] == ["jagent", "lpetit", "mdupont"]


def test_removed_user_is_disabled_not_deleted_then_enabled(prosody: Prosody,
                                                           tmp_path: Path) -> None:
    data = profile_data(jitsi=True)
    secrets = secrets_for(profile_of(data))
    _apply(prosody, tmp_path, data, _survey(prosody, tmp_path, data, secrets), secrets,
           confirm=False)
    without = copy.deepcopy(data)
    without["utilisateurs"] = [u for u in data["utilisateurs"] if u["identifiant"] != "lpetit"]
    found = _survey(prosody, tmp_path, without, secrets)
    assert [(a.kind, a.target) for a in found.actions] == [("disable", "lpetit")]

    # Not confirmed: nothing happens.
    waiting = _apply(prosody, tmp_path, without, found, secrets, confirm=False)
    assert [a.target for a in waiting.skipped] == ["lpetit"] and waiting.results == []
    assert prosody.can_login("lpetit", secrets["comptes"]["lpetit"])

    # Confirmed: the account stays (its file too) but nobody can log in with it any more.
    _apply(prosody, tmp_path, without, found, secrets, confirm=True)
    assert prosody.account_file("lpetit").is_file()
    assert not prosody.can_login("lpetit", secrets["comptes"]["lpetit"])
    assert prosody.can_login("jagent", secrets["comptes"]["jagent"])
    record = Path(tmp_path / "srv" / "communes" / "saint-essai-fr" / provision.DISABLED_FILE)
    assert record.read_text().split() == ["lpetit"]
    after = _survey(prosody, tmp_path, without, secrets)
    assert after.actions == []
    assert after.existing.jitsi.user("lpetit").enabled is False

    # Back in the profile: enabled again with the agent's initial password.
    back = _survey(prosody, tmp_path, data, secrets)
    assert [(a.kind, a.target) for a in back.actions] == [("enable", "lpetit")]
    _apply(prosody, tmp_path, data, back, secrets, confirm=False)
    assert prosody.can_login("lpetit", secrets["comptes"]["lpetit"])
    assert record.read_text().split() == []
    assert _survey(prosody, tmp_path, data, secrets).actions == []


def test_passwords_reach_prosodyctl_on_stdin_only(prosody: Prosody, tmp_path: Path) -> None:
    """The apply script hands each password to prosodyctl through a pipe from printf (a
    shell builtin): no command line carries it."""
    data = profile_data(jitsi=True)
    secrets = secrets_for(profile_of(data))
    found = _survey(prosody, tmp_path, data, secrets)
    script, _owners = provision.apply_script(_target(prosody, tmp_path), found.actions,
                                             "saint-essai.fr", secrets)
    for uid in ("mdupont", "jagent", "lpetit"):
        lines = [line for line in script.splitlines() if secrets["comptes"][uid] in line]
        assert len(lines) == 1, lines
        assert lines[0].startswith("if [ \"$ok\" = 1 ]; then printf '%s\\n%s\\n' ")
        command = lines[0].split(" | ", 1)[1]
        assert secrets["comptes"][uid] not in command
        assert command.startswith("prosodyctl --config ") and f" register {uid} meet.jitsi" \
            in command
    assert os.access(prosody.config, os.R_OK)


def test_users_command_shows_then_applies_on_a_local_server(
        prosody: Prosody, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`kit-collab users` end to end on ``hote: local``: the server's facts and secrets read
    by the real facts script from a commune folder under tmp, the accounts from the real
    Prosody (the commands run here rather than in the jitsi-prosody container)."""
    import json

    import yaml

    from kit_collab.cli.commands import users

    root = tmp_path / "srv"
    data = profile_data(jitsi=True)
    data["serveur"] = {"hote": "local", "ip_publique": "192.0.2.10", "hebergeur": "test",
                       "pays": "FR", "racine": str(root)}
    secrets = secrets_for(profile_of(data))
    commune = root / "communes" / "saint-essai-fr"
    (commune / "releases" / "r-test").mkdir(parents=True)
    (commune / "current").symlink_to("releases/r-test")
    (commune / "state.json").write_text(json.dumps({"recettes": {"jitsi": "1", "coturn": "1"}}))
    (commune / "secrets").mkdir(mode=0o700)
    (commune / "secrets" / "secrets.json").write_text(json.dumps(secrets))
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(provision, "target_for", lambda _p: _target(prosody, tmp_path))

    def run(**options: bool) -> dict[str, Any]:
        code = users.run(path, as_json=True, accept_host_key=None, **{
            "apply": False, "yes": False, **options})
        report = json.loads(capsys.readouterr().out)["communes"][0]["rapport"]
        assert code == 0, report
        return report

    shown = run()
    assert [(a["action"], a["cible"]) for a in shown["actions"]] == [
        ("create-user", "mdupont"), ("create-user", "jagent"), ("create-user", "lpetit")]
    assert shown["comptes"][0]["services"]["jitsi"] == {"etat": "absent",
                                                        "actions": ["create-user"]}
    assert not prosody.account_file("mdupont").exists()  # showing changes nothing
    applied = run(apply=True)
    assert [r["ok"] for r in applied["resultats"]] == [True, True, True]
    assert prosody.can_login("jagent", secrets["comptes"]["jagent"])
    assert run()["actions"] == []

    # lpetit leaves the profile: without --yes (and no terminal) the removal waits.
    data["utilisateurs"] = [u for u in data["utilisateurs"] if u["identifiant"] != "lpetit"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    waiting = run(apply=True)
    assert [a["cible"] for a in waiting["en_attente"]] == ["lpetit"]
    assert prosody.can_login("lpetit", secrets["comptes"]["lpetit"])
    done = run(apply=True, yes=True)
    assert [(r["action"], r["cible"], r["ok"]) for r in done["resultats"]] == [
        ("disable", "lpetit", True)]
    assert not prosody.can_login("lpetit", secrets["comptes"]["lpetit"])
    final = run()
    assert final["actions"] == []
    assert {r["identifiant"]: r["services"]["jitsi"]["etat"] for r in final["comptes"]} == {
        "mdupont": "present", "jagent": "present", "lpetit": "desactive"}
    assert users.run(path, as_json=False, accept_host_key=None, apply=False, yes=False) == 0
    text = capsys.readouterr().out
    assert "Comptes de Saint-Essai" in text and "désactivé" in text
    assert "Les comptes correspondent au profil." in text
