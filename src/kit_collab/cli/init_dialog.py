"""The questionnaire of ``kit-collab init`` on a terminal, and the writing of the profile."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.prompt import Prompt

from kit_collab import constants
from kit_collab.cli.prompts import YesNo
from kit_collab.errors import InputError
from kit_collab.i18n import count, tr
from kit_collab.profile import wizard


class _Ask(Prompt):
    """A question; « : » after it in French."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.prompt_suffix = tr(" : ", ": ")


class RichDialog:
    """The questionnaire on a terminal, with rich prompts."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def ask(self, text: str, default: str | None) -> str:
        from kit_collab.cli.output import esc

        if default is None:
            return _Ask.ask(f"[bold]{esc(text)}[/]", console=self.console)
        return _Ask.ask(f"[bold]{esc(text)}[/]", console=self.console, default=default)

    def confirm(self, text: str, default: bool) -> bool:
        from kit_collab.cli.output import esc

        return YesNo.ask(f"[bold]{esc(text)}[/]", console=self.console, default=default)

    def tell(self, text: str, *, error: bool = False, heading: bool = False) -> None:
        from kit_collab.cli.output import esc

        if heading:
            self.console.print(f"\n[bold]{esc(text)}[/]")
        else:
            self.console.print(f"[red]✗ {esc(text)}[/]" if error else f"[dim]{esc(text)}[/]")


def _refuse_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise InputError(tr(f"{path} est un dossier : donnez le nom du profil à écrire "
                            "(ex. : commune.yaml)", f"{path} is a folder: give the name of the "
                            "profile to write (e.g. commune.yaml)"))
    if path.exists() and not force:
        raise InputError(tr(f"{path} existe déjà : il n'est pas écrasé",
                            f"{path} already exists: it is not overwritten"),
                         hint=tr("choisissez un autre nom, ou ajoutez --force pour le remplacer",
                                 "choose another name, or add --force to replace it"))
    if not path.parent.is_dir():
        raise InputError(tr(f"dossier introuvable : {path.parent}",
                            f"folder not found: {path.parent}"))


def _write(path: Path, text: str, force: bool) -> None:
    """Never over an existing file without ``force`` (O_EXCL: not even one created meanwhile)."""
    data = text.encode("utf-8")
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            _refuse_target(path, force=False)
            raise
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def run(path: Path, *, force: bool, interactive: bool,
        values: dict[str, str | None]) -> int:
    """Ask (or take from ``values`` and defaults), check, then write the profile at ``path``.
    ``values`` keys: ``wizard.option_keys()``; None values are ignored."""
    from kit_collab.cli.output import esc, out

    given = {k: v for k, v in values.items() if v is not None}
    _refuse_target(path, force)
    wizard.check_options(given)
    dialog = RichDialog(out) if interactive else None
    if dialog is not None:
        out.print(tr(f"[bold]Profil de commune[/] : quelques questions, puis {esc(path)} sera "
                     "écrit. Entrée garde la valeur proposée entre parenthèses ; Ctrl+C abandonne.",
                     f"[bold]Commune profile[/]: a few questions, then {esc(path)} is written. "
                     "Enter keeps the value offered in brackets; Ctrl+C gives up."))
    try:
        answers = wizard.collect(dialog, given)
    except EOFError:
        raise InputError(tr("questionnaire interrompu : l'entrée s'est terminée avant la fin",
                            "questionnaire stopped: input ended before the last answer"),
                         hint=tr("sans terminal, utilisez --non-interactif avec --nom, --domaine, "
                                 "--hote et --hebergeur", "without a terminal, use "
                                 "--non-interactif with --nom, --domaine, --hote and "
                                 "--hebergeur")) from None
    text = wizard.profile_text(answers, wizard.schema_reference(path), path.name)
    profile = wizard.check_text(text, str(path))
    _write(path, text, force)
    out.print(tr(f"[green]✓[/] Profil écrit : {esc(path)} ({esc(profile.commune.nom)}, "
                 f"{count(len(profile.utilisateurs), ('agent', 'agents'), ('', ''))}).",
                 f"[green]✓[/] Profile written: {esc(path)} ({esc(profile.commune.nom)}, "
                 f"{count(len(profile.utilisateurs), ('', ''), ('user', 'users'))})."))
    out.print(tr(f"  Ensuite : kit-collab install {esc(path)} --dry-run, puis kit-collab check "
                 f"{esc(path)} pour les enregistrements DNS à créer.",
                 f"  Next: kit-collab install {esc(path)} --dry-run, then kit-collab check "
                 f"{esc(path)} for the DNS records to create."))
    if profile.serveur.hote == "local":
        return constants.EXIT_OK
    if dialog is None:
        out.print(tr(f"  Connexion au serveur : kit-collab acces {esc(path)}",
                     f"  Connection to the server: kit-collab acces {esc(path)}"))
        return constants.EXIT_OK
    from kit_collab.cli.commands.access import offer_after_init

    return offer_after_init(path, profile.serveur.hote)
