"""Options shared by several commands, declared once (help in the current language).

``fleet_command`` appends the fleet options (--json, --parallele, --seulement, --sauf,
--journaux, --accept-host-key) to a command's own parameters and hands them to it as one
``FleetArgs``. List options accept repeated and comma-separated values alike.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kit_collab.i18n import tr


@dataclass(frozen=True)
class FleetArgs:
    as_json: bool = False
    workers: int = 4
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    logs: Path | None = None
    accept_host_key: str | None = None
    canary: int = 0  # install --canari N: the first N communes first, the rest if they pass


def split_commas(values: list[str] | None) -> list[str]:
    """``--seulement a,b --seulement c`` -> ``[a, b, c]``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def json_option() -> Any:
    return typer.Option("--json", help=tr("Sortie JSON pour les scripts.",
                                          "JSON output for scripts."))


def yes_option() -> Any:
    return typer.Option("--yes", "-y", help=tr("Ne pas demander de confirmation.",
                                               "Do not ask for confirmation."))


def host_key_option() -> Any:
    return typer.Option("--accept-host-key", help=tr(
        "Empreinte SHA256:… de la clé d'hôte SSH à accepter (vérifiée auprès de l'hébergeur).",
        "SHA256:… fingerprint of the SSH host key to accept (checked with the host)."))


def profile_argument() -> Any:
    return typer.Argument(metavar=tr("PROFIL", "PROFILE"),
                          help=tr("Profil de la commune.", "Commune profile."))


def targets_argument() -> Any:
    return typer.Argument(metavar=tr("PROFIL", "PROFILE"), help=tr(
        "Profil d'une commune ; ou plusieurs profils, ou un dossier d'inventaire (profils et "
        "defauts.yaml) pour toute une flotte.", "A commune profile; or several profiles, or "
        "an inventory folder (profiles and defauts.yaml) for a whole fleet."))


def _names() -> str:
    return tr("noms séparés par des virgules, ou l'option répétée",
              "comma-separated names, or the option repeated")


def only_option() -> Any:
    return typer.Option("--seulement", callback=split_commas, help=tr(
        f"Flotte : seulement ces communes ({_names()}).",
        f"Fleet: only these communes ({_names()})."))


def skip_option() -> Any:
    return typer.Option("--sauf", callback=split_commas, help=tr(
        f"Flotte : toutes les communes sauf celles-ci ({_names()}).",
        f"Fleet: every commune but these ({_names()})."))


def _fleet_parameters() -> list[inspect.Parameter]:
    def param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)

    return [
        param("as_json", Annotated[bool, json_option()], False),
        param("workers", Annotated[int, typer.Option("--parallele", "-j", min=1, max=64, help=tr(
            "Flotte : nombre de communes traitées en même temps.",
            "Fleet: number of communes handled at once."))], 4),
        param("only", Annotated[list[str] | None, only_option()], None),
        param("skip", Annotated[list[str] | None, skip_option()], None),
        param("logs", Annotated[Path | None, typer.Option("--journaux", help=tr(
            "Flotte : dossier des journaux par commune (défaut : journaux/ à côté de "
            "l'inventaire).", "Fleet: folder of the per-commune logs (default: journaux/ "
            "beside the inventory)."))], None),
        param("accept_host_key", Annotated[str | None, host_key_option()], None),
    ]


def fleet_command(func: Callable[..., int]) -> Callable[..., None]:
    """A command over one profile or a fleet: ``func(..., fleet: FleetArgs) -> exit code``
    becomes a Typer command with the fleet options appended to its own."""
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "fleet"]
    shared = _fleet_parameters()

    def command(**values: Any) -> None:
        fleet = FleetArgs(as_json=values.pop("as_json"), workers=values.pop("workers"),
                          only=tuple(split_commas(values.pop("only"))),
                          skip=tuple(split_commas(values.pop("skip"))),
                          logs=values.pop("logs"),
                          accept_host_key=values.pop("accept_host_key"))
        raise typer.Exit(func(**values, fleet=fleet))

    command.__signature__ = inspect.Signature([*own, *shared])  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
    command.__name__ = func.__name__
    command.__doc__ = func.__doc__
    return command
