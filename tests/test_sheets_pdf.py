"""Issue 15, "Sheets also as PDF when a well-kept HTML-to-PDF library is installed" and "the
sheets, rendered by headless Chromium to PNG in the tests, contain the help-desk phone, the
phone-calendar section and every address; the PDF has one page per agent"."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kit_collab.handover import pdf, sheets
from kit_collab.operations.prepare import Prepared

from .conftest import EXAMPLES
from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    data_root,
    images,
    server_root,
    sshd,
)
from .test_sheets import (  # noqa: F401  (the module's fixture and its printing helpers)
    Page,
    _chromium,
    _is_a4,
    _passwords,
    _pdf,
    _tool,
    example,
)

PHONE = "04 90 12 34 56"  # examples/petite-commune.yaml, assistance.telephone
DOMAIN = "lhay-sur-mer.fr"
ADDRESSES = [f"https://cloud.{DOMAIN}", f"https://discussion.{DOMAIN}",
             f"https://visio.{DOMAIN}"]


def _weasyprint() -> None:
    try:
        pdf.require()
    except pdf.InputError as exc:
        pytest.skip(f"extra « pdf » absent ou incomplet (pip install '.[pdf]', apt-get install "
                    f"libpango-1.0-0 libpangoft2-1.0-0) : {exc.message}")


def _pages(path: Path) -> list[str]:
    pdfinfo = _tool("pdfinfo", "poppler-utils")
    pdftotext = _tool("pdftotext", "poppler-utils")
    info = subprocess.run([pdfinfo, str(path)], capture_output=True, text=True,
                          check=True).stdout
    count = int(next(line.split(":")[1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    assert "A4" in info, info
    return [" ".join(subprocess.run([pdftotext, "-f", str(n), "-l", str(n), str(path), "-"],
                                    capture_output=True, text=True, check=True).stdout.split())
            for n in range(1, count + 1)]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _loose(text: str) -> str:
    """Without spaces and hyphens: a printed address may wrap after a hyphen
    (« lhay-sur- / mer.fr »), which pdftotext joins without it."""
    return re.sub(r"[\s-]", "", text)


# --- The PDF extra ------------------------------------------------------------------------

def test_sheets_pdf_has_one_page_per_agent_each_with_its_own_password(
        example: Prepared, tmp_path: Path) -> None:  # noqa: F811
    _weasyprint()
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    written = pdf.write_pdf(folder)
    assert written == folder / "fiches.pdf"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it holds the passwords
    pages = _pages(written)
    users = example.profile.utilisateurs
    assert len(pages) == len(users)
    passwords = _passwords(example)
    for user, text in zip(users, pages, strict=True):
        assert user.nom in text and passwords[user.identifiant] in text
        others = [pw for who, pw in passwords.items() if who != user.identifiant]
        assert not any(pw in text for pw in others)


def test_sheets_pdf_of_one_agent_is_one_page(example: Prepared, tmp_path: Path) -> None:  # noqa: F811
    _weasyprint()
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder,
                        ["jmartin"])
    pages = _pages(pdf.write_pdf(folder))
    assert len(pages) == 1 and _passwords(example)["jmartin"] in pages[0]


def test_sheets_pdf_fetches_nothing_from_outside(tmp_path: Path) -> None:
    _weasyprint()
    secret = tmp_path / "secret.txt"
    secret.write_text("ne-doit-pas-sortir", "utf-8")
    html = (f'<html><body><p>Fiche</p><img src="{secret.as_uri()}">'
            f'<link rel="stylesheet" href="{secret.as_uri()}">'
            '<img src="http://192.0.2.1/x.png"></body></html>')
    data = pdf.html_to_pdf(html, tmp_path)
    assert data.startswith(b"%PDF") and b"ne-doit-pas-sortir" not in data


def test_fiches_pdf_without_the_extra_says_which_extra_to_install(
        cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as when absent
    result = cli("fiches", EXAMPLES / "petite-commune.yaml", "--pdf")
    # Exit 2 before any connection (the example's server, 203.0.113.10, would give 3).
    assert result.code == 2, result.text
    assert "WeasyPrint" in result.err and "kit-collab[pdf]" in result.err
    assert "Traceback" not in result.text


# --- Looked at in Chromium: the help-desk, the phone's calendars, every address -----------

def test_printed_sheets_show_the_help_desk_phone_and_every_address(
        example: Prepared, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    _info, pages = _pdf(tmp_path, folder / "toutes-les-fiches.html")
    users = example.profile.utilisateurs
    assert len(pages) == len(users)
    for user, page in zip(users, pages, strict=True):
        text = _flat(page)
        assert PHONE in text and "Service informatique" in text, user.identifiant
        for address in [*ADDRESSES, f"@{user.identifiant}:{DOMAIN}"]:
            assert _loose(address) in _loose(text), (user.identifiant, address)


def test_printed_guide_shows_the_phone_calendar_section_and_the_help_desk(
        example: Prepared, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    info, pages = _pdf(tmp_path, folder / "guide-accueil.html")
    assert _is_a4(info)
    text = _flat(" ".join(pages))
    assert "Agendas et contacts sur le téléphone" in text
    assert "DAVx⁵" in text and "CalDAV" in text and "CardDAV" in text
    assert _loose(f"https://cloud.{DOMAIN}/remote.php/dav") in _loose(text)
    assert PHONE in text
    for address in ADDRESSES:
        assert _loose(address) in _loose(text), address


def _shot(tmp_path: Path, page: Path, height: int) -> object:
    image_mod = pytest.importorskip("PIL.Image", reason="Pillow (matrix-synapse's dependency)")
    png = tmp_path / (page.stem + ".png")
    _chromium(tmp_path, f"--screenshot={png}", f"--window-size=794,{height}", page.as_uri())
    return image_mod.open(png).convert("RGB")


def _ink_where(tmp_path: Path, page: Path, old: str, new: str, height: int) -> object:
    """Where the page looks different once ``old`` is replaced: None when it was not seen."""
    chops = pytest.importorskip("PIL.ImageChops")
    html = page.read_text(encoding="utf-8")
    assert old in html, old
    other = tmp_path / f"sans-{page.name}"
    other.write_text(html.replace(old, new), encoding="utf-8")
    return chops.difference(_shot(tmp_path, page, height),
                            _shot(tmp_path, other, height)).getbbox()  # type: ignore[attr-defined]


def test_screenshots_show_the_help_desk_phone_and_the_phone_calendar_steps(
        example: Prepared, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    sheet = folder / "fiche-mdupont.html"
    box = _ink_where(tmp_path, sheet, f"<strong>{PHONE}</strong>", "<strong></strong>", 1123)
    assert box is not None, "the help-desk phone is not visible on the sheet"
    guide = folder / "guide-accueil.html"
    # The guide is taller than one screen: a window tall enough for all of it.
    box = _ink_where(tmp_path, guide, "Installez «\u00a0DAVx⁵\u00a0»", "", 3000)
    assert box is not None, "the Android calendar steps are not visible in the guide"
    box = _ink_where(tmp_path, guide, f"<strong>{PHONE}</strong>", "<strong></strong>", 3000)
    assert box is not None, "the help-desk phone is not visible in the guide"


# --- Through the command, over real SSH: the passwords come from the server ----------------

def test_fiches_pdf_command_writes_one_page_per_agent_from_the_server(
        sshd, server_root, data_root, tmp_path, cli) -> None:  # noqa: F811
    from .test_deploy import SLUG, _profile_file
    from .test_secrets_guard import _env

    _weasyprint()
    path = _profile_file(tmp_path, sshd, server_root)
    env = _env(data_root, tmp_path)
    assert cli("install", path, "--yes", "--force", "--accept-host-key", sshd.fingerprint,
               env=env).code == 0
    result = cli("fiches", path, "--pdf", env=env)
    assert result.code == 0, result.text
    written = tmp_path / f"fiches-{SLUG}" / "fiches.pdf"
    assert "fiches.pdf" in result.out
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    secrets = server_root / "communes" / SLUG / "secrets" / "secrets.json"
    accounts = json.loads(secrets.read_text())["comptes"]
    pages = _pages(written)
    assert len(pages) == len(accounts)
    assert all(any(pw in page for page in pages) for pw in accounts.values())
    assert not any(pw in result.text for pw in accounts.values())  # never on the terminal
