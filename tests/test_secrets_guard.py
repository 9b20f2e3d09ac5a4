"""Secrets are never drawn twice, the lock and the secrets are written atomically, and one
commune's damaged files never stop another: for real over SSH (loopback sshd, the Docker bed
of test_deploy.py), plus the pure rules behind them."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from kit_collab.apply import deploy
from kit_collab.apply.scripts import facts as facts_script
from kit_collab.apply.scripts import lock as lock_script
from kit_collab.apply.scripts import release as release_script
from kit_collab.plan import changes, secrets_guard
from kit_collab.plan.facts import Facts
from kit_collab.plan.state import State
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import dest_problem, load_recipes

from . import dockerbed
from .conftest import base_profile
from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    SLUG,
    _connect,
    _install,
    _profile_file,
    data_root,
    images,
    profile_for,
    server_root,
    sshd,
)

ROOT = "/srv/kc"
DOCKER = Facts(docker="26.1.5", compose="2.29.7", bootstrap_version="1")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _parsed(secrets_file: str, content: bytes = b"", extra: str = "") -> Facts:
    lines = [f"secrets_file={secrets_file}", f"secrets={_b64(content)}", extra, "end=ok"]
    return facts_script.parse("\n".join(lines))


# --- pure: the facts, the guard, the plan -------------------------------------------------

@pytest.mark.parametrize(("content", "why"), [
    (b'{"demo": {"token": "ab', "JSON"),
    (b'["demo"]', "forme inattendue"),
    (b'{"demo": {"token": 3}}', "demo"),
])
def test_truncated_or_wrong_shape_secrets_are_a_named_french_error(content: bytes,
                                                                   why: str) -> None:
    facts = _parsed("present", content)
    assert facts.secrets == {} and why in facts.secrets_problem
    with pytest.raises(secrets_guard.SecretsError) as info:
        secrets_guard.check_file(ROOT, SLUG, facts)
    assert f"{ROOT}/communes/{SLUG}/secrets/secrets.json" in info.value.message
    assert info.value.exit_code == 1 and "sauvegarde" in (info.value.hint or "")


@pytest.mark.parametrize("status", ["absent", "empty"])
def test_missing_secrets_of_an_existing_commune_stop_before_anything(status: str) -> None:
    facts = Facts(secrets_file=status, releases=("r-1",), current="r-1",
                  state=State(release="r-1"))
    with pytest.raises(secrets_guard.SecretsError) as info:
        secrets_guard.check_file(ROOT, SLUG, facts)
    assert "rien n'a été changé" in info.value.message
    assert f"{ROOT}/communes/{SLUG}/releases/r-1/" in (info.value.hint or "")
    # A commune seen nowhere on the server: a first install may draw its secrets.
    secrets_guard.check_file(ROOT, SLUG, Facts(secrets_file=status))


def test_upload_never_deployed_does_not_block_a_first_install() -> None:
    """Two first installs on one server: the one that lost a port to the other uploaded a
    release, then reads the server again; that upload holds no stored secret."""
    secrets_guard.check_file(ROOT, SLUG, Facts(secrets_file="absent", releases=("r-1",)))


def test_volumes_alone_show_the_commune_exists() -> None:
    facts = _parsed("absent", extra=f"volume={SLUG}_donnees")
    assert facts.volumes == (f"{SLUG}_donnees",)
    with pytest.raises(secrets_guard.SecretsError, match="volumes Docker"):
        secrets_guard.check_file(ROOT, SLUG, facts)


def test_lock_folder_without_details_is_still_a_lock() -> None:
    assert facts_script.parse("lock=\nlock_dir=1\nend=ok").lock == "verrou sans détails"
    assert facts_script.parse("lock=\nend=ok").lock == ""


def test_new_secrets_appear_in_the_plan_by_name_only(tmp_path: Path) -> None:
    profile = Profile.model_validate(base_profile())  # the real recipes
    planned, _bundle, secrets = deploy.make_plan(profile, load_recipes(), DOCKER)
    assert planned.store_secrets and planned.new_secrets
    shown = [c for c in planned.changes() if c.action == "secrets"]
    assert len(shown) == 1 and shown[0].target.startswith("secrets à créer : ")
    values = {v for bucket in secrets.values() for v in bucket.values()}
    text = json.dumps(planned.as_dict())
    assert all(v not in text for v in values)
    assert set(planned.new_secrets) <= {f"{r}.{n}" for r, b in secrets.items() for n in b}


def test_recipe_secret_never_drawn_when_its_volumes_exist(tmp_path: Path) -> None:
    profile = Profile.model_validate(base_profile())
    recipes = load_recipes()
    bundle = deploy.desired(profile, recipes, DOCKER)[0]
    owned = secrets_guard.recipe_volumes(bundle)
    recipe, volumes = next((r, v) for r, v in sorted(owned.items()) if v)
    slug = profile.commune.code
    facts = Facts(docker="1", compose="2", bootstrap_version="1", secrets_file="present",
                  secrets={"autre": {"x": "y"}},
                  volumes=(f"{slug}_{sorted(volumes)[0]}",))
    with pytest.raises(secrets_guard.SecretsError, match=recipe):
        deploy.make_plan(profile, recipes, facts)


def test_plan_without_new_secrets_names_none() -> None:
    plan = changes.Plan(slug="s", release="r", previous="r", bootstrap=False, upload=False)
    assert not [c for c in plan.changes() if c.action == "secrets"]


# --- recipe dest paths ---------------------------------------------------------------------

@pytest.mark.parametrize("dest", ["../x.yaml", "a/../../b", "/etc/passwd", "a/./b"])
def test_dest_outside_the_recipe_folder_is_named(dest: str) -> None:
    assert dest_problem(dest)


def test_dest_inside_the_recipe_folder_is_fine() -> None:
    assert dest_problem("config/app.yaml") == "" and dest_problem("a..b/c") == ""


def _escaping_recipes(tmp_path: Path) -> Path:
    root = dockerbed.demo_data_root(tmp_path)
    spec = root / "recipes" / "demo" / "recipe.yaml"
    spec.write_text(spec.read_text().replace("dest: index.html", "dest: ../../evasion.html"))
    return root


def test_dest_with_dotdot_is_a_lint_error_and_render_exits_2(tmp_path: Path, cli,
                                                            write_profile) -> None:
    from kit_collab.check import recipe_lint

    root = _escaping_recipes(tmp_path)
    found = [f for f in recipe_lint.lint(load_recipes(root)) if f.code == "KC015"]
    assert found and found[0].service == "demo" and found[0].level == recipe_lint.ERROR
    env = {"KIT_COLLAB_RECIPES": str(root)}
    linted = cli("recipes", "lint", env=env)
    assert linted.code != 0 and "KC015" in linted.text
    profile = write_profile({
        "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                    "email_contact": "mairie@saint-essai.fr"},
        "serveur": {"hote": "192.0.2.1", "hebergeur": "test", "pays": "FR",
                    "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                     "jitsi": {"actif": False}}})
    out = tmp_path / "rendu" / "sortie"
    rendered = cli("render", profile, "--out", out, env=env)
    assert rendered.code == 2 and "evasion.html" in rendered.text
    assert "Erreur inattendue" not in rendered.text
    assert not list(tmp_path.rglob("evasion.html"))


# --- for real: sshd and Docker -------------------------------------------------------------

def _tree(path: Path) -> dict[str, str]:
    """Every file and link under ``path`` with its hash (or target): what "nothing changed"
    compares."""
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def _env(recipes_root: Path, tmp_path: Path) -> dict[str, str]:
    return {"KIT_COLLAB_RECIPES": str(recipes_root),
            "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts")}


DAMAGES = {
    "supprime": lambda f: f.unlink(),
    "vide": lambda f: f.write_bytes(b""),
    "tronque": lambda f: f.write_bytes(f.read_bytes()[:20]),
    "mauvaise-forme": lambda f: f.write_text('{"demo": ["token"]}'),
}


def test_secrets_deleted_emptied_truncated_or_wrong_shape_install_refuses_nothing_changed(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    path = _profile_file(tmp_path, sshd, server_root)
    env = _env(data_root, tmp_path)
    assert cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
               env=env).code == 0
    secrets = server_root / "communes" / SLUG / "secrets" / "secrets.json"
    original = secrets.read_bytes()
    page = data_root / "recipes" / "demo" / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("v1", "v2"))  # a change waiting to be installed
    ids = dockerbed.container_ids(SLUG)
    for name, damage in DAMAGES.items():
        damage(secrets)
        before = _tree(server_root)
        result = cli("install", path, "--yes", "--force", env=env)
        assert result.code == 1, (name, result.text)
        assert str(secrets) in result.text and "sauvegarde" in result.text, name
        assert "Erreur inattendue" not in result.text and "Traceback" not in result.text
        assert _tree(server_root) == before, name  # no lock, no upload, no new secrets
        planned = cli("plan", path, env=env)
        assert planned.code == 1 and str(secrets) in planned.text, name
        secrets.write_bytes(original)
        secrets.chmod(0o600)
    assert dockerbed.container_ids(SLUG) == ids
    # The recovery followed (the file put back): the pending change installs.
    assert cli("install", path, "--yes", "--force", env=env).code == 0
    assert secrets.read_bytes() == original


def test_volumes_left_after_remove_refuse_new_secrets(sshd, server_root, data_root,  # noqa: F811
                                                      tmp_path, cli) -> None:
    volume = f"{SLUG}_donnees"
    dockerbed.docker("volume", "create", volume)
    try:
        path = _profile_file(tmp_path, sshd, server_root)
        result = cli("install", path, "--yes", "--force", "--accept-host-key",
                     sshd.fingerprint, env=_env(data_root, tmp_path))
        assert result.code == 1 and volume in result.text and "retirees" in result.text
        assert not (server_root / "communes" / SLUG).exists()
    finally:
        dockerbed.docker("volume", "rm", "-f", volume, check=False)


def test_lock_folder_without_details_exits_4_and_unlock_force_frees_it(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    lock = server_root / "communes" / SLUG / ".lock"
    lock.mkdir(parents=True)  # a crash between mkdir and the details' write
    path = _profile_file(tmp_path, sshd, server_root)
    env = _env(data_root, tmp_path)
    result = cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
                 env=env)
    assert result.code == 4 and "verrou sans détails" in result.text
    assert not (server_root / "communes" / SLUG / "releases").exists()
    profile = profile_for(sshd, server_root)
    with _connect(sshd, profile, tmp_path) as transport:  # the script's own answer
        answer = transport.run(lock_script.take_lock(str(server_root), SLUG, "moi", ""))
    assert answer.code == lock_script.LOCKED_EXIT
    assert b"verrou sans d" in answer.stdout
    # A damaged state.json of this commune: unlock --force still works.
    (lock.parent / "state.json").write_text("{pas du json")
    assert cli("unlock", path, "--force", env=env).code == 0
    assert not lock.exists()


def test_another_communes_broken_state_does_not_stop_this_one(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    other = server_root / "communes" / "voisine-fr"
    other.mkdir(parents=True)
    (other / "state.json").write_text('{"version": 9}')
    profile = profile_for(sshd, server_root)
    outcome = _install(sshd, profile, tmp_path, data_root)
    assert outcome.applied
    assert any("voisine-fr" in w for w in outcome.warnings)
    (other / "state.json").write_text("{tronqué")
    path = _profile_file(tmp_path, sshd, server_root)
    status = cli("status", path, env=_env(data_root, tmp_path))
    assert "Erreur inattendue" not in status.text and "Traceback" not in status.text


def test_full_disk_while_storing_secrets_keeps_the_old_file_and_frees_the_lock(
        sshd, server_root, tmp_path) -> None:  # noqa: F811
    """A tar stream cut short (as when the disk fills while it is written): the secrets file
    stays whole, the lock is released, exit 1."""
    commune = server_root / "communes" / SLUG
    (commune / "secrets").mkdir(parents=True, mode=0o700)
    secrets = commune / "secrets" / "secrets.json"
    secrets.write_text('{"demo": {"token": "ancien"}}')
    entry = (f"communes/{SLUG}/secrets/secrets.json", b'{"demo": {"token": "nouveau"}}' * 400,
             0o600, None)
    stream = release_script.tar_of([entry])
    script = lock_script.take_lock(str(server_root), SLUG, "moi", "", staged=True)
    profile = profile_for(sshd, server_root)
    with _connect(sshd, profile, tmp_path) as transport:
        cut = transport.run(script, stdin=stream[:1500])
        assert cut.code == 1 and b"staging=failed" in cut.stdout
        assert secrets.read_text() == '{"demo": {"token": "ancien"}}'
        assert not (commune / ".lock").exists()
        assert not list(server_root.glob(".recu.*"))
        whole = transport.run(script, stdin=stream)
    assert whole.code == 0, whole.stderr
    assert secrets.read_bytes() == entry[1]
    assert (commune / "secrets" / "secrets.json.precedent").read_text() == (
        '{"demo": {"token": "ancien"}}')
    subprocess.run(["rm", "-rf", str(commune / ".lock")], check=True)
