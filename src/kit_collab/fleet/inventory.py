"""An intercommunal inventory: a folder of commune profiles plus shared defaults.

``<folder>/defauts.yaml`` (optional) holds what every commune inherits (server, services,
hosting, certificates); every other ``*.yaml`` is a commune profile that may override any of
it. The inventory is validated as a whole: two communes claiming the same hostname or the
same technical name are an error naming both files and lines; communes sharing a server must
agree on the shared proxy. Pure: reads files, no network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kit_collab.errors import InputError, Problem, ProfileError
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe
from kit_collab.profile.load import DEFAULTS_FILE, load_document, validate_document
from kit_collab.profile.model import Profile
from kit_collab.profile.notes import domain_notes

if TYPE_CHECKING:
    from kit_collab.recipes.load import RecipeSet


@dataclass(frozen=True)
class InventoryEntry:
    path: Path
    profile: Profile
    doc: yamlsafe.Document

    @property
    def slug(self) -> str:
        return self.profile.commune.code

    @property
    def server(self) -> tuple[str, int, str]:
        s = self.profile.serveur
        return (s.hote, s.port_ssh, s.utilisateur)

    def where(self, path: tuple[str | int, ...]) -> tuple[int | None, int | None]:
        mark = self.doc.mark(path)
        return (mark[0], mark[1]) if mark else (None, None)

    def file(self, path: tuple[str | int, ...]) -> str:
        """The profile, or its defaults file when the value at ``path`` is inherited."""
        return self.doc.file(path)


def _files(paths: list[Path]) -> list[Path]:
    """The profile files: those given, and every ``*.yaml`` of the folders given; a folder's
    ``defauts.yaml`` is the communes' defaults, never a commune (also when named, as by a
    shell's ``inventaire/*.yaml``)."""
    profiles: list[Path] = []
    for path in paths:
        if path.name == DEFAULTS_FILE and not path.is_dir():
            continue
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.name != DEFAULTS_FILE)
            if not found:
                raise InputError(tr(f"aucun profil de commune (*.yaml) dans {path}",
                                    f"no commune profile (*.yaml) in {path}"))
            profiles.extend(found)
        else:
            profiles.append(path)
    return profiles


def entry(path: Path) -> InventoryEntry:
    """One commune profile (over its folder's defaults), validated alone."""
    doc = load_document(path)
    return InventoryEntry(path=path, profile=validate_document(doc), doc=doc)


@dataclass
class FileCheck:
    """``validate``'s verdict on one file: the commune's name when valid, else problems."""

    path: Path
    name: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # warnings on a valid profile

    @property
    def valid(self) -> bool:
        return not self.problems


def check_files(paths: list[Path]) -> list[FileCheck]:
    """Every commune of the given folders/files validated alone, then together (names,
    technical names, shared proxies): one verdict per file, no exception for problems."""
    checks: list[FileCheck] = []
    entries: list[InventoryEntry] = []
    for path in _files(paths):
        try:
            found = entry(path)
        except InputError as exc:
            problems = exc.problems or [Problem("", exc.message, file=str(path), hint=exc.hint)]
            checks.append(FileCheck(path, None, list(problems)))
            continue
        entries.append(found)
        checks.append(FileCheck(path, found.profile.commune.nom,
                                notes=domain_notes(found.doc, found.profile)))
    by_file = {str(c.path): c for c in checks}
    for problem in cross_checks(entries):
        target = by_file.get(problem.file or "")
        if target is None:
            target = by_file[problem.file or ""] = FileCheck(Path(problem.file or ""))
            checks.append(target)
        target.problems.append(problem)
    return checks


def load(paths: list[Path]) -> list[InventoryEntry]:
    """Every commune of the given folders/files, each over its folder's ``defauts.yaml``,
    validated one by one and then together."""
    entries: list[InventoryEntry] = []
    problems: list[Problem] = []
    for path in _files(paths):
        try:
            entries.append(entry(path))
        except InputError as exc:
            # A problem in defauts.yaml is said once, not once per commune.
            for problem in exc.problems or [Problem("", exc.message, file=str(path))]:
                if problem not in problems:
                    problems.append(problem)
    if problems:
        raise ProfileError(tr("inventaire invalide", "invalid inventory"), problems)
    problems = cross_checks(entries)
    if problems:
        raise ProfileError(tr("inventaire invalide", "invalid inventory"), problems)
    return entries


def hostnames(profile: Profile, recipes: RecipeSet) -> list[tuple[str, tuple[str | int, ...]]]:
    """(fully qualified name, profile path of the field that defines it), as the active
    recipes declare them: no service is named here."""
    from kit_collab.bundle.active import active_recipes, profile_data, recipe_lookup, recipe_true

    domain = profile.commune.domaine
    data = profile_data(profile)
    out: list[tuple[str, tuple[str | int, ...]]] = []
    for recipe in active_recipes(profile, recipes):
        for path in recipe.spec.hostnames.values():
            label = recipe_lookup(recipe, data, path)
            out.append((f"{label}.{domain}", tuple(path.split("."))))
        bare = recipe.spec.bare_domain
        if bare is True or (isinstance(bare, str) and recipe_true(recipe, data, bare)):
            out.append((domain, ("commune", "domaine")))
    return out


