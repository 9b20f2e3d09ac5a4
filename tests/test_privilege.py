"""Least privilege on the server, for real (loopback sshd, the Docker bed of test_deploy.py;
the server is this machine): no secret on any process command line while an install runs
(its tasks and the agents' accounts included), nor in its ``-v`` output or its log files;
a release's files belong to root, readable by a container through its group only, in
folders no other account can read."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw
from kit_collab.errors import RenderError
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from . import dockerbed
from .conftest import base_profile
from .sshd import Sshd, running_sshd

SLUG = dockerbed.slug("privilege")
SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    with dockerbed.engine([SLUG]) as tags:
        yield tags


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with running_sshd(dockerbed.HOST) as server:
        yield server


@pytest.fixture
def server_root(tmp_path: Path, images) -> Iterator[Path]:
    with dockerbed.server_root(tmp_path, [SLUG]) as root:
        yield root


def _profile_file(tmp_path: Path, sshd: Sshd, server_root: Path) -> Path:
    data = {
        "commune": {"nom": "Saint-Privé", "domaine": "saint-prive.fr",
                    "email_contact": "mairie@saint-prive.fr", "slug": SLUG},
        "serveur": {"hote": sshd.host, "port_ssh": sshd.port, "utilisateur": "root",
                    "cle_ssh": str(sshd.client_key), "hebergeur": "test", "pays": "FR",
                    "racine": str(server_root), "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}},
        "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
        "utilisateurs": [
            {"identifiant": "mdupont", "nom": "Marie Dupont", "email": "marie@saint-prive.fr",
             "role": "administrateur", "services_municipaux": ["accueil"]},
            {"identifiant": "jagent", "nom": "Jean Agent", "email": "jean@saint-prive.fr",
             "services_municipaux": ["accueil"]}],
    }
    path = tmp_path / "commune.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class CommandLines(threading.Thread):
    """Every distinct command line of the machine's processes, read from /proc/*/cmdline
    every few milliseconds (what any account of the server can read)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.sweeps = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        line = handle.read()
                    if line:
                        self.seen.add(line.replace(b"\0", b" "))
            self.sweeps += 1
            time.sleep(0.002)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _leaks(lines: set[bytes], values: set[str]) -> list[str]:
    """The command lines holding a secret, the secret itself masked (this report may be
    printed by pytest)."""
    out = set()
    for line in lines:
        if any(v.encode() in line for v in values):
            text = line.decode("utf-8", "replace")
            for v in values:
                text = text.replace(v, "<secret>")
            out.add(text[:300])
    return sorted(out)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """kit-collab in its own process, as a person runs it."""
    full = {**os.environ, **env, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "kit_collab", *args], env=full,
                          capture_output=True, text=True, timeout=900, check=False)


def _files_text(folder: Path) -> str:
    if not folder.exists():
        return ""
    return "".join(p.read_text("utf-8", "replace") for p in sorted(folder.rglob("*"))
                   if p.is_file())


def test_no_secret_on_any_command_line_in_verbose_output_or_logs(sshd, server_root,
                                                                 tmp_path) -> None:
    data_root = dockerbed.demo_data_root(tmp_path)
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs"), "KIT_COLLAB_LANG": "fr"}
    watch = CommandLines()
    watch.start()
    try:
        first = _cli(["-v", "install", str(path), "--yes", "--force", "--accept-host-key",
                      sshd.fingerprint], env)
        again = _cli(["-v", "users", str(path), "--apply", "--yes"], env)
    finally:
        watch.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "DEBUG" in first.stderr  # -v really showed the details
    secrets = json.loads((server_root / "communes" / SLUG / "secrets" /
                          "secrets.json").read_text())
    values = {v for bucket in secrets.values() for v in bucket.values()}
    assert set(secrets["comptes"]) == {"mdupont", "jagent"} and secrets["demo"]["token"]
    assert all(len(v) >= 12 for v in values)
    # The watch saw the install's own commands (it could have seen a secret among them).
    assert watch.sweeps > 100
    assert any(SLUG.encode() in line and b"compose" in line for line in watch.seen)
    assert not _leaks(watch.seen, values)
    texts = {"install -v": first.stdout + first.stderr, "users -v": again.stdout + again.stderr,
             "local logs": _files_text(tmp_path / "logs"),
             "server logs": _files_text(server_root / "log")}
    assert "install" in texts["server logs"]  # the audit log is where it should be
    for where, text in texts.items():
        for value in values:
            assert value not in text, where


