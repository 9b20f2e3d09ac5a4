"""Every script sent to the server, built by its pure builder and compared byte for byte with
tests/golden/scripts/<builder>-<case>.sh; each one also passes ``sh -n`` and shellcheck.

KIT_COLLAB_UPDATE_GOLDEN=1 writes the goldens again (then read the diff before committing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kit_collab.apply.scripts import (
    accounts_apply,
    accounts_read,
    apps,
    bootstrap,
    compose,
    facts,
    firewall,
    first_contact,
    lock,
    mail,
    pg_migrate,
    probes,
    release,
    remove,
    snapshot,
    state,
    sudo,
    tasks,
)
from kit_collab.apply.scripts.target import Target
from kit_collab.bundle.render import Task
from kit_collab.plan import accounts
from kit_collab.plan.accounts import Existing, ServiceState, User
from kit_collab.plan.changes import Saved
from kit_collab.plan.pg_major import PgMigration
from kit_collab.profile.model import Profile

from .conftest import base_profile

GOLDEN = Path(__file__).parent / "golden" / "scripts"
SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "/opt/kit-collab"
SLUG = "saint-essai-fr"
HOSTILE = "x'; rm -rf / #$(id)`id`"
SECRETS = {"comptes": {"mdupont": "Pw-Marie-1", "jagent": "Pw-Jean-2"},
           "matrix": {"bot_password": "bot-secret-123", "registration_shared_secret": "s3"}}


def _profile() -> Profile:
    data = base_profile()
    data["utilisateurs"].append({"identifiant": "jagent", "nom": "Jean Agent",
                                 "email": "jean@saint-essai.fr", "role": "agent",
                                 "services_municipaux": ["accueil"]})
    return Profile.model_validate(data)


def _apply_accounts() -> str:
    fresh = Existing(
        nextcloud=ServiceState(users=(User("admin", "admin", groups=("admin",)),),
                               groups=("admin",)),
        matrix=ServiceState(), jitsi=ServiceState(users=(User("ancien"),)))
    actions = accounts.plan(_profile(), fresh)
    disable = [a for a in actions if a.kind == "disable"]
    assert disable, "the case must disable a Jitsi account (a random password)"
    script, _owners = accounts_apply.apply_script(
        Target(ROOT, SLUG), actions, "saint-essai.fr", SECRETS, lambda: "Aleatoire-1")
    return script


SAVED = (Saved("nextcloud", "nextcloud", ("nextcloud_html",)),
         Saved("nextcloud", "nextcloud-db", (), "nextcloud", "nextcloud", "nextcloud_db"))


def _task(user: str | None) -> Task:
    return Task(recipe="nextcloud", name="etat", service="nextcloud",
                argv=("php", "occ", "status"),
                description="état", user=user, env=(("OC_PASS", "nextcloud.admin_password"),))


PG = PgMigration("matrix", "matrix-db", ("matrix-synapse",), "synapse", "synapse", "matrix_db",
                 "matrix_db", "matrix_db-pg18", "postgres:17.11", "postgres:18.1", 17, 18)
PG_HOSTILE = PgMigration("x", HOSTILE, (HOSTILE, "b"), HOSTILE, HOSTILE, "v", HOSTILE,
                         HOSTILE + "-pg18", HOSTILE, HOSTILE, 17, 18)

CASES: dict[str, Callable[[], str]] = {
    "facts": lambda: facts.script(ROOT, SLUG),
    "firewall": lambda: firewall.reconcile(ROOT, SLUG, ["3478/udp", "49160:49259/udp"], 22),
    "firewall-remove": lambda: firewall.reconcile(ROOT, None, (), 2222),
    "lock-take": lambda: lock.take_lock(ROOT, SLUG, "moi@poste pid=1 install r-1", "r-0"),
    "lock-take-staged-ports": lambda: lock.take_lock(
        ROOT, SLUG, HOSTILE, "", staged=True, ports=[10000, 10001, 3478]),
    "lock-unlock": lambda: lock.unlock(ROOT, SLUG),
    "release-upload": lambda: release.upload(ROOT, SLUG, "r-2", "r-1",
                                             ["nextcloud/old.conf", "a b"], "ab" * 32, 12),
    "release-upload-first": lambda: release.upload(ROOT, SLUG, "r-1", "", [], "ab" * 32, 3),
    "release-upload-perms": lambda: release.upload(
        ROOT, SLUG, "r-1", "", [], "ab" * 32, 4,
        {"compose.yaml": (0o644, None), "matrix/homeserver.yaml": (0o640, "0:991"),
         "matrix/signing.key": (0o640, "0:991"), HOSTILE: (0o600, None)}),
    "release-upload-hostile-id": lambda: release.upload(ROOT, SLUG, HOSTILE, HOSTILE, [],
                                                        "ab" * 32, 1),
    "release-pull": lambda: release.pull(ROOT, SLUG, "r-2"),
    "release-switch": lambda: release.switch_and_up(
        ROOT, SLUG, "r-2", ["nextcloud"], 300, before=state.write_lines({"release": "r-1"}),
        after="echo after\n"),
    "release-switch-nothing-to-recreate": lambda: release.switch_and_up(ROOT, SLUG, "r-2", [],
                                                                        300),
    "release-back-first-install": lambda: release.switch_back(ROOT, SLUG, "", 300),
    "release-back-some": lambda: release.switch_back(
        ROOT, SLUG, "r-1", 300, restart=["matrix-synapse"], before="echo before\n",
        after=state.write_lines({"release": "r-1", "note": HOSTILE})),
    "release-back-all": lambda: release.switch_back(ROOT, SLUG, "r-1", 300),
    "state-finish": lambda: state.finish(ROOT, SLUG, {"release": "r-2", "note": HOSTILE},
                                         "2026-01-01T00:00:00Z moi install r-2 ok",
                                         ["r-2", "r-1", "", HOSTILE]),
    "state-record": lambda: state.record(ROOT, SLUG, {"release": "r-1", "note": HOSTILE}),
    "state-audit": lambda: state.audit_only("/srv/kc", "ligne d'audit"),
    "compose-ps": lambda: compose.ps(ROOT, SLUG) + "\n",
    "compose-logs": lambda: compose.logs(ROOT, SLUG, ["nextcloud", "matrix-synapse"]) + "\n",
    "bootstrap": lambda: bootstrap.bootstrap(ROOT, "1", 22, [("80", "tcp"), ("443", "udp"),
                                                             ("10000:10010", "udp")], None),
    "bootstrap-mirror": lambda: bootstrap.bootstrap(ROOT, "1", 2222, [],
                                                    "http://miroir.local:5000"),
    "remove": lambda: remove.remove(ROOT, SLUG, "moi remove r-1", "20260101-000000"),
    "tasks": lambda: tasks.tasks_script(ROOT, SLUG, [
        (_task("33"), {"OC_PASS": HOSTILE}), (_task(None), {})]),
    "sudo-root": lambda: sudo.command_line("echo ok", sudo=True, root=True) + "\n",
    "sudo-user": lambda: sudo.command_line("echo ok", sudo=True, root=False,
                                           timeout=60) + "\n",
    "sudo-checked": lambda: sudo.command_line("echo ok", sudo=True, root=False,
                                              check_sudo=True) + "\n",
    "probes-clock": lambda: probes.clock() + "\n",
    "probes-internal-ca": lambda: probes.internal_ca(ROOT) + "\n",
    "apps-list": lambda: apps.app_list(ROOT, SLUG) + "\n",
    "accounts-read": lambda: accounts_read.read_script(
        Target(ROOT, SLUG), ("nextcloud", "matrix", "jitsi"), "saint-essai.fr", SECRETS,
        ["accueil", "tous_les_agents"]),
    "accounts-read-no-bot-password": lambda: accounts_read.read_script(
        Target(ROOT, SLUG), ("matrix",), "saint-essai.fr", {}, []),
    "accounts-apply": _apply_accounts,
    "snapshot-take": lambda: snapshot.take(ROOT, SLUG, "r-2", "r-1", SAVED),
    "snapshot-take-base-only": lambda: snapshot.take(ROOT, SLUG, HOSTILE, "r-1", SAVED[1:]),
    "snapshot-read": lambda: snapshot.read(ROOT, SLUG, "r-2"),
    "snapshot-restore": lambda: snapshot.restore(ROOT, SLUG, "r-2", "r-1", SAVED),
    "snapshot-prune": lambda: snapshot.prune(ROOT, SLUG, "r-2"),
    "first-contact-account": lambda: first_contact.account("debian"),
    "first-contact-install-key": lambda: first_contact.install_key(
        "debian", f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc {HOSTILE}", create=True),
    "first-contact-install-key-sudo": lambda: first_contact.install_key(
        "debian", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc moi@poste", create=False,
        sudo_rule=True),
    "first-contact-install-key-root": lambda: first_contact.install_key(
        "root", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc moi@poste", create=False),
    "first-contact-disable": first_contact.disable_passwords,
    "first-contact-enable": lambda: first_contact.enable_passwords("/srv/ssh/sshd_config"),
    "mail-probe": lambda: mail.probe(mail.Relay("smtp.exemple.fr", 587, False, HOSTILE)) + "\n",
    "mail-probe-tls-cafile": lambda: mail.probe(mail.Relay("smtp.exemple.fr", 465, True, "x"),
                                                cafile=HOSTILE) + "\n",
    "mail-send": lambda: mail.send(mail.Relay("smtp.exemple.fr", 587, False, "x"), HOSTILE,
                                   "a@exemple.fr", mail.message(
                                       "a@exemple.fr", "b@exemple.fr", HOSTILE, "smtp",
                                       "Thu, 03 Dec 2026 13:00:00 GMT")) + "\n",
    "mail-notify": lambda: "rapport=x\n" + mail.notify(
        mail.config_path(ROOT, SLUG), "a@exemple.fr", HOSTILE, "Sauvegarde échouée")
    + '\necho "$mail_code"\n',
    "pg-migrate": lambda: pg_migrate.migrate(pg_migrate.Target(ROOT, SLUG, "r-2"), PG),
    "pg-migrate-hostile": lambda: pg_migrate.migrate(pg_migrate.Target(ROOT, SLUG, HOSTILE),
                                                     PG_HOSTILE),
    "pg-migrate-undo": lambda: pg_migrate.undo(pg_migrate.Target(ROOT, SLUG, "r-2"), PG),
    "pg-migrate-prune": lambda: pg_migrate.prune(ROOT, SLUG, ["matrix_db", HOSTILE]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_matches_its_golden(case: str) -> None:
    text = CASES[case]()
    path = GOLDEN / f"{case}.sh"
    if os.environ.get("KIT_COLLAB_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden for {case}: run with KIT_COLLAB_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_golden_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.sh")) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_parses_with_sh(case: str) -> None:
    result = subprocess.run(["sh", "-n"], input=CASES[case](), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_passes_shellcheck(case: str) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    # SC2016 ("expressions don't expand in single quotes") is left out: the hostile values
    # of these cases hold "$(id)" and backquotes that must stay literal, which is the point.
    result = subprocess.run([shellcheck, "--shell=sh", "--norc", "--exclude=SC2016", "-"],
                            input=CASES[case](), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- parsers: pure functions of a script's output --------------------------------------------


def test_lock_answers_are_read_from_the_exit_code() -> None:
    assert lock.parse_lock(0, "locked\n") == lock.LockAnswer("taken", "locked")
    assert lock.parse_lock(lock.LOCKED_EXIT, "moi pid=3 install r-1\n").kind == "held"
    assert lock.parse_lock(lock.CHANGED_EXIT, "current=r-9").kind == "changed"
    assert lock.parse_lock(lock.PORTS_EXIT, "port=10000").kind == "ports"
    assert lock.parse_lock(1, "tar: erreur").kind == "failed"


def test_lock_age_from_its_details() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC)
    assert lock.lock_age("moi pid=1 install r-1 depuis=2026-01-01T00:00:00Z", now) == 3600
    assert lock.lock_age("moi pid=1 install r-1", now) is None
    assert lock.lock_age("depuis=hier", now) is None


def test_failed_tasks_are_named_by_index() -> None:
    output = "task 0 ok\ntask 1 failed\nsortie de la tâche: task x failed\ntask 2 failed\n"
    assert tasks.failed_tasks(output) == [1, 2]


def test_task_environment_names_must_be_identifiers() -> None:
    with pytest.raises(ValueError, match="identifiers"):
        tasks.tasks_script(ROOT, SLUG, [(_task(None), {"A=1; id": "x"})])


def test_bootstrap_failures_read_from_their_marker() -> None:
    assert bootstrap.failure(0, "bootstrapped") is None
    assert bootstrap.failure(3, "unsupported-os=alpine 3.20")[0].startswith("système")  # type: ignore[index]
    assert bootstrap.failure(1, "apt-get: erreur") is None


def test_clock_and_internal_ca_answers() -> None:
    skew, uncertainty = probes.parse_clock("1000.5\n", 990.0, 991.0)
    assert (skew, uncertainty) == (10.0, 0.5)
    assert probes.parse_clock("1000.N", 999.0, 1001.0) == (0.0, 2.0)  # no %N: a second more
    assert probes.parse_clock("date: invalide", 0, 0)[0] is None
    assert probes.parse_internal_ca(0, "-----BEGIN CERTIFICATE-----\n") is not None
    assert probes.parse_internal_ca(1, "-----BEGIN CERTIFICATE-----\n") is None


def test_sudo_refusals() -> None:
    assert sudo.sudo_refusal(sudo.SUDO_REFUSED, sudo.NO_SUDO.encode()) == "absent"
    assert sudo.sudo_refusal(sudo.SUDO_REFUSED, sudo.SUDO_ASKS.encode()) == "password"
    assert sudo.sudo_refusal(0, sudo.NO_SUDO.encode()) is None


def test_compose_ps_in_both_shapes() -> None:
    line = '{"Service": "web", "State": "running", "Health": "healthy", "ExitCode": 0}'
    array = '[{"Service": "job", "State": "exited", "ExitCode": 1}]'
    assert compose.parse_ps(f"bruit\n{line}\n{array}\n") == [
        {"service": "web", "etat": "running", "sante": "healthy", "code": "0"},
        {"service": "job", "etat": "exited", "sante": "", "code": "1"}]
    assert compose.failing_services(f"{line}\n{array}", frozenset({"job"})) == ["job"]


def test_a_hostile_release_id_stays_one_word() -> None:
    script = release.upload(ROOT, SLUG, HOSTILE, "", [], "ab" * 32, 1)
    assert f"REL={sudo.q(HOSTILE)};" in script and HOSTILE not in script.replace(
        sudo.q(HOSTILE), "")


def test_builders_and_parsers_import_nothing_with_side_effects() -> None:
    """apply/scripts is pure: no SSH, HTTP, DNS or terminal library is loaded with it."""
    code = ("import sys; import kit_collab.apply.scripts.remote, "
            "kit_collab.apply.scripts.accounts_apply, kit_collab.apply.scripts.probes, "
            "kit_collab.apply.scripts.sudo, kit_collab.apply.scripts.facts; "
            "print(sorted(m for m in ('paramiko', 'httpx', 'dns', 'rich', 'typer') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert result.stdout.strip() == "[]", result.stderr
