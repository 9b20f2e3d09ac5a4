"""make_bundle is the one way to make a bundle; the bundle carries the structure later
stages read (services, sites, port blocks); state.json is a typed State."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from kit_collab.apply.scripts import facts as facts_script
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.model import PortBlock
from kit_collab.bundle.secrets import SYSTEM, digest_draw
from kit_collab.plan import changes
from kit_collab.plan import facts as facts_mod
from kit_collab.plan.state import VERSION, State, StateError, from_json
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile

RECIPES = load_recipes()


def _made(draw=SYSTEM, **kw):
    return make_bundle(Profile.model_validate(base_profile()), RECIPES, draw=draw, **kw)


def test_same_draw_same_bundle_and_the_draw_is_the_only_randomness() -> None:
    first, second = _made(digest_draw("t")), _made(digest_draw("t"))
    assert first.bundle.release == second.bundle.release and first.secrets == second.secrets
    assert "nextcloud.db_password" in first.created
    assert any(name.startswith("comptes.") for name in first.created)
    assert _made(SYSTEM).secrets != _made(SYSTEM).secrets


def test_known_secrets_are_kept_and_nothing_is_drawn() -> None:
    known = _made(digest_draw("t")).secrets

    def refuse(name: str, _length: int, _alphabet: str) -> str:
        raise AssertionError(name)

    again = _made(refuse, secrets=known)
    assert again.created == () and again.secrets == known


def test_made_never_shows_its_secrets() -> None:
    made = _made(digest_draw("t"))
    value = made.secrets["nextcloud"]["db_password"]
    assert value not in repr(made)


def test_recorded_ports_are_kept_and_reserved_ones_avoided() -> None:
    slug = Profile.model_validate(base_profile()).commune.code
    kept = _made(recorded_ports={(slug, "jitsi", "media"): 10042}).bundle
    assert kept.port_blocks["jitsi"]["media"] == PortBlock(10042, 10042)
    busy = _made(reserved_ports=[10000]).bundle
    assert busy.port_blocks["jitsi"]["media"].start == 10001
    relay = busy.port_blocks["coturn"]["relay"]
    size = {p.name: p.size for p in RECIPES["coturn"].spec.ports}["relay"]
    assert relay.end - relay.start + 1 == size > 1 and relay.start in relay and relay.end in relay
    assert busy.ports["coturn"]["relay_end"] == relay.end  # what templates and state.json see


def test_services_carry_mounts_restart_and_aliases() -> None:
    bundle = _made().bundle
    by_name = {s.name: s for s in bundle.services}
    assert "nextcloud/kit-collab.config.php" in by_name["nextcloud"].mounts
    assert by_name["jitsi-init"].oneshot and not by_name["matrix-synapse"].oneshot
    assert f"{bundle.slug}-jitsi" in by_name["jitsi-web"].aliases
    assert {s.recipe for s in bundle.services} == {n for n, _v in bundle.recipes} - {"proxy"}
    assert [s.recipe for s in bundle.proxy_services] == ["proxy"] * len(bundle.proxy_services)
    assert changes.oneshot_services(bundle) == {s.name for s in bundle.services if s.oneshot}


def test_sites_carry_addresses_and_the_services_behind() -> None:
    bundle = _made().bundle
    sites = {a: s for s in bundle.sites for a in s.addresses}
    domain = bundle.hosts["base"]["domaine"]
    assert sites[bundle.hosts["nextcloud"]["cloud"]].backends == ("nextcloud",)
    assert sites[bundle.hosts["jitsi"]["visio"]].backends == ("jitsi-web",)
    # Matrix identifiants site-existant (the default): the town's website keeps its domain.
    assert domain not in sites


# state.json


def test_state_round_trip_keeps_the_file_format() -> None:
    bundle = _made().bundle
    state = State(commune=bundle.slug, release=bundle.release, previous="r-old",
                  recipes=dict(bundle.recipes), files={"a": "b"}, ports=bundle.port_blocks,
                  hosts=bundle.hosts, bootstrap="1", needs=bundle.resources,
                  deployed_at="2026-01-01T00:00:00Z")
    data = state.as_json()
    assert data["version"] == VERSION and data["precedente"] == "r-old"
    assert data["ports"] == bundle.ports and data["recettes"] == dict(bundle.recipes)
    assert from_json(json.loads(json.dumps(data))) == state
    assert state.rolled_back(bundle.release).release == "r-old"


def test_state_without_version_is_version_1_and_empty_is_nothing_deployed() -> None:
    old = from_json({"release": "r-1", "ports": {"jitsi": {"media": 10000, "media_end": 10000}}})
    assert old.version == VERSION and old.ports == {"jitsi": {"media": PortBlock(10000, 10000)}}
    assert old.recorded_ports("x") == {("x", "jitsi", "media"): 10000}
    assert from_json({}).empty and from_json(None) == State()


@pytest.mark.parametrize(("data", "why"), [
    ({"version": 99, "release": "r"}, "format 99"),
    ({"release": "r", "ports": {"jitsi": {"media": "dix"}}}, "ports.jitsi"),
    ({"release": "r", "recettes": ["x"]}, "recettes"),
    ({"release": "r", "inconnue": 1}, "inconnue"),
    (["r"], "state"),
])
def test_unknown_or_invalid_state_is_a_clear_error(data: object, why: str) -> None:
    with pytest.raises(StateError, match=why) as info:
        from_json(data)
    assert "state.json" in info.value.message and info.value.hint


def _facts_output(state: object, other: object) -> str:
    def b64(value: object) -> str:
        return base64.b64encode(json.dumps(value).encode()).decode()

    return "\n".join([f"state={b64(state)}", f"other=voisine {b64(other)}", "end=ok"])


def test_facts_carry_states_and_other_communes_ports() -> None:
    other = {"ports": {"coturn": {"relay": 49160, "relay_end": 49259}},
             "besoins": {"ram_mb": 512}}
    parsed = facts_script.parse(_facts_output({"release": "r-1", "recettes": {"a": "1"}}, other))
    assert parsed.state.release == "r-1" and parsed.state.recipes == {"a": "1"}
    assert set(range(49160, 49260)) <= parsed.others_ports()
    assert parsed.others_needs("ram_mb") == 512
    # Another commune's unreadable state is a warning for this one, not a stop.
    broken = facts_script.parse(_facts_output({}, {"version": 9}))
    assert "voisine" not in broken.others
    assert any("communes/voisine/state.json" in w for w in broken.warnings)


def test_plan_restarts_from_the_bundle_structure() -> None:
    bundle = _made().bundle
    deployed = facts_mod.Facts(docker="1", compose="2", bootstrap_version="1",
                               current="r-old", releases=("r-old",),
                               release_files={**changes.release_files(bundle),
                                              "matrix/homeserver.yaml": "0" * 64})
    plan = changes.build(bundle, replace(deployed))
    assert plan.restart == ("matrix-synapse",)
