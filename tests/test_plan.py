"""The plan is data: facts in, changes out (pure, no server). Scripts are checked as text."""

from __future__ import annotations

from dataclasses import replace

from kit_collab.apply.scripts import facts as facts_script
from kit_collab.apply.scripts import remote
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.model import Bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.plan import changes as plan_mod
from kit_collab.plan import facts as facts_mod
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile


def _bundle(data=None):
    profile = Profile.model_validate(data or base_profile())
    recipes = load_recipes()
    made = make_bundle(profile, recipes, draw=SYSTEM)
    return profile, recipes, made.bundle, made.secrets


DOCKER = facts_mod.Facts(docker="26.1.5", compose="2.29.7", bootstrap_version="1")


def deployed(bundle: Bundle) -> facts_mod.Facts:
    """The facts of a server where ``bundle`` runs."""
    return replace(DOCKER, current=bundle.release, releases=(bundle.release,),
                   release_files=plan_mod.release_files(bundle),
                   proxy_files=plan_mod.proxy_files(bundle))


def test_first_install_adds_everything_and_runs_tasks() -> None:
    _p, _r, bundle, _s = _bundle()
    plan = plan_mod.build(bundle, DOCKER, new_secrets=True)
    assert not plan.noop and not plan.bootstrap and plan.upload and plan.store_secrets
    assert set(plan.added) == set(plan_mod.release_files(bundle))
    assert plan.restart == ()  # compose starts everything on a first install
    assert plan.tasks == bundle.tasks
    assert {c.action for c in plan.changes()} >= {"ajout", "proxy", "tache"}


def test_up_to_date_server_is_a_noop() -> None:
    _p, _r, bundle, _s = _bundle()
    plan = plan_mod.build(bundle, deployed(bundle))
    assert plan.noop and plan.changes() == [] and not plan.tasks and not plan.upload


def test_fresh_server_needs_bootstrap() -> None:
    _p, _r, bundle, _s = _bundle()
    assert plan_mod.build(bundle, facts_mod.Facts()).bootstrap
    older = replace(deployed(bundle), bootstrap_version="0")
    assert plan_mod.build(bundle, older).bootstrap


def test_registry_mirror_change_reruns_bootstrap() -> None:
    _p, _r, bundle, _s = _bundle()
    facts = deployed(bundle)
    assert plan_mod.build(bundle, facts, mirror="http://miroir:5000").bootstrap
    set_up = replace(facts, daemon={"registry-mirrors": ["http://miroir:5000"]})
    assert plan_mod.build(bundle, set_up, mirror="http://miroir:5000").noop


def test_changed_mounted_file_restarts_only_the_services_mounting_it() -> None:
    _p, _r, bundle, _s = _bundle()
    facts = deployed(bundle)
    files = dict(facts.release_files)
    files["nextcloud/kit-collab.config.php"] = "0" * 64
    files["obsolete/old.conf"] = "1" * 64
    plan = plan_mod.build(bundle, replace(facts, current="r-old", release_files=files))
    assert plan.changed == ("nextcloud/kit-collab.config.php",)
    assert plan.removed == ("obsolete/old.conf",)
    assert plan.restart == ("nextcloud",)  # the cron reads it from the shared volume
    assert not plan.upload or plan.release not in facts.releases


def test_changed_env_file_is_left_to_compose() -> None:
    _p, _r, bundle, _s = _bundle()
    facts = deployed(bundle)
    files = dict(facts.release_files, **{"nextcloud/nextcloud.env": "0" * 64})
    plan = plan_mod.build(bundle, replace(facts, current="r-old", release_files=files))
    assert plan.changed == ("nextcloud/nextcloud.env",) and plan.restart == ()


def test_proxy_change_alone() -> None:
    _p, _r, bundle, _s = _bundle()
    facts = replace(deployed(bundle), proxy_files={"Caddyfile": "0" * 64})
    plan = plan_mod.build(bundle, facts)
    assert not plan.noop and not plan.upload and plan.proxy_changed == ("Caddyfile",
                                                                         "compose.yaml")


