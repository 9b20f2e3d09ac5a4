"""The agents' sheets: every value escaped, files 0600 in a 0700 folder, nothing printed, and
printed for real by Chromium: one A4 page per agent, with the agent's name and addresses."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kit_collab.bundle.secrets import ACCOUNTS
from kit_collab.errors import InputError, RenderError
from kit_collab.handover import sheets
from kit_collab.operations.prepare import Prepared, prepare

from .conftest import EXAMPLES, base_profile

HOSTILE_COMMUNE = "L'Haÿ \"x\" <script>alert(1)</script> & Cie"
HOSTILE_AGENT = "Zoé <img src=x onerror=alert(2)> \"&amp;\""
HOSTILE_SERVICE = "Urbanisme </td></tr><b>gras</b>"


class Page(HTMLParser):
    """The text of an HTML page as a browser would show it, and the tags it really has."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.chunks: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def _prepare(path: Path, tmp: Path) -> Prepared:
    return prepare(path, tmp / "secrets.json")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return _prepare(EXAMPLES / "petite-commune.yaml", tmp_path_factory.mktemp("secrets"))


@pytest.fixture
def hostile(write_profile, tmp_path: Path) -> Prepared:
    data = base_profile()
    data["commune"]["nom"] = HOSTILE_COMMUNE
    data["services_municipaux"].append({"id": "urbanisme", "nom": HOSTILE_SERVICE})
    data["utilisateurs"].append({"identifiant": "zoe", "nom": HOSTILE_AGENT,
                                 "email": "zoe@saint-essai.fr",
                                 "services_municipaux": ["urbanisme"]})
    return _prepare(write_profile(data), tmp_path)


def _passwords(prepared: Prepared) -> dict[str, str]:
    return prepared.secrets[ACCOUNTS]


def test_one_sheet_per_agent_files_0600_in_0700_folder(example: Prepared, tmp_path: Path,
                                                        capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "fiches"
    written = sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    ids = [u.identifiant for u in example.profile.utilisateurs]
    assert [p.name for p in written] == [
        "guide-accueil.html", *[f"fiche-{i}.html" for i in ids], "toutes-les-fiches.html"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(os.listdir(folder)) == sorted(p.name for p in written)  # no temporary left
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    passwords = _passwords(example)
    assert not any(pw in caplog.text for pw in passwords.values())

    guide = Page((folder / "guide-accueil.html").read_text(encoding="utf-8")).text
    assert not any(pw in guide for pw in passwords.values())
    assert "https://cloud.lhay-sur-mer.fr" in guide and "Marie Dupont" in guide
    for user in example.profile.utilisateurs:
        text = Page((folder / f"fiche-{user.identifiant}.html").read_text("utf-8")).text
        assert user.nom in text and f"Fiche personnelle de {user.nom}" in text
        assert passwords[user.identifiant] in text
        others = [pw for who, pw in passwords.items() if who != user.identifiant]
        assert not any(pw in text for pw in others)
        for address in ("https://cloud.lhay-sur-mer.fr", "https://discussion.lhay-sur-mer.fr",
                        "https://visio.lhay-sur-mer.fr", f"@{user.identifiant}:lhay-sur-mer.fr"):
            assert address in text
        assert "changez votre mot de passe" in text


def test_rerun_rewrites_and_keeps_the_folder_private(example: Prepared, tmp_path: Path) -> None:
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    (folder / "fiche-mdupont.html").chmod(0o644)  # loosened by hand: tightened again
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    assert stat.S_IMODE((folder / "fiche-mdupont.html").stat().st_mode) == 0o600


def test_open_folder_or_symlink_refused(example: Prepared, tmp_path: Path) -> None:
    shared = tmp_path / "partage"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(InputError, match="accessible à d'autres comptes"):
        sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, shared)
    assert list(shared.iterdir()) == []
    link = tmp_path / "lien"
    link.symlink_to(shared)
    with pytest.raises(InputError):
        sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, link)
    assert list(shared.iterdir()) == []


