"""Hostile but legal names reach every rendered file intact and inert, read back by each
file's consumer (compose, YAML and JSON parsers, PHP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import base_profile
from .validators import render_to, validate_all

pytestmark = pytest.mark.validators

COMMUNE = "L'Haÿ \"x\" $HOME #1 \\ : { } ${PATH} `id`"
SERVICE = "Urbanisme & \"Travaux\" $1 #2 {a} \\n"
USER = "Zoë O'Brien \"Zo\" $USER \\ {x} : #3"


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def _hostile_profile() -> dict:
    data = base_profile()
    data["commune"]["nom"] = COMMUNE
    data["services_municipaux"] = [{"id": "urbanisme", "nom": SERVICE}]
    data["utilisateurs"][0]["nom"] = USER
    data["utilisateurs"][0]["services_municipaux"] = ["urbanisme"]
    return data


def test_real_name_with_apostrophe_and_diaeresis_is_accepted(tmp_path: Path) -> None:
    data = base_profile()
    data["commune"]["nom"] = "L'Haÿ-les-Roses"
    bundle = render_to(data, tmp_path / "out")
    parsed = validate_all(bundle, tmp_path / "out")
    labels = parsed["compose:commune"]["services"]["nextcloud"]["labels"]
    assert labels["org.kit-collab.commune"] == "L'Haÿ-les-Roses"


def test_hostile_names_intact_everywhere(tmp_path: Path) -> None:
    bundle = render_to(_hostile_profile(), tmp_path / "out")
    parsed = validate_all(bundle, tmp_path / "out")
    # compose prints a literal "$" as "$$": undo that to compare with the profile.
    labels = parsed["compose:commune"]["services"]["nextcloud"]["labels"]
    assert labels["org.kit-collab.commune"].replace("$$", "$") == COMMUNE
    manifest = parsed[f"{bundle.release_dir}/kit-collab.json"]
    argvs = [t["argv"] for t in manifest["taches"]]
    assert ["php", "occ", "theming:config", "name", COMMUNE] in argvs
    # The service municipal's name reaches Nextcloud through provisioning's exact argv.
    from kit_collab.plan import accounts
    from kit_collab.profile.model import Profile

    fresh = accounts.Existing(nextcloud=accounts.ServiceState(),
                              matrix=accounts.ServiceState(), jitsi=accounts.ServiceState())
    actions = accounts.plan(Profile.model_validate(_hostile_profile()), fresh)
    occ = [accounts.occ_commands(a) for a in actions if a.service == "nextcloud"]
    assert any(f"--display-name={SERVICE}" in c.argv for cmds in occ for c in cmds)
    # Wherever a fragment of a hostile value appears in a parsed file, the whole value is
    # there, unbroken: no truncation at a quote, no lost backslash, no expanded variable.
    compose_like = {f.path for f in bundle.files if f.format == "compose"}
    for path, content in parsed.items():
        for raw in _strings(content):
            compose = path.startswith("compose:") or path in compose_like
            text = raw.replace("$$", "$") if compose else raw
            for value, marker in ((COMMUNE, "#1"), (SERVICE, "#2"), (USER, "#3")):
                if marker in text and value.split(marker)[0][-4:] in text:
                    assert value in text, (path, text)


def test_hostile_names_never_reach_raw_formats(tmp_path: Path) -> None:
    """Caddyfile, PHP and .env files carry no free text, so nothing there to break."""
    bundle = render_to(_hostile_profile(), tmp_path / "out")
    for f in bundle.files:
        if f.format in ("caddyfile", "php", "env", "conf"):
            text = f.content.decode()
            for value in (COMMUNE, SERVICE, USER):
                assert value[:12] not in text, f.path