def _claim_problem(kind: str, value: str, first: tuple[InventoryEntry, tuple[str | int, ...]],
                   second: tuple[InventoryEntry, tuple[str | int, ...]]) -> Problem:
    (a, pa), (b, pb) = first, second
    la, _ = a.where(pa)
    lb, cb = b.where(pb)
    where_a = f"{a.file(pa)}:{la}" if la else str(a.path)
    return Problem(".".join(str(p) for p in pb), tr(
        f"{kind} « {value} » déjà pris par {where_a}",
        f"{kind} '{value}' already taken by {where_a}"), file=b.file(pb), line=lb, column=cb,
        hint=tr("chaque commune a ses propres noms", "each commune has its own names"))


def cross_checks(entries: list[InventoryEntry],
                 recipes: RecipeSet | None = None) -> list[Problem]:
    problems: list[Problem] = []
    if len(entries) < 2:  # one commune claims nothing another one holds
        return problems
    from kit_collab.recipes.load import load_recipes

    recipes = recipes or load_recipes()
    names: dict[str, tuple[InventoryEntry, tuple[str | int, ...]]] = {}
    slugs: dict[str, tuple[InventoryEntry, tuple[str | int, ...]]] = {}
    for entry in entries:
        slug_path: tuple[str | int, ...] = ("commune", "slug") if entry.profile.commune.slug \
            else ("commune", "domaine")
        if entry.slug in slugs:
            problems.append(_claim_problem(tr("nom technique", "technical name"), entry.slug,
                                           slugs[entry.slug], (entry, slug_path)))
        slugs.setdefault(entry.slug, (entry, slug_path))
        for name, field_path in hostnames(entry.profile, recipes):
            # A recipe's default sub-domain is not in the file: point at the domain's line.
            path = field_path if field_path in entry.doc.marks else ("commune", "domaine")
            if name in names and names[name][0] is not entry:
                problems.append(_claim_problem(tr("nom d'hôte", "hostname"), name, names[name],
                                               (entry, path)))
            names.setdefault(name, (entry, path))
    problems.extend(_shared_server_checks(entries))
    return problems


def proxy_files(profile: Profile, neighbours: Iterable[str] = ()) -> dict[str, bytes]:
    """The shared proxy's files as this commune would write them (``neighbours``: the
    server's other communes, whose networks the proxy joins too)."""
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import digest_draw
    from kit_collab.recipes.load import load_recipes

    # Only the proxy's files are kept: stand-in secrets, nothing random drawn.
    bundle = make_bundle(profile, load_recipes(), draw=digest_draw("inventaire"),
                         neighbours=neighbours).bundle
    return {f.path: f.content for f in bundle.files if f.path.startswith("proxy/")}


def _shared_server_checks(entries: list[InventoryEntry]) -> list[Problem]:
    """Communes on one server share its proxy: they must render the same proxy files
    (certificates, ACME e-mail, server root), else each install would rewrite the others'."""
    problems: list[Problem] = []
    per_server: dict[tuple[str, int, str], list[InventoryEntry]] = {}
    for one in entries:
        per_server.setdefault(one.server, []).append(one)
    for group in per_server.values():
        if len(group) < 2:  # a server of its own: nothing to agree on (and nothing rendered)
            continue
        slugs = [one.profile.commune.code for one in group]
        expected = proxy_files(group[0].profile, slugs)
        problems.extend(_proxy_problem(other, group[0]) for other in group[1:]
                        if proxy_files(other.profile, slugs) != expected)
    return problems


def _proxy_problem(entry: InventoryEntry, other: InventoryEntry) -> Problem:
    line, col = entry.where(("serveur",))
    return Problem("serveur", tr(
        f"le proxy partagé du serveur {entry.profile.serveur.hote} serait configuré "
        f"autrement que pour {other.path} (certificats, e-mail ACME ou dossier)",
        f"the shared proxy of server {entry.profile.serveur.hote} would be configured "
        f"differently than for {other.path} (certificates, ACME e-mail or folder)"),
        file=str(entry.path), line=line, column=col,
        hint=tr("mettez serveur.certificats (avec email_acme) et serveur.racine dans "
                "defauts.yaml", "put serveur.certificats (with email_acme) and "
                "serveur.racine in defauts.yaml"))


def select(entries: list[InventoryEntry], only: list[str], skip: list[str]) -> list[InventoryEntry]:
    """--seulement / --sauf, by technical name or file stem; an unknown name is an error."""
    known = {e.slug for e in entries} | {e.path.stem for e in entries}
    unknown = [n for n in [*only, *skip] if n not in known]
    if unknown:
        raise InputError(tr(("commune inconnue : " if len(unknown) == 1 else
                             "communes inconnues : ") + ", ".join(unknown),
                            "unknown communes: " + ", ".join(unknown)),
                         hint=tr(f"communes : {', '.join(sorted(known))}",
                                 f"communes: {', '.join(sorted(known))}"))
    chosen = [e for e in entries if not only or e.slug in only or e.path.stem in only]
    chosen = [e for e in chosen if e.slug not in skip and e.path.stem not in skip]
    if not chosen:
        raise InputError(tr("aucune commune choisie : --seulement et --sauf les excluent toutes",
                            "no commune selected: --seulement and --sauf exclude them all"),
                         hint=tr(f"communes : {', '.join(sorted(known))}",
                                 f"communes: {', '.join(sorted(known))}"))
    return chosen
