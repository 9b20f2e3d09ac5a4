"""Fleet mode of install, plan, status and check: many communes, from an inventory folder or
several profiles, in parallel, with a live view and a final table."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.fleet import runner as fleet
from kit_collab.fleet.inventory import Entry
from kit_collab.i18n import tr


def _open(accept_host_key: str | None) -> Any:
    from kit_collab.cli.commands.server import open_transport

    return lambda entry: open_transport(entry.profile, accept_host_key)


def _result(entry: Entry, status: str, changes: str = "", message: str = "",
            code: int = 0) -> fleet.Result:
    return fleet.Result(entry.slug, str(entry.path), "", status, changes, 0.0, message, code)


def plan_action(recipes: Any) -> fleet.Action:
    def act(transport: Any, entry: Entry, log: fleet.CommuneLog) -> fleet.Result:
        from kit_collab.apply import deploy

        log.step(tr("Lecture de l'état du serveur", "Reading the server's state"))
        facts = deploy.read_facts(transport, entry.profile)
        plan, _bundle, _secrets = deploy.make_plan(entry.profile, recipes, facts)
        for change in plan.changes():
            log.step(f"{change.action} {change.target} {change.detail}".strip())
        if plan.noop:
            return _result(entry, fleet.NOTHING, tr("à jour", "up to date"))
        return _result(entry, fleet.OK, tr(f"{len(plan.changes())} changement(s)",
                                           f"{len(plan.changes())} change(s)"))
    return act


def install_action(recipes: Any, force: bool) -> fleet.Action:
    def act(transport: Any, entry: Entry, log: fleet.CommuneLog) -> fleet.Result:
        from kit_collab.check import rules as diagnosis
        from kit_collab.cli.commands.server import install_one

        def show(findings: list[Any], records: list[str]) -> None:
            for f in findings:
                if f.level != diagnosis.OK:
                    log.step(f"{f.level} {f.service} {f.check} : {f.message} → {f.fix}")
            for line in records:
                log.step(tr(f"DNS à créer : {line}", f"DNS to create: {line}"))

        wait = int(os.environ.get("KIT_COLLAB_WAIT", "300"))
        outcome, findings = install_one(transport, entry.profile, recipes, force=force,
                                        reporter=log, wait=wait, show=show)
        if not outcome.applied:
            return _result(entry, fleet.NOTHING, tr("à jour", "up to date"))
        from kit_collab.cli.commands.server import write_sheets

        line = write_sheets(entry.path, entry.profile, outcome, None)
        if line:
            log.step(line)
        plan = outcome.plan
        changes = tr(f"version {plan.release} : {len(plan.added)}+{len(plan.changed)}~"
                     f"{len(plan.removed)}- fichiers",
                     f"release {plan.release}: {len(plan.added)}+{len(plan.changed)}~"
                     f"{len(plan.removed)}- files")
        errors = [f for f in findings if f.level == diagnosis.ERROR]
        for f in errors:
            log.step(f"{f.level} {f.service} {f.check} : {f.message} → {f.fix}")
        if errors:
            return _result(entry, fleet.FAILED, changes, errors[0].message,
                           constants.EXIT_FAILURE)
        return _result(entry, fleet.OK, changes)
    return act


def status_action(recipes: Any) -> fleet.Action:
    def act(transport: Any, entry: Entry, log: fleet.CommuneLog) -> fleet.Result:
        from kit_collab.apply import deploy
        from kit_collab.apply.scripts import remote
        from kit_collab.plan import changes as plan_mod

        facts = deploy.read_facts(transport, entry.profile)
        if not facts.current:
            return _result(entry, fleet.FAILED, message=tr("aucune version installée",
                                                           "nothing installed"),
                           code=constants.EXIT_FAILURE)
        ps = transport.run(remote.ps(entry.profile.serveur.racine, entry.slug))
        containers = deploy.parse_ps(ps.stdout.decode("utf-8", "replace"))
        oneshot = plan_mod.oneshot_services(deploy.desired(entry.profile, recipes, facts)[0])
        bad = [c["service"] for c in containers if not deploy.is_healthy(c, oneshot)]
        for c in containers:
            log.step(f"{c['service']} {c['etat']} {c['sante']}".strip())
        if bad:
            return _result(entry, fleet.FAILED, facts.current,
                           tr(f"en panne : {', '.join(bad)}", f"down: {', '.join(bad)}"),
                           constants.EXIT_FAILURE)
        return _result(entry, fleet.OK, facts.current)
    return act


def check_action(recipes: Any) -> fleet.Action:
    def act(transport: Any, entry: Entry, log: fleet.CommuneLog) -> fleet.Result:
        from kit_collab.apply import deploy
        from kit_collab.check import rules as diagnosis
        from kit_collab.cli.commands import check
        from kit_collab.cli.commands.server import _health_after_deploy

        facts = deploy.read_facts(transport, entry.profile)
        bundle = deploy.desired(entry.profile, recipes, facts)[0]
        findings, _records = check.preflight_and_records(entry.profile, bundle, facts,
                                                         transport=transport, recipes=recipes)
        if facts.current:
            findings += _health_after_deploy(transport, entry.profile, bundle, 60, log)
        for f in findings:
            log.step(f"{f.level} {f.service} {f.check} : {f.message}"
                     + (f" → {f.fix}" if f.fix else ""))
        counts = diagnosis.summary(findings)
        text = tr(f"{counts['ok']} ok, {counts['avertissement']} avert., {counts['erreur']} "
                  "erreur(s)", f"{counts['ok']} ok, {counts['avertissement']} warn., "
                  f"{counts['erreur']} error(s)")
        if counts["erreur"]:
            first = next(f for f in findings if f.level == diagnosis.ERROR)
            return _result(entry, fleet.FAILED, text, first.message, constants.EXIT_FAILURE)
        return _result(entry, fleet.OK, text)
    return act


class LiveView:
    """A live table of each commune's current step (printed once at the end when the output
    is not a terminal)."""

    def __init__(self, entries: list[Entry]) -> None:
        self.steps = {e.slug: tr("en attente", "waiting") for e in entries}
        self.lock = threading.Lock()
        self.live: Any = None

    def table(self) -> Any:
        from rich.table import Table

        from kit_collab.cli.output import esc

        table = Table(title=tr("Communes", "Communes"))
        table.add_column(tr("Commune", "Commune"))
        table.add_column(tr("Étape", "Step"))
        for slug, step in self.steps.items():
            table.add_row(esc(slug), esc(step))
        return table

    def update(self, slug: str, text: str) -> None:
        with self.lock:
            self.steps[slug] = text
            if self.live is not None:
                self.live.update(self.table())


def run(paths: list[Path], command: str, *, as_json: bool, workers: int, only: list[str],
        skip: list[str], accept_host_key: str | None, force: bool = False,
        log_dir: Path | None = None) -> int:
    from rich.live import Live

    from kit_collab.cli.output import out, print_json
    from kit_collab.fleet import inventory
    from kit_collab.recipes.load import load_recipes

    entries = inventory.select(inventory.load(paths), _split(only), _split(skip))
    recipes = load_recipes()
    actions = {"install": lambda: install_action(recipes, force),
               "plan": lambda: plan_action(recipes), "status": lambda: status_action(recipes),
               "check": lambda: check_action(recipes)}
    folder = log_dir or _default_logs(paths)
    view = LiveView(entries)
    live = None if as_json or not out.is_terminal else Live(view.table(), console=out,
                                                              refresh_per_second=4)
    view.live = live
    if live is not None:
        live.start()
    try:
        results = fleet.run(entries, actions[command](), opener=_open(accept_host_key),
                            workers=workers, log_dir=folder, on_step=view.update)
    finally:
        if live is not None:
            live.stop()
    if as_json:
        print_json({"commande": command, "journaux": str(folder),
                    "communes": [r.as_dict() for r in results]})
    else:
        _final_table(results, folder)
    return constants.EXIT_OK if all(r.status != fleet.FAILED for r in results) else max(
        r.exit_code for r in results if r.status == fleet.FAILED)


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _default_logs(paths: list[Path]) -> Path:
    base = paths[0] if paths[0].is_dir() else paths[0].parent
    return base / "journaux"


def _final_table(results: list[fleet.Result], folder: Path) -> None:
    from rich.table import Table

    from kit_collab.cli.output import esc, out

    table = Table(title=tr("Résultat par commune", "Result per commune"))
    for col in (tr("Commune", "Commune"), tr("Serveur", "Server"), tr("Résultat", "Result"),
                tr("Changements", "Changes"), tr("Durée", "Duration"), "Message"):
        table.add_column(col, overflow="fold")
    colors = {fleet.OK: "green", fleet.NOTHING: "cyan", fleet.FAILED: "red"}
    for r in results:
        table.add_row(esc(r.slug), esc(r.server), f"[{colors[r.status]}]{esc(r.status)}[/]",
                      esc(r.changes), f"{r.seconds:.1f} s", esc(r.message))
    out.print(table)
    failed = sum(r.status == fleet.FAILED for r in results)
    out.print(tr(f"{len(results)} commune(s), {failed} en échec ; journaux : {esc(folder)}",
                 f"{len(results)} commune(s), {failed} failed; logs: {esc(folder)}"))
