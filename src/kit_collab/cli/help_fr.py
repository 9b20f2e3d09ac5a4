"""Help and usage errors in the current language, set up without importing the help
renderer: Typer's ``rich_utils`` (and its markdown stack) loads only when help or a usage
error is displayed, and is translated right then."""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from kit_collab.i18n import tr

RICH_UTILS = "typer.rich_utils"

_CLICK_FR = {
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Usage:": "Utilisation :",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "No such option: {name}": "Option inconnue : {name}",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "Try {command!r} for help.": "Essayez {command!r} pour l'aide.",
    "Invalid value": "Valeur invalide",
    "Got unexpected extra argument ({args})": "Argument en trop ({args})",
    "Got unexpected extra arguments ({args})": "Arguments en trop ({args})",
    "Option {name!r} requires an argument.": "L'option {name!r} demande une valeur.",
    "Did you mean {possibility}?": "Vouliez-vous dire {possibility} ?",
}


def _fr(text: str) -> str:
    return _CLICK_FR.get(text, text) if tr("fr", "en") == "fr" else text


# Messages Typer writes as literals (not through click's gettext): rewritten when shown.
_MESSAGES_FR = (
    (re.compile(r"Missing argument '([^']+)'\."), r"Argument manquant : \1."),
    (re.compile(r"Missing option '([^']+)'\."), r"Option manquante : \1."),
    (re.compile(r"Missing parameter '([^']+)'\."), r"Paramètre manquant : \1."),
    (re.compile(r"\. Did you mean (.+)\?"), r". Vouliez-vous dire \1 ?"),
    (re.compile(r"^Did you mean (.+)\?"), r"Vouliez-vous dire \1 ?"),
)


def french_message(text: str) -> str:
    """A usage error's text in French (unchanged in English)."""
    if tr("fr", "en") != "fr":
        return text
    for pattern, replacement in _MESSAGES_FR:
        text = pattern.sub(replacement, text)
    return text


# What the help shows after an option: a word for the reader, never a Python type.
_TYPE_WORDS = {
    "<bool>": None, "<int>": ("NOMBRE", "NUMBER"), "<float>": ("NOMBRE", "NUMBER"),
    "<int range>": ("NOMBRE", "NUMBER"), "<float range>": ("NOMBRE", "NUMBER"),
    "<path>": ("CHEMIN", "PATH"), "<file>": ("FICHIER", "FILE"),
    "<directory>": ("DOSSIER", "FOLDER"), "<str>": ("TEXTE", "TEXT"),
    "<list[Path]>": ("CHEMIN…", "PATH…"), "<list[str]>": ("TEXTE…", "TEXT…"),
}


def type_word(shown: str | None) -> str | None:
    """The reader's word for a type Typer would show as ``<int range>`` or ``<list[str]>``."""
    if shown is None:
        return None
    if shown not in _TYPE_WORDS:
        return shown if not shown.startswith("<") else tr("VALEUR", "VALUE")
    words = _TYPE_WORDS[shown]
    return tr(*words) if words else None


def number_range(low: float | None, high: float | None) -> str | None:
    if low is None and high is None:
        return None
    if low is None:
        return tr(f"au plus {high}", f"at most {high}")
    if high is None:
        return tr(f"au moins {low}", f"at least {low}")
    return tr(f"de {low} à {high}", f"from {low} to {high}")


def translate_rich_utils(ru: Any) -> None:
    """Typer's help panels and messages in the current language."""
    ru.OPTIONS_PANEL_TITLE = tr("Options", "Options")
    ru.COMMANDS_PANEL_TITLE = tr("Commandes", "Commands")
    ru.ARGUMENTS_PANEL_TITLE = tr("Arguments", "Arguments")
    ru.ERRORS_PANEL_TITLE = tr("Erreur", "Error")
    ru.REQUIRED_LONG_STRING = tr("[obligatoire]", "[required]")
    ru.DEFAULT_STRING = tr("[défaut : {}]", "[default: {}]")
    ru.ABORTED_TEXT = tr("Interrompu.", "Aborted.")
    ru.RICH_HELP = tr("Essayez [blue]'{command_path} {help_option}'[/] pour l'aide.",
                      "Try [blue]'{command_path} {help_option}'[/] for help.")
    shown = getattr(ru, "rich_format_error", None)
    if shown is not None and not getattr(shown, "_kit_collab_fr", False):
        def rich_format_error(self: Any, _shown: Any = shown) -> None:
            if isinstance(getattr(self, "message", None), str):
                self.message = french_message(self.message)
            original = self.format_message
            self.format_message = lambda: french_message(original())
            _shown(self)

        rich_format_error._kit_collab_fr = True  # type: ignore[attr-defined]
        ru.rich_format_error = rich_format_error


