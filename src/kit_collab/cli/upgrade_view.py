"""The versions in view and the upgrade steps, as tables (``plan``, ``install``, ``status``)."""

from __future__ import annotations

from typing import Any

from kit_collab.i18n import count, tr


def show_versions(versions: Any) -> None:
    """Per service: the deployed upstream version and the one this kit-collab installs."""
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    table = Table(title=tr("Versions", "Versions"))
    for col in ("Service", tr("Version", "Version"), tr("Sécurité", "Security")):
        table.add_column(col, overflow="fold")
    for v in versions:
        mark = "[yellow]" if v.outdated else ""
        table.add_row(esc(v.service), f"{mark}{esc(v.text())}{'[/]' if mark else ''}",
                      esc(", ".join(v.security)))
    out.print(table)


def show_upgrade(upgrade: Any) -> None:
    """The versions, then the steps in order with their risk and time (nothing when every
    service is up to date)."""
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    if not upgrade.steps:
        return
    show_versions([v for v in upgrade.versions if v.outdated])
    steps = count(len(upgrade.steps), ("étape", "étapes"), ("step", "steps"))
    table = Table(title=tr(f"Mise à niveau : {steps}, ~{upgrade.minutes} min",
                           f"Upgrade: {steps}, ~{upgrade.minutes} min"))
    for col in ("#", tr("Étape", "Step"), "Service", "Image", tr("Risque", "Risk"),
                tr("Durée", "Time")):
        table.add_column(col, overflow="fold")
    for i, step in enumerate(upgrade.steps, 1):
        table.add_row(str(i), esc(step.kind), esc(step.service), esc(step.image),
                      esc(step.risk), f"~{step.minutes} min")
    out.print(table)
    for note in getattr(upgrade, "notes", ()):  # how a PostgreSQL major is migrated
        out.print(f"  • {esc(note)}")
