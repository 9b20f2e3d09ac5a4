"""The agents' sheets as one PDF, one page per agent, when the optional extra ``pdf``
(WeasyPrint) is installed: ``kit-collab fiches --pdf``.

WeasyPrint's public API (doc.courtbouillon.org/weasyprint, "API Reference", v61+):
``HTML(string=..., base_url=..., url_fetcher=...).write_pdf()`` returns the PDF's bytes. Its
documentation warns that a page may make it fetch URLs or read local files: the sheets need
nothing outside themselves, so every resource is refused. Recent releases (read in 70.0,
``weasyprint/urls.py``) take a ``URLFetcher`` whose ``allowed_protocols`` limits the schemes
(an empty set: none); older ones a function, whose exception means "not found".
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, NoReturn

from kit_collab.errors import InputError, KitCollabError
from kit_collab.handover.sheets import ALL_SHEETS
from kit_collab.i18n import tr

EXTRA = "pdf"  # pyproject.toml [project.optional-dependencies]
PDF_NAME = "fiches.pdf"


def _missing() -> InputError:
    return InputError(
        tr("les fiches en PDF demandent la bibliothèque WeasyPrint, qui n'est pas installée",
           "sheets as PDF need the WeasyPrint library, which is not installed"),
        hint=tr(f"installez l'option « {EXTRA} » : pipx install 'kit-collab[{EXTRA}]' (ou, "
                f"dans l'environnement de kit-collab, pip install 'kit-collab[{EXTRA}]') ; "
                "sans elle, imprimez toutes-les-fiches.html depuis un navigateur",
                f"install the '{EXTRA}' extra: pipx install 'kit-collab[{EXTRA}]' (or, in "
                f"kit-collab's environment, pip install 'kit-collab[{EXTRA}]'); without it, "
                "print toutes-les-fiches.html from a browser"))


def _engine() -> Any:
    try:
        return importlib.import_module("weasyprint")
    except (ImportError, OSError):  # OSError: the library is there, Pango is not
        raise _missing() from None


def require() -> None:
    """Stop before anything else happens when the PDF cannot be made here."""
    _engine()


def _no_fetch(url: str, *_args: Any, **_kwargs: Any) -> NoReturn:
    raise ValueError(f"resource refused: {url[:80]}")


def _refusing_fetcher() -> Any:
    """A fetcher that lets no URL through: file, http, data alike."""
    fetcher_class = getattr(importlib.import_module("weasyprint.urls"), "URLFetcher", None)
    return fetcher_class(allowed_protocols=()) if fetcher_class else _no_fetch


def html_to_pdf(html: str, base: Path) -> bytes:
    """The PDF of one HTML page (its CSS decides the pages: one per agent)."""
    engine = _engine()
    document = engine.HTML(string=html, base_url=str(base), url_fetcher=_refusing_fetcher())
    data = document.write_pdf()
    if not isinstance(data, bytes):
        raise KitCollabError(tr("la conversion en PDF n'a rien produit",
                                "the PDF conversion produced nothing"))
    return data


def write_pdf(folder: Path) -> Path:
    """``fiches.pdf`` in the sheets folder, from the sheets just written there (0600: it
    holds the initial passwords, as they do)."""
    html = (folder / ALL_SHEETS).read_text(encoding="utf-8")
    target = folder / PDF_NAME
    tmp = folder / f".{PDF_NAME}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    data = html_to_pdf(html, folder)
    fd = os.open(tmp, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
    os.replace(tmp, target)
    return target