class _Translating(importlib.abc.Loader):
    """Runs the real loader, then translates the freshly imported module."""

    def __init__(self, loader: Any, after: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.after = after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self.loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.after(module)


class _OnImport(importlib.abc.MetaPathFinder):
    """Translates ``typer.rich_utils`` when (and only if) something imports it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != RICH_UTILS:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _Translating(spec.loader, translate_rich_utils)
        return spec


def _patch_click() -> None:
    """Click's own messages through our table (Typer vendors click as typer._click)."""
    for base in ("typer._click", "click"):
        for name in ("core", "decorators", "exceptions", "formatting"):
            module = sys.modules.get(f"{base}.{name}")
            if module is not None:
                module._ = _fr  # type: ignore[attr-defined]
    core = sys.modules.get("typer.core")
    if core is not None:
        core._ = _fr  # type: ignore[attr-defined]
    _patch_help_option()
    _patch_types()
    _patch_usage()


def _patch_usage() -> None:
    """The usage line's prefix, which click writes as a literal."""
    for base in ("typer._click", "click"):
        formatting = sys.modules.get(f"{base}.formatting")
        formatter = getattr(formatting, "HelpFormatter", None)
        if formatter is None or getattr(formatter.write_usage, "_kit_collab_fr", False):
            continue
        original = formatter.write_usage

        def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None,
                        _original: Any = original) -> None:
            _original(self, prog, args, tr("Utilisation : ", "Usage: ") if prefix is None
                      else prefix)

        write_usage._kit_collab_fr = True  # type: ignore[attr-defined]
        formatter.write_usage = write_usage


def _patch_types() -> None:
    """Types and ranges in the help in words (``NOMBRE``, ``de 1 à 64``), flags without any."""
    core = sys.modules.get("typer.core")
    param = getattr(core, "_TyperParameter", None)
    if param is None or getattr(param.display_type, "_kit_collab_fr", False):
        return
    original = param.display_type

    def display_type(self: Any, ctx: Any, _original: Any = original) -> str | None:
        return type_word(_original(self, ctx))

    display_type._kit_collab_fr = True  # type: ignore[attr-defined]
    param.display_type = display_type
    for name in ("TyperOption", "TyperArgument"):
        cls = getattr(core, name, None)
        if cls is not None and hasattr(cls, "_get_number_range_help_str"):
            cls._get_number_range_help_str = lambda self: (
                None if getattr(self, "count", False) else
                number_range(getattr(self, "min", None), getattr(self, "max", None)))


def _patch_help_option() -> None:
    """Newer Typer writes the help option's text as a literal: translate the option."""
    for base in ("typer._click", "click"):
        module = sys.modules.get(f"{base}.core")
        if module is None:
            continue
        command = module.Command
        original = command.get_help_option
        if getattr(original, "_kit_collab_fr", False):
            continue

        def get_help_option(self: Any, ctx: Any, _original: Any = original) -> Any:
            option = _original(self, ctx)
            if option is not None and option.help:
                option.help = _fr(option.help)
            return option

        get_help_option._kit_collab_fr = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option


def install() -> None:
    """Set up help in the current language; call after ``typer`` is imported."""
    importlib.import_module("typer.core")
    for name in ("core", "decorators", "exceptions", "formatting"):
        importlib.import_module(f"typer._click.{name}")
    _patch_click()
    loaded = sys.modules.get(RICH_UTILS)
    if loaded is not None:
        translate_rich_utils(loaded)
    elif not any(isinstance(f, _OnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _OnImport())