def test_missing_password_is_an_error(example: Prepared, tmp_path: Path) -> None:
    secrets = {k: dict(v) for k, v in example.secrets.items()}
    del secrets[ACCOUNTS]["jmartin"]
    with pytest.raises(RenderError, match="jmartin"):
        sheets.write_sheets(example.profile, example.bundle.hosts, secrets, tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_hostile_values_render_as_text(hostile: Prepared) -> None:
    pages = sheets.render_sheets(hostile.profile, hostile.bundle.hosts, hostile.secrets)
    template_tags = set(Page(pages["fiche-mdupont.html"]).tags)
    assert "script" not in template_tags and "img" not in template_tags
    for name, html in pages.items():
        page = Page(html)
        assert "script" not in page.tags and "img" not in page.tags, name
        assert HOSTILE_COMMUNE in page.text, name
        assert "<script>" not in html and "<img" not in html
    assert HOSTILE_AGENT in Page(pages["fiche-zoe.html"]).text
    assert f"Fiche personnelle de {HOSTILE_AGENT}" in Page(pages["toutes-les-fiches.html"]).text
    guide = Page(pages["guide-accueil.html"]).text
    assert HOSTILE_SERVICE in guide and HOSTILE_AGENT in guide
    assert f"Vos dossiers partagés : {HOSTILE_SERVICE}." in Page(pages["fiche-zoe.html"]).text


def test_only_services_that_are_on(tmp_path: Path) -> None:
    prepared = _prepare(EXAMPLES / "minimale.yaml", tmp_path)
    pages = sheets.render_sheets(prepared.profile, prepared.bundle.hosts, prepared.secrets)
    text = Page(pages["fiche-admin-mairie.html"]).text
    assert "https://cloud.saint-exemple.fr" in text
    assert "Element" not in text and "Jitsi" not in text and "visio" not in text
    assert "détruisez cette fiche" in text


# ---------------------------------------------------------------------------------------------
# Looked at: Chromium prints the sheets; poppler reads the PDF back.

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} absent : apt-get install {package}")
    return path


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium absent : apt-get install chromium")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                           *args], capture_output=True, text=True, timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _pdf(tmp_path: Path, html: Path) -> tuple[dict[str, str], list[str]]:
    """The PDF's info (pdfinfo) and the text of each page (pdftotext)."""
    pdfinfo = _tool("pdfinfo", "poppler-utils")
    pdftotext = _tool("pdftotext", "poppler-utils")
    pdf = tmp_path / (html.stem + ".pdf")
    _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri())
    info_text = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True,
                               check=True).stdout
    info = {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in info_text.splitlines() if ":" in line)}
    pages = []
    for number in range(1, int(info["Pages"]) + 1):
        pages.append(subprocess.run([pdftotext, "-f", str(number), "-l", str(number), str(pdf),
                                     "-"], capture_output=True, text=True, check=True).stdout)
    return info, pages


def _is_a4(info: dict[str, Any]) -> bool:
    width, _x, height = info["Page size"].split()[:3]
    return abs(float(width) - 595) < 1.5 and abs(float(height) - 842) < 1.5


def test_printed_one_a4_page_per_agent(example: Prepared, tmp_path: Path) -> None:
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    info, pages = _pdf(tmp_path, folder / "toutes-les-fiches.html")
    users = example.profile.utilisateurs
    assert _is_a4(info), info
    assert int(info["Pages"]) == len(users)  # one sheet per page, none spilling over
    passwords = _passwords(example)
    for user, text in zip(users, pages, strict=True):
        flat = " ".join(text.split())
        assert user.nom in flat and passwords[user.identifiant] in flat
        assert "https://cloud.lhay-sur-mer.fr" in flat and "https://visio.lhay-sur-mer.fr" in flat

    info, pages = _pdf(tmp_path, folder / "guide-accueil.html")
    assert _is_a4(info) and int(info["Pages"]) <= 2
    assert not any(pw in "".join(pages) for pw in passwords.values())


def test_long_values_never_put_two_agents_on_one_page(write_profile, tmp_path: Path) -> None:
    """Very long names, domain and service lists may push a sheet onto a second page; the next
    agent still starts on a page of their own (sheets are cut and handed out)."""
    data = base_profile()
    domain = "mairie-saint-jean-de-la-grande-vallee-sur-mer.fr"
    data["commune"].update(nom="Saint-Jean-de-la-Grande-Vallée-" * 2 + "sur-Mer-et-les-Forêts",
                           domaine=domain, email_contact=f"secretariat.general@{domain}")
    data["services"]["nextcloud"]["collabora"] = True
    data["services_municipaux"] = [{"id": f"service-{i}", "nom": f"Service municipal numéro {i}"}
                                   for i in range(10)]
    data["utilisateurs"] = [
        {"identifiant": "mc.delarochefoucauld-montmo", "email": f"mc@{domain}",
         "nom": "Marie-Christine-Élisabeth de La Rochefoucauld-Montmorency",
         "role": "administrateur", "services_municipaux": [f"service-{i}" for i in range(10)]},
        *[{"identifiant": f"agent{i}", "nom": f"Agent numéro {i}", "email": f"a{i}@{domain}"}
          for i in range(3)]]
    prepared = _prepare(write_profile(data), tmp_path)
    folder = tmp_path / "fiches"
    sheets.write_sheets(prepared.profile, prepared.bundle.hosts, prepared.secrets, folder)
    info, pages = _pdf(tmp_path, folder / "toutes-les-fiches.html")
    assert _is_a4(info)
    passwords = _passwords(prepared)
    owners = [[who for who, pw in passwords.items() if pw in page] for page in pages]
    assert all(len(found) <= 1 for found in owners), owners
    assert [found[0] for found in owners if found] == [
        u.identifiant for u in prepared.profile.utilisateurs]  # each once, in order
    assert len(pages) <= 2 * len(passwords)


