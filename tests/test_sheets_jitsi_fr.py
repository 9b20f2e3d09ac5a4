"""Issue 15, item 7: "the Jitsi button named on the sheet (« Je suis l'organisateur ») is not
the one the French Jitsi interface shows". Every Jitsi button or title the sheets quote is one
of the French interface's own strings, read from jitsi/jitsi-meet lang/main-fr.json of the
pinned release (excerpt with its source: tests/data/jitsi-fr.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from kit_collab.handover import sheets
from kit_collab.operations.prepare import Prepared

from .test_sheets import Page, example  # noqa: F401  (the module's fixture)

DATA = Path(__file__).parent / "data" / "jitsi-fr.json"
RECIPE = Path(__file__).parent.parent / "recipes" / "jitsi" / "recipe.yaml"
APP_NAMES = {"Jitsi Meet"}  # the application's name, quoted as the store shows it
FLOW = ["welcomepage.startMeeting", "prejoin.joinMeeting", "dialog.IamHost"]


def _strings() -> dict[str, str]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return {key: entry["text"] for key, entry in data.items() if not key.startswith("_")}


def _quoted(text: str) -> list[str]:
    return [q.strip() for q in re.findall(r"«(.*?)»", text)]


def _jitsi_part(text: str, start: str, end: str) -> str:
    assert start in text, start
    return text.split(start, 1)[1].split(end, 1)[0]


def test_excerpt_is_of_the_pinned_release() -> None:
    version = str(yaml.safe_load(RECIPE.read_text(encoding="utf-8"))["version"])
    release = re.search(r"stable-(\d+)", version)
    assert release, version
    source = json.loads(DATA.read_text(encoding="utf-8"))["_source"]
    assert source["file"] == "lang/main-fr.json"
    assert f"stable/jitsi-meet_{release.group(1)}" in source["release"], (
        "the Jitsi recipe moved: read lang/main-fr.json again at the new release")


def test_sheet_quotes_only_the_french_jitsi_interface_in_screen_order(
        example: Prepared) -> None:  # noqa: F811
    strings = _strings()
    pages = sheets.render_sheets(example.profile, example.bundle.hosts, example.secrets)
    for user in example.profile.utilisateurs:
        text = Page(pages[sheets.sheet_name(user.identifiant)]).text
        part = _jitsi_part(text, "Visioconférence — Jitsi Meet", "À la première connexion")
        quoted = _quoted(part)
        unknown = [q for q in quoted if q not in strings.values() and q not in APP_NAMES]
        assert not unknown, f"not in Jitsi's French interface: {unknown}"
        steps = [strings[key] for key in FLOW]
        assert [q for q in quoted if q in steps] == steps, quoted  # as the screens come


def test_guide_quotes_only_the_french_jitsi_interface(example: Prepared) -> None:  # noqa: F811
    strings = _strings()
    guide = Page(sheets.render_sheets(example.profile, example.bundle.hosts,
                                      example.secrets)[sheets.GUIDE]).text
    part = _jitsi_part(guide, "Pour une visio", "Envoyez le lien")
    quoted = _quoted(part)
    assert strings["dialog.IamHost"] in quoted
    assert all(q in strings.values() for q in quoted), quoted
