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


def lang_first(argv: list[str]) -> list[str]:
    """argv with ``--lang X`` moved before the subcommand, wherever it was written: the
    language is an option of the program, not of one command."""
    rest, found, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == "--lang" and i + 1 < len(argv):
            found = ["--lang", argv[i + 1]]
            i += 2
            continue
        if arg.startswith("--lang="):
            found = ["--lang", arg.split("=", 1)[1]]
        else:
            rest.append(arg)
        i += 1
    return [*found, *rest]


def tr(fr: str, en: str) -> str:
    """The message in the current language."""
    return en if _state["lang"] == "en" else fr


def count(n: int, fr: tuple[str, str], en: tuple[str, str]) -> str:
    """``n`` and its noun, singular or plural: French takes the singular for 0 and 1
    ("0 problème", "1 problème", "2 problèmes"), English only for 1."""
    if _state["lang"] == "en":
        return f"{n} {en[0] if n == 1 else en[1]}"
    return f"{n} {fr[0] if n <= 1 else fr[1]}"
