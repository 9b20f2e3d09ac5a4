"""Install, roll back, remove: the side-effect half, driving a Transport.

The pure half lives in plan/ (facts, changes) and apply/scripts/ (every script and the
parser of its output); the steps that each take one round trip are in steps.py. This module
only sequences them: facts -> plan -> upload -> lock -> switch+up -> tasks -> state.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kit_collab.apply import interrupt, pg_install, steps
from kit_collab.apply.lock import (
    PortsTaken,
    audit_line,
    lock_age,
    lock_info,
    lock_result,
    locked_error,
)
from kit_collab.apply.runner import Reporter, SilentReporter, check, read_facts, run
from kit_collab.apply.scripts import backup_units
from kit_collab.apply.scripts import firewall as firewall_script
from kit_collab.apply.scripts import lock as lock_script
from kit_collab.apply.scripts import release as release_script
from kit_collab.apply.scripts import remove as remove_script
from kit_collab.apply.scripts import state as state_script
from kit_collab.apply.scripts.compose import is_healthy, parse_ps
from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan import changes as plan_mod
from kit_collab.plan import facts as facts_mod
from kit_collab.plan import identity, secrets_guard
from kit_collab.plan.state import FAILED, OK, Pending, State, remembered
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet
from kit_collab.redact import remember

__all__ = ["KEEP_RELEASES", "Outcome", "PortsTaken", "Reporter", "SilentReporter", "desired",
           "force_unlock", "install", "is_healthy", "lock_age", "lock_info", "locked_error",
           "make_plan", "parse_ps", "read_facts", "remove", "rollback"]

KEEP_RELEASES = 3
@dataclass
class Outcome:
    plan: plan_mod.Plan
    bundle: render.Bundle
    applied: bool
    round_trips: int = 0
    warnings: list[str] = field(default_factory=list)
    secrets: render.Secrets = field(default_factory=dict, repr=False)  # never printed


def desired(profile: Profile, recipes: RecipeSet,
            facts: facts_mod.Facts) -> tuple[render.Bundle, render.Secrets, tuple[str, ...]]:
    """The bundle for this server: its secrets (the server's first), its recorded ports."""
    recorded = facts.state.recorded_ports(profile.commune.code)
    ours = set(recorded.values())
    # Ports in use on the host, and every port another commune of this server recorded (it
    # may be stopped right now): never given twice.
    reserved = [p for _proto, p in facts.ports_in_use if p not in ours] + sorted(
        facts.others_ports())
    made = make_bundle(profile, recipes, draw=SYSTEM, secrets=facts.secrets,
                       recorded_ports=recorded, reserved_ports=reserved,
                       neighbours=facts.neighbours, postgres_volumes=(
                           used := pg_install.recorded(facts, profile.commune.code)))
    moved = pg_install.volumes(made.bundle, recipes, facts)  # a new PostgreSQL major's volume
    if moved != used:
        made = replace(make_bundle(profile, recipes, draw=SYSTEM, secrets=made.secrets,
                                   recorded_ports=recorded, reserved_ports=reserved,
                                   neighbours=facts.neighbours, postgres_volumes=moved),
                       created=made.created)
    remember(v for bucket in made.secrets.values() for v in bucket.values())
    return made.bundle, made.secrets, made.created


def make_plan(profile: Profile, recipes: RecipeSet,
              facts: facts_mod.Facts) -> tuple[plan_mod.Plan, render.Bundle, render.Secrets]:
    """The plan; an unfinished operation (interrupted, or whose tasks or provisioning did
    not succeed) is resumed: never "nothing to do" until it is committed."""
    identity.check_matrix_identity(profile, facts.state)
    bundle, secrets, created = desired(profile, recipes, facts)
    identity.check(bundle.slug, profile.commune.domaine, bundle.hosts, facts)
    secrets_guard.check_file(profile.serveur.racine, profile.commune.code, facts)
    secrets_guard.check_created(profile.serveur.racine, profile.commune.code, facts, bundle,
                                created)
    plan = plan_mod.build(bundle, facts, new_secrets=created,
                          mirror=profile.serveur.miroir_registre,
                          data=plan_mod.data_of(recipes))
    plan = replace(plan, snapshot=pg_install.in_use(plan.snapshot, facts, bundle.slug))
    plan = replace(plan, firewall=firewall_script.delta(
        facts.firewall, firewall_script.public_rules(bundle, recipes),
        {n: s.firewall for n, s in facts.others.items()}, profile.serveur.port_ssh))
    unfinished = facts.state.unfinished(facts.current)
    if unfinished:
        plan = replace(plan, resume=unfinished, tasks=bundle.tasks)
    facts_mod.check_space(facts, sum(len(f.content) for f in bundle.files) if plan.upload
                          else 0, plan.release != plan.previous, profile.serveur.racine)
    return plan, bundle, secrets


def back_to(facts: facts_mod.Facts, release: str) -> str:
    """The release to go back to when installing ``release`` fails: the last committed one
    (state.json is written only at the commit point), or its predecessor when it is that one
    being resumed; "" when there is none on the server."""
    committed = facts.state.release or facts.current
    back = committed if committed != release else facts.state.previous
    return back if back in facts.releases else ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(plan: plan_mod.Plan, bundle: render.Bundle, facts: facts_mod.Facts,
           steps_done: dict[str, str], matrix_server_name: str = "") -> State:
    return State(matrix_server_name=matrix_server_name,
        commune=bundle.slug, release=bundle.release, previous=back_to(facts, bundle.release),
        recipes=dict(bundle.recipes), files=plan.files, ports=bundle.port_blocks,
        hosts=bundle.hosts, bootstrap=plan_mod.BOOTSTRAP_VERSION, needs=bundle.resources,
        deployed_at=_now(), steps=steps_done,
        history=remembered(bundle.release, facts.state.history),
        firewall=plan.firewall.rules, images={s.name: s.image for s in bundle.services})


def _keep(state: State, facts: facts_mod.Facts) -> list[str]:
    """Releases pruning keeps (besides `current`): this one, its previous, the one current
    before this install, and the newest deployed ones up to KEEP_RELEASES."""
    return [state.release, state.previous, facts.current, *state.history[:KEEP_RELEASES]]


Preflight = Callable[[facts_mod.Facts, render.Bundle], str]


def install(transport: Any, profile: Profile, recipes: RecipeSet, *,
            reporter: Reporter | None = None, lock_wait: float = 0,
            wait_seconds: int = 300, preflight: Preflight | None = None) -> Outcome:
    """Bring the server to the profile; roll back when the services do not become healthy.
    ``preflight`` runs before anything changes: it raises to stop, or returns a note for the
    audit log (errors overridden with --force)."""
    rep = reporter or SilentReporter()
    rep.step(tr("Lecture de l'état du serveur", "Reading the server's state"))
    facts = read_facts(transport, profile)
    if facts.lock and abandoned_here(facts.lock):
        rep.step(tr(f"Verrou abandonné par un kit-collab arrêté sur ce poste : {facts.lock}",
                    f"Lock left by a kit-collab stopped on this machine: {facts.lock}"))
        force_unlock(transport, profile, why="abandonne")
        facts = read_facts(transport, profile)
    deadline = time.monotonic() + lock_wait
    while facts.lock and time.monotonic() < deadline:
        interrupt.check("verrou", profile.commune.code)
        time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
        facts = read_facts(transport, profile)
    if facts.lock:
        raise locked_error(facts.lock, profile)
    plan, bundle, secrets = make_plan(profile, recipes, facts)
    if plan.noop:
        pg_install.prune_stale(transport, profile, facts, rep)
        return Outcome(plan, bundle, applied=False, round_trips=transport.round_trips,
                       warnings=list(facts.warnings), secrets=secrets)
    for _attempt in range(3):
        try:
            return _apply(transport, profile, recipes, facts, plan, bundle, secrets, rep,
                          wait_seconds, preflight)
        except PortsTaken:
            # Another commune of this server claimed one of our ports meanwhile: read the
            # server again; the allocation then avoids it.
            facts = read_facts(transport, profile)
            plan, bundle, secrets = make_plan(profile, recipes, facts)
    raise DeployError(tr("ports du serveur disputés par d'autres installations en cours",
                         "server ports contended by other installs in progress"),
                      hint=tr("relancez la commande", "run the command again"))


def _pending(facts: facts_mod.Facts, release: str, phase: str,
             volumes: dict[str, str] | None = None) -> str:
    """The lines recording, in state.json, an operation towards ``release`` not committed
    (with, once it runs, the volumes of its PostgreSQL clusters)."""
    pending = Pending(release, back_to(facts, release), phase, _now())
    state = facts.state if volumes is None else replace(facts.state, volumes_postgres=volumes)
    return state_script.write_lines(state.with_pending(pending).as_json())


def _apply(transport: Any, profile: Profile, recipes: RecipeSet, facts: facts_mod.Facts,
           plan: plan_mod.Plan, bundle: render.Bundle, secrets: render.Secrets,
           rep: Reporter, wait_seconds: int, preflight: Preflight | None) -> Outcome:
    root, slug = profile.serveur.racine, profile.commune.code
    if preflight is not None:
        rep.step(tr("Vérification préalable", "Preflight"))
        note = preflight(facts, bundle)
        if note:
            run(transport, state_script.audit_only(root, audit_line(
                "install", profile, bundle.release, note)))
    if plan.resume:
        rep.step(tr(f"Reprise : {plan.resume}", f"Resuming: {plan.resume}"))
    interrupt.check("envoi", slug)
    if plan.upload:
        steps.upload(transport, profile, plan, bundle, rep)
    interrupt.check("verrou", slug)
    _lock(transport, profile, plan, bundle, secrets, lock_info("install", bundle.release))
    interrupt.hold(slug)
    try:
        if plan.bootstrap:
            steps.bootstrap(transport, profile, list(firewall_script.WEB), rep)
        check(run(transport, firewall_script.reconcile(root, slug, plan.firewall.rules,
                                                       profile.serveur.port_ssh)),
              tr("le réglage du pare-feu", "setting the firewall"))
        interrupt.check("images", slug)
        steps.pull(transport, profile, bundle, rep)
        steps.snapshot(transport, profile, plan, rep)
        interrupt.check("bascule", slug)
        volumes = pg_install.volumes(bundle, recipes, facts)
        with pg_install.migrated(transport, profile, bundle,
                                 pg_install.planned(bundle, recipes, facts), rep):
            rep.step(tr("Démarrage des services", "Starting services"))
            up = run(transport, release_script.switch_and_up(
                root, slug, bundle.release, plan.restart, wait_seconds,
                before=_pending(facts, bundle.release, "bascule"),
                after=_pending(facts, bundle.release, "taches", volumes)),
                timeout=wait_seconds * 3 + 600)
            if up.code != 0:
                back = back_to(facts, bundle.release)
                settled = state_script.write_lines(facts.state.with_pending(None).as_json())
                steps.roll_back(transport, profile, plan, bundle, recipes, up, wait_seconds,
                                rep, (back, _pending(facts, bundle.release, "retour"), settled))
        interrupt.check("taches", slug)
        done, tasks_ok = steps.run_tasks(transport, profile, plan, secrets, rep)
        warnings = [*facts.warnings, *done]
        interrupt.check("comptes", slug)
        more, accounts_ok = steps.provision(transport, profile, bundle, secrets, rep)
        warnings += more
        interrupt.check("etat", slug)
        pg_install.prune_stale(transport, profile, facts, rep)
        steps.prune_snapshots(transport, profile, facts, bundle.release)
        rep.step(tr("Enregistrement de l'état", "Recording the state"))
        state = replace(_state(plan, bundle, facts, {
            "taches": OK if tasks_ok else FAILED, "comptes": OK if accounts_ok else FAILED},
            identity.server_name_to_record(profile, facts.state)),
            domain=profile.commune.domaine, volumes_postgres=volumes)
        check(run(transport, state_script.finish(
            root, slug, state.as_json(),
            audit_line("install", profile, bundle.release, "ok" if tasks_ok and accounts_ok
                       else "etapes-en-echec"), _keep(state, facts))),
            tr("l'enregistrement de l'état", "recording the state"))
    except BaseException:
        run(transport, lock_script.unlock(root, slug))
        interrupt.release(slug)
        raise
    interrupt.release(slug)
    return Outcome(plan, bundle, applied=True, round_trips=transport.round_trips,
                   warnings=warnings, secrets=secrets)


def _claimed_ports(bundle: render.Bundle) -> list[int]:
    out: list[int] = []
    for names in bundle.ports.values():
        for name, start in names.items():
            if not name.endswith("_end"):
                out.extend(range(start, names.get(f"{name}_end", start) + 1))
    return out


def _lock(transport: Any, profile: Profile, plan: plan_mod.Plan, bundle: render.Bundle,
          secrets: render.Secrets, info: str) -> None:
    """Take the lock; under it, store new secrets and the shared proxy's changed files."""
    entries: list[release_script.Entry] = [
        (f.path, f.content, f.mode, f.owner) for f in bundle.files
        if f.path.startswith("proxy/") and f.path.removeprefix("proxy/") in plan.proxy_changed]
    if plan.store_secrets:
        entries.append((f"communes/{bundle.slug}/secrets/secrets.json",
                        json.dumps(secrets, indent=2, sort_keys=True).encode(), 0o600, None))
    script = lock_script.take_lock(profile.serveur.racine, bundle.slug, info, plan.previous,
                                   staged=bool(entries), ports=_claimed_ports(bundle))
    result = run(transport, script, stdin=release_script.tar_of(entries) if entries else None)
    lock_result(result, profile)


def rollback(transport: Any, profile: Profile, *, wait_seconds: int = 300) -> str:
    """Switch back to the previous release on demand and wait for its health. Returns the
    release now running; raises (exit 1) when it does not come back healthy."""
    root, slug = profile.serveur.racine, profile.commune.code
    facts = read_facts(transport, profile)
    if facts.lock:
        raise locked_error(facts.lock, profile)
    previous = back_to(facts, facts.current)
    if not previous or not facts.current:
        raise DeployError(tr("aucune version précédente à remettre en place",
                             "no previous release to go back to"))
    lock_result(run(transport, lock_script.take_lock(
        root, slug, lock_info("rollback", previous), facts.current)), profile)
    try:
        steps.restore_snapshot(transport, profile, facts.current, previous, SilentReporter(),
                               found=facts.current in facts.snapshots)
        pending = Pending(previous, facts.current, "retour", _now())
        result = run(transport, release_script.switch_back(
            root, slug, previous, wait_seconds,
            before=state_script.write_lines(facts.state.with_pending(pending).as_json())),
            timeout=wait_seconds * 2 + 300)
        if result.code != 0:
            run(transport, state_script.audit_only(root, audit_line(
                "rollback", profile, previous, "en-panne")))
            raise steps.not_back(previous, steps.failure_logs(
                transport, profile, frozenset(), result)[1])
        state = _rolled_back(facts, previous)
        check(run(transport, state_script.finish(root, slug, state.as_json(), audit_line(
            "rollback", profile, previous, "ok"), _keep(state, facts))),
            tr("l'enregistrement de l'état", "recording the state"))
    except BaseException:
        run(transport, lock_script.unlock(root, slug))
        raise
    return previous


def _rolled_back(facts: facts_mod.Facts, previous: str) -> State:
    """The state once ``previous`` runs again: the committed state as it was when the
    current release was never committed, else the current one's state turned around."""
    if facts.state.release == previous:
        return facts.state.with_pending(None)
    return facts.state.rolled_back(facts.current)


def remove(transport: Any, profile: Profile) -> str:
    """Take the commune off its server (services stopped, data volumes KEPT, folder moved to
    <racine>/retirees/), the shared proxy reloaded for the others. Returns the new place."""
    root, slug = profile.serveur.racine, profile.commune.code
    facts = read_facts(transport, profile)
    if facts.lock:
        raise locked_error(facts.lock, profile)
    if not facts.current:
        raise DeployError(tr(f"la commune {slug} n'est pas installée sur ce serveur",
                             f"commune {slug} is not installed on this server"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    script = remove_script.remove(root, slug, lock_info("remove", facts.current), stamp)
    lock_result(run(transport, script, timeout=600), profile)
    run(transport, backup_units.remove(slug), timeout=120)  # its repository is kept
    # The commune's folder is gone: its ports are closed, the other communes' kept.
    check(run(transport, firewall_script.reconcile(root, None, (), profile.serveur.port_ssh)),
          tr("le réglage du pare-feu", "setting the firewall"))
    run(transport, state_script.audit_only(root, audit_line("remove", profile, facts.current,
                                                            "ok")))
    return f"{root}/retirees/{slug}-{stamp}"


def force_unlock(transport: Any, profile: Profile, why: str = "force") -> str:
    """Free the lock, even when the server's files cannot be read (a full disk, a damaged
    state.json): the lock is a folder, removed without reading anything."""
    try:
        facts = read_facts(transport, profile)
    except (DeployError, ValueError, UnicodeError):  # facts unreadable: unlock all the same
        facts = facts_mod.Facts(current="?", lock=tr("inconnu", "unknown"))
    run(transport, lock_script.unlock(profile.serveur.racine, profile.commune.code))
    run(transport, state_script.audit_only(profile.serveur.racine, audit_line(
        "unlock", profile, facts.current, why)))
    return facts.lock


def abandoned_here(info: str) -> bool:
    """Whether the lock was taken by a kit-collab of this user on this machine whose process
    is gone (killed, crashed): it is safe to take over. Any doubt keeps the lock."""
    words = info.split()
    if len(words) < 2 or words[0] != f"{getpass.getuser()}@{socket.gethostname()}" \
            or not words[1].startswith("pid="):
        return False
    pid = words[1].removeprefix("pid=")
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
