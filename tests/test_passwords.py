"""Initial passwords readable aloud and typed easily (issue 15, item 7: "passwords mix
look-alike upper and lower case letters (c/C, s/S, w/W, z/Z)")."""

from __future__ import annotations

import re

from kit_collab.bundle.secrets import READABLE, SYSTEM, digest_draw, ensure_secrets

SHAPE = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$")


def test_no_look_alike_characters_at_all() -> None:
    assert READABLE.lower() == READABLE
    for pair in ("0o", "1l", "1i", "li", "2z", "5s", "6b", "9g", "9q"):
        assert not set(pair) <= set(READABLE), pair


def test_agents_passwords_are_four_groups_of_four() -> None:
    for draw in (SYSTEM, digest_draw("essai")):
        secrets, created = ensure_secrets([], None, ["marie", "paul"], draw)
        for user in ("marie", "paul"):
            value = secrets["comptes"][user]
            assert SHAPE.match(value), value
            assert set(value.replace("-", "")) <= set(READABLE)
        assert created == ["comptes.marie", "comptes.paul"]


def test_existing_passwords_are_kept_as_they_are() -> None:
    old = {"comptes": {"marie": "AncienMotDePasse"}}
    secrets, created = ensure_secrets([], old, ["marie"], SYSTEM)
    assert secrets["comptes"]["marie"] == "AncienMotDePasse" and created == []


def test_system_draws_differ() -> None:
    values = {ensure_secrets([], None, ["x"], SYSTEM)[0]["comptes"]["x"] for _ in range(20)}
    assert len(values) == 20
