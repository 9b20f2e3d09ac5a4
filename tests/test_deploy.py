"""Install over SSH for real: a real OpenSSH server on loopback, the machine's Docker engine
with stand-in images (see dockerbed.py), a server root in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit_collab.apply import deploy
from kit_collab.apply.transport import connect
from kit_collab.errors import ConnectError, LockError
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .sshd import SUDO_USER, Sshd, running_sshd, sudo_test_users

SLUG = dockerbed.slug("saint-essai")  # the compose project: this run's own


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    with dockerbed.engine([SLUG]) as tags:
        yield tags


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(dockerbed.HOST) as server:
        yield server


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """The real proxy recipe plus the demo stand-in recipe."""
    return dockerbed.demo_data_root(tmp_path)


@pytest.fixture
def server_root(tmp_path: Path, images) -> Iterator[Path]:
    with dockerbed.server_root(tmp_path, [SLUG]) as root:
        yield root


def profile_for(sshd: Sshd, server_root: Path, user: str = "root") -> Profile:
    return Profile.model_validate({
        "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                    "email_contact": "mairie@saint-essai.fr", "slug": SLUG},
        "serveur": {**sshd.serveur(user).model_dump(), "racine": str(server_root),
                    "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
    })


def _connect(sshd: Sshd, profile: Profile, tmp_path: Path):
    return connect(profile.serveur, accept_host_key=sshd.fingerprint,
                   known_hosts_file=tmp_path / "known_hosts")


def _install(sshd, profile, tmp_path, data_root, **kwargs):
    with _connect(sshd, profile, tmp_path) as transport:
        return deploy.install(transport, profile, load_recipes(data_root), wait_seconds=60,
                              **kwargs)


def test_first_install_then_noop_then_one_change(sshd, server_root, data_root, tmp_path):
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    assert first.applied
    commune = server_root / "communes" / SLUG
    release = commune / "releases" / first.bundle.release
    assert os.readlink(commune / "current") == f"releases/{first.bundle.release}"
    state = json.loads((commune / "state.json").read_text())
    assert state["release"] == first.bundle.release and state["recettes"]["demo"]
    secrets = commune / "secrets" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and secrets.stat().st_uid == 0
    assert stat.S_IMODE(secrets.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((release / "demo" / "demo.env").stat().st_mode) == 0o600
    audit = (server_root / "log" / "audit.log").read_text()
    assert f"install {SLUG} {first.bundle.release} ok" in audit
    ids = dockerbed.container_ids(SLUG)
    assert set(ids) == {"demo-web", "demo-worker"}
    token = json.loads(secrets.read_text())["demo"]["token"]
    task_out = dockerbed.docker("exec", ids["demo-web"], "cat", "/tmp/task-done").stdout
    assert task_out.strip() == str(len(token) + 1)  # the task saw the secret via env

    # An immediate re-run: nothing sent, nothing restarted, one command round trip.
    before = {p: p.stat().st_mtime_ns for p in commune.rglob("*") if p.is_file()}
    again = _install(sshd, profile, tmp_path, data_root)
    assert not again.applied and again.plan.noop
    assert again.round_trips <= 3
    assert again.round_trips == 1
    assert {p: p.stat().st_mtime_ns for p in commune.rglob("*") if p.is_file()} == before
    assert dockerbed.container_ids(SLUG) == ids

    # One template change: only that file is sent, only its service is recreated.
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))
    third = _install(sshd, profile, tmp_path, data_root)
    # The manifest names the release, so it changes with any change.
    assert third.plan.changed == ("demo/index.html", "kit-collab.json")
    assert not third.plan.added and not third.plan.removed
    assert third.plan.restart == ("demo-web",)
    new_ids = dockerbed.container_ids(SLUG)
    assert new_ids["demo-worker"] == ids["demo-worker"]
    assert new_ids["demo-web"] != ids["demo-web"]
    served = dockerbed.docker("exec", new_ids["demo-web"], "wget", "-q", "-O-",
                              "http://127.0.0.1:8080/").stdout
    assert "demo v2" in served
    # The previous release is kept for a rollback.
    assert (commune / "releases" / first.bundle.release).is_dir()


class CutDuringUpload:
    """Wraps a transport: during the release upload, sends half of the stream, then drops
    the SSH connection, as a network cut would."""

    def __init__(self, inner) -> None:
        self.inner = inner

    @property
    def round_trips(self) -> int:
        return self.inner.round_trips

    def run(self, script, *, stdin=None, **kwargs):
        if "tar -x -f -" in script and "releases/" in script and isinstance(stdin, bytes):
            data = stdin

            def chunks():
                yield data[: len(data) // 2]
                self.inner.close()
                yield data[len(data) // 2:]

            return self.inner.run(script, stdin=chunks(), **kwargs)
        return self.inner.run(script, stdin=stdin, **kwargs)


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_connection_cut_during_upload_then_next_run_converges(sshd, server_root, data_root,
                                                              tmp_path):
    profile = profile_for(sshd, server_root)
    first = _install(sshd, profile, tmp_path, data_root)
    commune = server_root / "communes" / SLUG
    running = _tree(commune / "releases" / first.bundle.release)
    ids = dockerbed.container_ids(SLUG)
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2") + "<!--" + "x" * 300_000 + "-->\n")
    with _connect(sshd, profile, tmp_path) as transport, pytest.raises(ConnectError):
        deploy.install(CutDuringUpload(transport), profile, load_recipes(data_root),
                       wait_seconds=60)
    # The running release is intact, still current, its services untouched, no lock left.
    assert os.readlink(commune / "current") == f"releases/{first.bundle.release}"
    assert _tree(commune / "releases" / first.bundle.release) == running
    assert dockerbed.container_ids(SLUG) == ids
    assert not (commune / ".lock").exists()
    # The next run converges.
    second = _install(sshd, profile, tmp_path, data_root)
    assert second.applied
    assert os.readlink(commune / "current") == f"releases/{second.bundle.release}"
    assert not list((commune / "releases").glob("*.partial"))


def test_lock_held_by_another_operator(sshd, server_root, data_root, tmp_path, cli):
    profile = profile_for(sshd, server_root)
    lock = server_root / "communes" / SLUG / ".lock"
    lock.mkdir(parents=True)
    (lock / "info").write_text(
        "claire@poste-2 pid=4242 install r-abc depuis=2026-11-24T06:00:00Z\n")
    with pytest.raises(LockError) as info:
        _install(sshd, profile, tmp_path, data_root)
    assert "claire@poste-2" in info.value.message
    assert "kit-collab unlock" in (info.value.hint or "")
    assert info.value.exit_code == 4
    assert not (server_root / "communes" / SLUG / "releases").exists()  # nothing sent
    # Through the CLI: exit 4, the holder named; then an explicit unlock frees it.
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts")}
    result = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                 env=env)
    assert result.code == 4 and "claire@poste-2" in result.err
    assert cli("unlock", path, "--force", env=env).code == 0
    assert not lock.exists()
    assert cli("install", path, "--yes", "--force", env=env).code == 0


def test_atomic_lock_lets_one_of_two_in(sshd, server_root, tmp_path):
    from kit_collab.apply.scripts import lock

    profile = profile_for(sshd, server_root)
    script = lock.take_lock(str(server_root), SLUG, "op-1", "")
    with _connect(sshd, profile, tmp_path) as a, _connect(sshd, profile, tmp_path) as b:
        first, second = a.run(script), b.run(script)
    assert first.code == 0 and second.code == lock.LOCKED_EXIT
    assert b"op-1" in second.stdout


def _profile_file(tmp_path: Path, sshd: Sshd, server_root: Path, user: str = "root") -> Path:
    import yaml

    data = {
        "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                    "email_contact": "mairie@saint-essai.fr", "slug": SLUG},
        "serveur": {"hote": sshd.host, "port_ssh": sshd.port, "utilisateur": user,
                    "cle_ssh": str(sshd.client_key), "hebergeur": "test", "pays": "FR",
                    "racine": str(server_root), "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
        "utilisateurs": [{"identifiant": "mdupont", "nom": "Marie Dupont",
                          "email": "marie@saint-essai.fr", "role": "administrateur"}],
    }
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_host_keys_unknown_refused_changed_refused_nothing_sent(server_root, data_root,
                                                                tmp_path, cli):
    with running_sshd(dockerbed.HOST) as own:
        path = _profile_file(tmp_path, own, server_root)
        env = {"KIT_COLLAB_RECIPES": str(data_root),
               "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh")}
        unknown = cli("install", path, "--yes", "--force", env=env)
        assert unknown.code == 3
        assert own.fingerprint in unknown.err and "--accept-host-key" in unknown.err
        assert not (server_root / "communes").exists()
        # Accepted once (recorded), then the server's key changes: refused, nothing sent.
        assert cli("plan", path, "--accept-host-key", own.fingerprint, env=env).code == 0
        old = own.fingerprint
        own.restart(new_host_key=True)
        changed = cli("install", path, "--yes", "--force", env=env)
        assert changed.code == 3
        assert old in changed.err and own.fingerprint in changed.err
        assert "ssh-keygen -R" in changed.err
        assert not (server_root / "communes").exists()


def test_non_root_user_with_sudo(sshd, server_root, data_root, tmp_path, cli):
    from .sshd import PROMPT_USER

    with sudo_test_users():
        sshd.authorize(SUDO_USER)
        sshd.authorize(PROMPT_USER)
        profile = profile_for(sshd, server_root, user=SUDO_USER)
        outcome = _install(sshd, profile, tmp_path, data_root)
        assert outcome.applied
        secrets = server_root / "communes" / SLUG / "secrets" / "secrets.json"
        assert secrets.stat().st_uid == 0  # written as root through sudo
        refused = profile_for(sshd, server_root, user=PROMPT_USER)
        with pytest.raises(ConnectError) as info:
            _install(sshd, refused, tmp_path, data_root)
        assert "NOPASSWD" in (info.value.hint or "") + info.value.message


def test_failed_health_rolls_back_and_secrets_stay_hidden(sshd, server_root, data_root,
                                                          tmp_path, cli):
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs")}
    first = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                env=env)
    assert first.code == 0, first.text
    # After the deploy, the recipes' HTTPS checks ran through the real Caddy (internal CA read
    # over SSH) and found the demo page: any error there would have made the exit code 1.
    assert "Contrôles de santé" in first.out
    # The agent's sheet was written beside the profile, privately, and never printed.
    sheets = tmp_path / f"fiches-{SLUG}"
    assert stat.S_IMODE(sheets.stat().st_mode) == 0o700
    assert "Marie Dupont" in (sheets / "fiche-mdupont.html").read_text(encoding="utf-8")
    assert f"fiches-{SLUG}" in first.out
    commune = server_root / "communes" / SLUG
    good = os.readlink(commune / "current")
    # A release whose web service never becomes healthy.
    compose = data_root / "recipes" / "demo" / "templates" / "compose.yaml.j2"
    compose.write_text(compose.read_text().replace('"-p", "8080"', '"-p", "9090"'))
    (data_root / "recipes" / "demo" / "recipe.yaml").write_text(
        (data_root / "recipes" / "demo" / "recipe.yaml").read_text())
    os.environ["KIT_COLLAB_WAIT"] = "8"
    try:
        bad = cli("install", path, "--yes", "--force", env=env)
    finally:
        os.environ.pop("KIT_COLLAB_WAIT", None)
    assert bad.code == 1
    assert "demo-web" in bad.err and "remise en place" in bad.err
    assert os.readlink(commune / "current") == good
    ids = dockerbed.container_ids(SLUG)
    served = dockerbed.docker("exec", ids["demo-web"], "wget", "-q", "-O-",
                              "http://127.0.0.1:8080/").stdout
    assert "demo v1" in served  # the previous release serves again
    status = cli("status", path, "--json", env=env)
    report = json.loads(status.out)["communes"][0]["rapport"]
    assert status.code == 0 and report["release"] == good.split("/")[1]
    # No secret in any output or log of these runs.
    secrets = json.loads((commune / "secrets" / "secrets.json").read_text())
    logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*") if p.is_file()) \
        if (tmp_path / "logs").exists() else ""
    for value in (v for bucket in secrets.values() for v in bucket.values()):
        for text in (first.text, bad.text, status.text, logs):
            assert value not in text


def test_rollback_on_demand(sshd, server_root, data_root, tmp_path, cli):
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root),
           "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh")}
    # The preflight stops an install on errors (no DNS here): nothing changed on the server.
    stopped = cli("install", path, "--yes", "--accept-host-key", sshd.fingerprint, env=env)
    assert stopped.code == 1 and "vérification préalable" in stopped.err
    assert "Enregistrements DNS à créer" in stopped.out
    assert not (server_root / "communes" / SLUG / "releases").exists()
    # Overridden with --force, and the override is written to the audit log.
    assert cli("install", path, "--yes", "--force", env=env).code == 0
    assert "preflight-force=" in (server_root / "log" / "audit.log").read_text()
    commune = server_root / "communes" / SLUG
    v1 = os.readlink(commune / "current")
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))
    assert cli("install", path, "--yes", "--force", env=env).code == 0
    assert os.readlink(commune / "current") != v1
    result = cli("rollback", path, "--yes", env=env)
    assert result.code == 0, result.text
    assert os.readlink(commune / "current") == v1
    ids = dockerbed.container_ids(SLUG)
    served = dockerbed.docker("exec", ids["demo-web"], "wget", "-q", "-O-",
                              "http://127.0.0.1:8080/").stdout
    assert "demo v1" in served
    # The plan now sees the v2 template as a change again.
    plan = json.loads(cli("plan", path, "--json", env=env).out)["communes"][0]["rapport"]
    assert plan["rien_a_faire"] is False


def test_lock_wait_proceeds_once_the_lock_is_released(sshd, server_root, data_root, tmp_path):
    import threading

    profile = profile_for(sshd, server_root)
    lock = server_root / "communes" / SLUG / ".lock"
    lock.mkdir(parents=True)
    (lock / "info").write_text("autre@poste pid=1 install r-x depuis=2026-11-24T06:00:00Z\n")
    timer = threading.Timer(1.5, lambda: shutil.rmtree(lock))
    timer.start()
    try:
        outcome = _install(sshd, profile, tmp_path, data_root, lock_wait=20)
    finally:
        timer.cancel()
    assert outcome.applied
