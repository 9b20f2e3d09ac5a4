"""state.json across kit-collab releases: an older format is migrated when read, a newer one
is refused with one French sentence (exit 2), never rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit_collab import constants
from kit_collab.i18n import set_lang
from kit_collab.plan.state import VERSION, StateError, StateTooNew, from_json
from kit_collab.plan.state_format import migrate

DATA = Path(__file__).parent / "data" / "state"


def _v1() -> dict[str, object]:
    return json.loads((DATA / "state-v1.json").read_text(encoding="utf-8"))


def test_state_written_by_the_previous_format_is_read_and_upgraded() -> None:
    old = _v1()
    state = from_json(old)
    assert state.version == VERSION == 3
    assert state.release == "20261101-120000-3f2a9c1d"
    assert state.previous == "20261001-090000-77ab12ef"
    assert state.recipes["nextcloud"] == "1.0.0+33.0.9"
    assert state.firewall == ("10000/udp",) and state.matrix_server_name == "lhay-sur-mer.fr"
    assert state.images == {}  # version 1 did not record them: unknown, never guessed
    written = state.as_json()
    assert written["version"] == 3 and written["images"] == {}
    assert written["volumes_postgres"] == {}  # no cluster migrated before format 3
    assert from_json(json.loads(json.dumps(written))) == state  # the new format round-trips
    assert old["version"] == 1 and "images" not in old  # the document read is left alone


def test_state_without_any_version_is_the_first_format() -> None:
    old = _v1()
    del old["version"]
    assert migrate(old)["version"] == VERSION
    assert from_json(old).release == "20261101-120000-3f2a9c1d"


def test_state_from_a_newer_kit_collab_is_refused_in_french_with_exit_2() -> None:
    set_lang("fr")
    newer = {**_v1(), "version": VERSION + 1, "cle_future": {"x": 1}}
    with pytest.raises(StateTooNew) as info:
        from_json(newer, "communes/lhay/state.json")
    error = info.value
    assert error.exit_code == constants.EXIT_INVALID == 2
    assert "kit-collab plus récent" in error.message and f"format {VERSION + 1}" in error.message
    assert "communes/lhay/state.json" in error.message
    assert error.hint and "mettez kit-collab à jour" in error.hint
    assert isinstance(error, StateError)  # a neighbour's newer state stays a mere warning


@pytest.mark.parametrize("version", [0, "2", True, -1])
def test_state_with_a_garbled_version_is_unreadable(version: object) -> None:
    with pytest.raises(StateError, match="version") as info:
        from_json({**_v1(), "version": version})
    assert not isinstance(info.value, StateTooNew)


def test_rolled_back_state_does_not_claim_the_failed_release_images() -> None:
    state = from_json({**_v1(), "version": 2, "images": {"nextcloud": "nextcloud:34.0.2"}})
    back = state.rolled_back(state.release)
    assert back.release == state.previous and back.images == {}  # read from compose files
