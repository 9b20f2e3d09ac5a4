"""The two languages of kit-collab: French by default, English on request.

Messages are written inline as ``tr(fr, en)`` so that the French text, the one most users
read, sits where the message is raised.
"""

from __future__ import annotations

import os

SUPPORTED = ("fr", "en")
_state = {"lang": "fr"}


def set_lang(lang: str | None) -> str:
    """Set the language; an unknown or empty value keeps French."""
    chosen = (lang or "").strip().lower()[:2]
    _state["lang"] = chosen if chosen in SUPPORTED else "fr"
    return _state["lang"]


def get_lang() -> str:
    return _state["lang"]


def lang_from(argv: list[str], environ: dict[str, str] | None = None) -> str:
    """The language asked for by ``--lang X`` / ``--lang=X`` in argv, else by KIT_COLLAB_LANG."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    env = os.environ if environ is None else environ
    return env.get("KIT_COLLAB_LANG", "fr")


def tr(fr: str, en: str) -> str:
    """The message in the current language."""
    return en if _state["lang"] == "en" else fr
