"""``kit-collab render``: write the complete bundle exactly as it would land on the server."""

from pathlib import Path
from typing import Annotated

import typer

from kit_collab import constants
from kit_collab.i18n import count, tr


def register(app: typer.Typer) -> None:
    @app.command(help=tr(
        "Écrit dans un dossier tous les fichiers qui seraient déposés sur le serveur.",
        "Write to a folder every file that would land on the server."))
    def render(
        profile: Annotated[Path, typer.Argument(metavar=tr("PROFIL", "PROFILE"),
                                                help=tr("Profil de la commune.",
                                                        "Commune profile."))],
        out: Annotated[Path, typer.Option("--out", "-o", help=tr(
            "Dossier de sortie (structure de /opt/kit-collab).",
            "Output folder (laid out as /opt/kit-collab)."))],
        secrets_file: Annotated[Path | None, typer.Option("--secrets", help=tr(
            "Fichier des secrets (créé en 0600 s'il manque). Défaut : "
            ".kit-collab/<commune>.secrets.json à côté du profil.",
            "Secrets file (created 0600 when missing). Default: "
            ".kit-collab/<commune>.secrets.json beside the profile."))] = None,
    ) -> None:
        raise typer.Exit(run(profile, out, secrets_file))


def run(profile_path: Path, out_dir: Path, secrets_path: Path | None) -> int:
    from kit_collab.cli.output import esc, out
    from kit_collab.operations import local_secrets
    from kit_collab.operations.prepare import prepare, write_bundle

    prepared = prepare(profile_path, secrets_path, persist=True)
    written = write_bundle(prepared.bundle, str(out_dir))
    slug = prepared.profile.commune.code
    out.print(tr(f"[green]✓[/] {len(written)} fichiers écrits dans {esc(out_dir)} "
                 f"(version {prepared.bundle.release})",
                 f"[green]✓[/] {len(written)} files written to {esc(out_dir)} "
                 f"(release {prepared.bundle.release})"))
    if prepared.created:
        where = secrets_path or local_secrets.default_path(profile_path, slug)
        made = count(len(prepared.created), ("secret créé", "secrets créés"),
                     ("secret created", "secrets created"))
        out.print(tr(f"  {made}, conservés dans {esc(where)} "
                     "(0600) ; ils ne sont jamais affichés.",
                     f"  {made}, kept in {esc(where)} "
                     "(0600); they are never printed."))
    return constants.EXIT_OK
