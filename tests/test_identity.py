"""A commune's identity (slug, domain, hostnames) is recorded on its server; a domain change
is a migration, refused by install before anything changes; volumes left without a commune
folder are never mounted by a new commune. Pure rules, then for real over SSH (loopback
sshd, the Docker bed of test_deploy.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kit_collab.plan import identity
from kit_collab.plan.facts import Facts
from kit_collab.plan.state import State

from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    SLUG,
    _install,
    _profile_file,
    data_root,
    images,
    profile_for,
    server_root,
    sshd,
)
from .test_secrets_guard import _env, _tree

HOSTS = {"nextcloud": {"cloud": "cloud.a.fr"}}


def test_domain_changed_under_the_same_slug_is_refused_as_a_migration() -> None:
    facts = Facts(state=State(release="r", domain="a.fr"), current="r")
    with pytest.raises(identity.IdentityError) as info:
        identity.check("a-fr", "b.fr", {"nextcloud": {"cloud": "cloud.b.fr"}}, facts)
    assert info.value.exit_code == 2
    assert "a.fr" in info.value.message and "b.fr" in info.value.message
    assert "rien n'a été changé" in info.value.message
    assert "migration" in (info.value.hint or "") and "README" in (info.value.hint or "")
    identity.check("a-fr", "a.fr", HOSTS, facts)  # the same domain: fine


def test_a_state_written_before_the_domain_was_recorded_is_not_refused() -> None:
    identity.check("a-fr", "b.fr", HOSTS, Facts(state=State(release="r"), current="r"))


def test_the_same_domain_under_another_slug_is_refused() -> None:
    facts = Facts(others={"a-fr": State(release="r", domain="a.fr")})
    with pytest.raises(identity.IdentityError, match="a-fr"):
        identity.check("mairie-a", "a.fr", {}, facts)


def test_a_hostname_held_by_another_commune_is_refused() -> None:
    facts = Facts(others={"a-fr": State(release="r", hosts=HOSTS)})  # an older state
    with pytest.raises(identity.IdentityError, match=r"cloud\.a\.fr"):
        identity.check("autre", "autre.fr", HOSTS, facts)


def test_volumes_without_a_commune_folder_say_so_and_how_to_recover() -> None:
    facts = Facts(volumes=("a-fr_db",), secrets_file="absent")
    with pytest.raises(identity.VolumesError) as info:
        identity.check("a-fr", "a.fr", HOSTS, facts)
    assert info.value.exit_code == 1
    assert "a-fr_db" in info.value.message and "sans dossier de commune" in info.value.message
    assert "retirees/a-fr-" in (info.value.hint or "")
    # The folder is there (a commune whose secrets file is missing): the secrets guard's say.
    identity.check("a-fr", "a.fr", HOSTS, Facts(volumes=("a-fr_db",), commune_dir=True))


# --- for real: sshd and Docker -------------------------------------------------------------

def test_domain_change_refused_nothing_changed_on_the_server(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    profile = profile_for(sshd, server_root)
    assert _install(sshd, profile, tmp_path, data_root).applied
    state = json.loads((server_root / "communes" / SLUG / "state.json").read_text())
    assert state["domaine"] == "saint-essai.fr" and state["commune"] == SLUG
    path = Path(_profile_file(tmp_path, sshd, server_root))
    data = yaml.safe_load(path.read_text())
    data["commune"]["domaine"] = "saint-essai-sur-mer.fr"  # the slug stays (it is pinned)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    before = _tree(server_root)
    env = _env(data_root, tmp_path)
    result = cli("install", str(path), "--yes", "--force", "--accept-host-key",
                 sshd.fingerprint, env=env)
    assert result.code == 2, result.text
    assert "saint-essai-sur-mer.fr" in result.text and "migration" in result.text
    assert "Traceback" not in result.text
    assert _tree(server_root) == before  # no lock, no upload, no secret, no state
    assert cli("plan", str(path), env=env).code == 2