def test_facts_parser() -> None:
    output = "\n".join([
        "os_id=debian", "os_version=12", "arch=x86_64", "mem_kb=8123456", "disk_kb=104857600",
        "docker=26.1.5", "compose=2.29.7", "current=r-abc", "releases=r-abc r-old ",
        "state=eyJyZWxlYXNlIjogInItYWJjIn0=", "secrets=", "lock=", "bootstrap=1", "daemon=",
        "file=" + "a" * 64 + " nextcloud/compose.yaml", "proxy=Caddyfile " + "b" * 64,
        "port=tcp 443", "port=udp 10000", "end=ok"])
    facts = facts_script.parse(output)
    assert (facts.os_id, facts.os_version, facts.mem_mb, facts.disk_free_gb) == (
        "debian", "12", 7933, 100.0)
    assert facts.bootstrapped and facts.current == "r-abc"
    assert facts.releases == ("r-abc", "r-old") and facts.state.release == "r-abc"
    assert facts.release_files == {"nextcloud/compose.yaml": "a" * 64}
    assert facts.proxy_files == {"Caddyfile": "b" * 64}
    assert facts.ports_in_use == {("tcp", 443), ("udp", 10000)}


def test_truncated_facts_are_refused() -> None:
    import pytest

    from kit_collab.errors import DeployError

    with pytest.raises(DeployError):
        facts_script.parse("os_id=debian\n")


def test_scripts_quote_every_value() -> None:
    script = remote.take_lock("/opt/kit-collab", "x", "a'b; rm -rf /", "")
    assert "'a'\"'\"'b; rm -rf /'" in script
    assert remote.compose("/opt/kit-collab", "lhay") == (
        "docker compose -p lhay -f /opt/kit-collab/communes/lhay/current/compose.yaml")
    assert remote.audit_path("/opt/kit-collab") == "/var/log/kit-collab/audit.log"


def test_bootstrap_script_opens_only_the_needed_ports() -> None:
    script = remote.bootstrap("/opt/kit-collab", "1", 2222, [("80", "tcp"), ("10000", "udp")],
                              None)
    assert "ufw default deny incoming" in script
    assert "ufw allow 2222/tcp" in script and "ufw allow 10000/udp" in script
    assert "daemon.json" not in script  # no mirror: the engine's settings are left alone
    with_mirror = remote.bootstrap("/opt/kit-collab", "1", 22, [], "http://miroir:5000")
    assert '{"registry-mirrors": ["http://miroir:5000"]}' in with_mirror


def test_a_stopped_service_is_never_healthy_a_finished_job_is() -> None:
    from kit_collab.apply import deploy

    data = base_profile()
    _p, _r, bundle, _s = _bundle(data)
    oneshot = plan_mod.oneshot_services(bundle)
    assert "jitsi-init" in oneshot and "matrix-synapse" not in oneshot
    stopped = {"service": "matrix-synapse", "etat": "exited", "sante": "", "code": "0"}
    done = {"service": "jitsi-init", "etat": "exited", "sante": "", "code": "0"}
    failed = {"service": "jitsi-init", "etat": "exited", "sante": "", "code": "1"}
    assert not deploy.is_healthy(stopped, oneshot)
    assert deploy.is_healthy(done, oneshot) and not deploy.is_healthy(failed, oneshot)


def test_rollback_recreates_only_what_the_failed_release_touched() -> None:
    script = remote.switch_back("/r", "x", "r-old", 60, restart=["matrix-synapse"])
    # The failed release's Synapse is recreated before the wait, else the wait sees it unhealthy
    # and the switch back stops (set -e) before recreating it.
    recreate = script.index("--force-recreate matrix-synapse")
    assert recreate < script.index("up -d --wait --wait-timeout 60")
    assert script.count("--force-recreate") == 1
    everything = remote.switch_back("/r", "x", "r-old", 60)
    assert "up -d --remove-orphans --force-recreate" in everything


def test_bootstrap_stops_when_docker_does_not_come_back() -> None:
    script = remote.bootstrap("/opt/kit-collab", "1", 22, [], "http://miroir:5000")
    assert "|| true" not in script.split("daemon.json", 1)[1].split("ufw", 1)[0]
    assert "docker-restart-failed" in script and "mirror-not-applied" in script
