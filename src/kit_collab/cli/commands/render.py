"""``kit-collab render``: write the complete bundle exactly as it would land on the server."""

from __future__ import annotations

from pathlib import Path

from kit_collab import constants
from kit_collab.i18n import tr


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
        out.print(tr(f"  {len(prepared.created)} secret(s) créé(s), conservés dans {esc(where)} "
                     "(0600) ; ils ne sont jamais affichés.",
                     f"  {len(prepared.created)} secret(s) created, kept in {esc(where)} "
                     "(0600); they are never printed."))
    return constants.EXIT_OK