def test_release_files_belong_to_root_and_a_container_reads_them_by_group(
        sshd, server_root, tmp_path) -> None:
    data_root = dockerbed.demo_data_root(tmp_path)
    recipe = data_root / "recipes" / "demo" / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace(
        "{template: index.html.j2, dest: index.html, format: text}",
        '{template: index.html.j2, dest: index.html, format: text, mode: "0640", '
        'owner: "0:4321"}'))
    path = _profile_file(tmp_path, sshd, server_root)
    env = {"KIT_COLLAB_RECIPES": str(data_root), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "kh"),
           "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs")}
    first = _cli(["install", str(path), "--yes", "--force", "--accept-host-key",
                  sshd.fingerprint], env)
    assert first.returncode == 0, first.stdout + first.stderr
    commune = server_root / "communes" / SLUG
    release = (commune / "current").resolve()
    page = release / "demo" / "index.html"
    assert (page.stat().st_uid, page.stat().st_gid) == (0, 4321)
    assert stat.S_IMODE(page.stat().st_mode) == 0o640
    for folder in (commune, commune / "releases", release, release / "demo"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == 0, folder
    env_file = release / "demo" / "demo.env"
    assert (env_file.stat().st_uid, stat.S_IMODE(env_file.stat().st_mode)) == (0, 0o600)
    # A container running as the group's account reads the file; another account cannot.
    for user, ok in (("4321:4321", True), ("4322:4322", False)):
        out = dockerbed.docker("run", "--rm", "--user", user, "-v", f"{page}:/f:ro",
                               dockerbed.BUSYBOX_IMAGE, "cat", "/f", check=False)
        assert (out.returncode == 0) is ok, (user, out.stderr)

    # The group alone changes (same content): the new release has the new owner, although
    # the file is not sent again (it is copied from the running release).
    recipe.write_text(recipe.read_text().replace('owner: "0:4321"', 'owner: "0:4322"'))
    second = _cli(["install", str(path), "--yes", "--force"], env)
    assert second.returncode == 0, second.stdout + second.stderr
    new = (commune / "current").resolve()
    assert new != release
    assert (new / "demo" / "index.html").stat().st_gid == 4322


def test_a_recipe_file_owned_by_a_container_account_is_refused(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    shutil.copytree(Path(__file__).resolve().parent.parent / "recipes", recipes)
    matrix = recipes / "matrix" / "recipe.yaml"
    matrix.write_text(matrix.read_text().replace('owner: "0:991"}', 'owner: "991:991"}', 1))
    data = base_profile()
    data["services"]["matrix"] = {"actif": True}
    with pytest.raises(RenderError) as info:
        make_bundle(Profile.model_validate(data), load_recipes(tmp_path), draw=digest_draw("t"))
    assert "root" in info.value.message and "homeserver.yaml" in info.value.message


def test_no_secret_on_a_command_line_while_accounts_are_provisioned(tmp_path: Path) -> None:
    """The accounts' scripts for real: a real Synapse (its admin API) and a real Prosody
    (prosodyctl), through provision's own read and apply scripts (provbed.py)."""
    from kit_collab.apply import provision
    from kit_collab.apply.transport import LocalTransport

    from .provbed import (
        local_target,
        profile_data,
        profile_of,
        require_prosody,
        running_prosody,
        running_synapse,
        secrets_for,
    )

    require_prosody()
    data = profile_data(matrix=True, jitsi=True)
    profile = profile_of(data)
    with running_synapse(tmp_path / "synapse") as synapse, \
            running_prosody(tmp_path / "prosody") as prosody:
        secrets = secrets_for(profile, synapse.secrets)
        target = local_target(synapse.tmp, synapse_url=synapse.url,
                              synapse_token_file=str(synapse.tmp / "bot.token"),
                              prosody_config=str(prosody.config))
        watch = CommandLines()
        watch.start()
        try:
            with LocalTransport() as transport:
                found = provision.survey(transport, target, profile, ("matrix", "jitsi"),
                                         secrets)
                outcome = provision.apply(transport, target, profile, found.actions, secrets,
                                          confirm_disable=False)
        finally:
            watch.stop()
        token = synapse.tmp / "bot.token"  # the service account's access token, when kept
        tokens = {token.read_text().strip()} if token.is_file() else set()
    assert outcome.failed == [], [(r.action, r.log) for r in outcome.failed]
    assert {a.service for a in found.actions} == {"matrix", "jitsi"}
    assert any(b"prosodyctl" in line for line in watch.seen)  # it saw the accounts' commands
    values = {secrets["comptes"][u["identifiant"]] for u in data["utilisateurs"]} | {
        secrets["matrix"]["bot_password"], secrets["matrix"]["registration_shared_secret"],
        *(t for t in tokens if t)}
    assert not _leaks(watch.seen, values)


def test_a_served_file_holding_a_secret_is_refused(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).resolve().parent.parent / "recipes", tmp_path / "recipes")
    client = tmp_path / "recipes" / "matrix" / "templates" / "well-known-client.json.j2"
    client.write_text('{"x": "{{ secrets.matrix.form_secret }}"}\n')
    data = base_profile()
    data["services"]["matrix"] = {"actif": True}
    with pytest.raises(RenderError) as info:
        make_bundle(Profile.model_validate(data), load_recipes(tmp_path), draw=digest_draw("t"))
    assert "well-known/client.json" in info.value.message and "secret" in info.value.message
