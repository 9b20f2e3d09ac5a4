"""The agents' printable sheets: one A4 page per agent with their identifiant and initial
password, and one welcome guide for everybody (no password).

Written only to the folder the operator chose: the folder 0700, the files 0600, nothing on the
terminal or in a log. Every value goes through HTML escaping (sandboxed Jinja, autoescape), so a
commune called ``L'Haÿ "x" <script>`` prints as text.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from kit_collab.bundle.model import Secrets
from kit_collab.bundle.secrets import ACCOUNTS
from kit_collab.errors import InputError, KitCollabError, RenderError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.redact import remember

TEMPLATES = Path(__file__).resolve().parent / "templates"
GUIDE = "guide-accueil.html"
ALL_SHEETS = "toutes-les-fiches.html"
_SAFE_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")  # an identifiant, checked again here


def default_folder(profile_path: Path, profile: Profile) -> Path:
    """``fiches-<slug>`` beside the profile."""
    return profile_path.resolve().parent / f"fiches-{profile.commune.code}"


def sheet_name(identifiant: str) -> str:
    if not _SAFE_NAME.match(identifiant):  # the profile already guarantees it: belt and braces
        raise RenderError(tr(f"identifiant inattendu : {identifiant!r}",
                             f"unexpected identifier: {identifiant!r}"))
    return f"fiche-{identifiant}.html"


@functools.cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _services(profile: Profile, hosts: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The addresses of the services that are on (from the rendered bundle's hosts)."""
    return {
        "cloud": hosts.get("nextcloud", {}).get("cloud"),
        "office": bool(hosts.get("collabora")),
        "element": hosts.get("matrix", {}).get("element"),
        "visio": hosts.get("jitsi", {}).get("visio"),
        "invites": profile.services.jitsi.invites,
    }


def _context(profile: Profile, hosts: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What every page may show: no password in it."""
    names = {s.id: s.nom for s in profile.services_municipaux}
    domain, matrix = profile.commune.domaine, profile.matrix_server_name
    agents = [{"nom": u.nom, "identifiant": u.identifiant, "matrix": f"@{u.identifiant}:{matrix}",
               "services": [names[s] for s in u.services_municipaux if s in names]}
              for u in profile.utilisateurs]
    return {
        "commune": {"nom": profile.commune.nom, "domaine": domain, "serveur_matrix": matrix,
                    "email_contact": profile.commune.email_contact},
        "services": _services(profile, hosts),
        "admins": [u.nom for u in profile.utilisateurs if u.role == "administrateur"],
        "admin_ids": [u.identifiant for u in profile.utilisateurs if u.role == "administrateur"],
        "assistance": profile.assistance.model_dump() if profile.assistance else None,
        "municipaux": [{"nom": s.nom, "membres": [u.nom for u in profile.utilisateurs
                                                 if s.id in u.services_municipaux]}
                       for s in profile.services_municipaux],
        "agents": agents,
    }


def _password(secrets: Secrets, identifiant: str) -> str:
    value = secrets.get(ACCOUNTS, {}).get(identifiant)
    if not value:
        raise RenderError(tr(f"mot de passe initial manquant pour « {identifiant} »",
                             f"initial password missing for '{identifiant}'"),
                          hint=tr("les secrets se complètent avant les fiches (ensure_secrets)",
                                  "secrets are completed before the sheets (ensure_secrets)"))
    return value


def render_sheets(profile: Profile, hosts: dict[str, dict[str, str]],
                  secrets: Secrets, agents: list[str] | None = None) -> dict[str, str]:
    """File name -> HTML: one sheet per agent (of ``agents`` when given), all those sheets in
    one file, the welcome guide."""
    env = _environment()
    ctx = _context(profile, hosts)
    guide = env.get_template("guide.html.j2").render(ctx)  # rendered before any password is in
    with_passwords = [{**agent, "mot_de_passe": _password(secrets, agent["identifiant"])}
                      for agent in ctx["agents"]
                      if agents is None or agent["identifiant"] in agents]
    remember(a["mot_de_passe"] for a in with_passwords)
    pages = {GUIDE: guide}
    one = env.get_template("fiche.html.j2")
    for agent in with_passwords:
        pages[sheet_name(agent["identifiant"])] = one.render({**ctx, "agent": agent})
    pages[ALL_SHEETS] = env.get_template("fiches.html.j2").render(
        {**ctx, "agents": with_passwords})
    return pages


def _private_folder(folder: Path) -> None:
    """Create the folder 0700, or accept an existing one only if nobody else can read it."""
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            folder.chmod(0o700)  # whatever the umask
        info = folder.lstat()
    except OSError as exc:
        raise KitCollabError(tr(f"dossier des fiches impossible à créer : {folder} "
                                f"({exc.strerror})", f"cannot create the sheets folder: "
                                f"{folder} ({exc.strerror})")) from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(tr(f"{folder} n'est pas un dossier (lien symbolique ?)",
                            f"{folder} is not a folder (symbolic link?)"))
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise InputError(
            tr(f"le dossier des fiches {folder} est accessible à d'autres comptes (mode "
               f"{stat.S_IMODE(info.st_mode):04o}) : les mots de passe n'y sont pas écrits",
               f"the sheets folder {folder} is open to other accounts (mode "
               f"{stat.S_IMODE(info.st_mode):04o}): the passwords are not written there"),
            hint=tr(f"choisissez un dossier neuf, ou « chmod 700 {folder} »",
                    f"choose a new folder, or 'chmod 700 {folder}'"))


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)


def write_sheets(profile: Profile, hosts: dict[str, dict[str, str]], secrets: Secrets,
                 folder: Path, agents: list[str] | None = None) -> list[Path]:
    """Write the guide, one sheet per agent (of ``agents`` when given) and those sheets in one
    file (to print at once) into ``folder`` (0700; files 0600). Returns the paths written;
    prints nothing."""
    pages = render_sheets(profile, hosts, secrets, agents)
    _private_folder(folder)
    written = []
    for name, text in pages.items():
        path = folder / name
        _write_private(path, text)
        written.append(path)
    return written