def test_screenshot_shows_the_name(example: Prepared, tmp_path: Path) -> None:
    """The sheet as a person sees it (794x1123: A4 at 96 dpi); the same sheet without the
    agent's name looks different exactly in the header, where the name is."""
    image_mod = pytest.importorskip("PIL.Image", reason="Pillow (matrix-synapse's dependency)")
    chops = pytest.importorskip("PIL.ImageChops")
    folder = tmp_path / "fiches"
    sheets.write_sheets(example.profile, example.bundle.hosts, example.secrets, folder)
    sheet = folder / "fiche-mdupont.html"
    html = sheet.read_text(encoding="utf-8")
    blank = tmp_path / "sans-nom.html"
    blank.write_text(html.replace("<strong>Marie Dupont</strong>", "<strong></strong>"),
                     encoding="utf-8")
    shots = []
    for page in (sheet, blank):
        png = tmp_path / (page.stem + ".png")
        _chromium(tmp_path, f"--screenshot={png}", "--window-size=794,1123", page.as_uri())
        shots.append(image_mod.open(png).convert("RGB"))
    assert shots[0].size == (794, 1123)
    box = chops.difference(*shots).getbbox()
    assert box is not None, "the name is not visible"
    _left, top, _right, bottom = box
    assert top > 80 and bottom < 160, box  # the line « Fiche personnelle de … » only
    # Something is drawn all the way down: the page is not blank.
    assert shots[0].crop((0, 900, 794, 1000)).getextrema() != ((255, 255),) * 3


def test_browser_runs_no_script_from_a_hostile_name(hostile: Prepared, tmp_path: Path) -> None:
    folder = tmp_path / "fiches"
    sheets.write_sheets(hostile.profile, hostile.bundle.hosts, hostile.secrets, folder)
    dom = _chromium(tmp_path, "--dump-dom", (folder / "fiche-zoe.html").as_uri()).stdout
    page = Page(dom)
    assert "script" not in page.tags and "img" not in page.tags
    assert HOSTILE_AGENT in page.text and HOSTILE_COMMUNE in page.text


# --- issue 15, item 7: the help-desk, the phone's calendars, Jitsi's own words ------------

def test_help_desk_phone_on_every_sheet_and_in_the_guide(example: Prepared) -> None:
    pages = sheets.render_sheets(example.profile, example.bundle.hosts, example.secrets)
    for user in example.profile.utilisateurs:
        text = Page(pages[sheets.sheet_name(user.identifiant)]).text
        assert "04 90 12 34 56" in text and "Service informatique" in text, user.identifiant
    assert "04 90 12 34 56" in Page(pages[sheets.GUIDE]).text


def test_administrator_is_not_told_to_ask_herself(write_profile, tmp_path: Path) -> None:
    data = base_profile()  # no assistance section
    prepared = _prepare(write_profile(data), tmp_path)
    pages = sheets.render_sheets(prepared.profile, prepared.bundle.hosts, prepared.secrets)
    for user in prepared.profile.utilisateurs:
        footer = Page(pages[sheets.sheet_name(user.identifiant)]).text.split("Une question")[1]
        if user.role == "administrateur":
            assert user.nom not in footer, user.identifiant
            assert prepared.profile.commune.email_contact in footer


def test_guide_explains_calendars_and_contacts_on_android_and_iphone(example: Prepared) -> None:
    guide = Page(sheets.render_sheets(example.profile, example.bundle.hosts,
                                      example.secrets)[sheets.GUIDE]).text
    cloud = example.bundle.hosts["nextcloud"]["cloud"]
    assert "DAVx⁵" in guide and f"https://{cloud}/remote.php/dav" in guide
    assert "CalDAV" in guide and "CardDAV" in guide


def test_jitsi_button_is_named_as_the_french_interface_names_it(example: Prepared) -> None:
    pages = sheets.render_sheets(example.profile, example.bundle.hosts, example.secrets)
    joined = " ".join(Page(p).text for p in pages.values())
    assert "Je suis l'hôte" in joined and "organisateur" not in joined
