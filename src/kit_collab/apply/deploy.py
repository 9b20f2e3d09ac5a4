"""Install, roll back, read status: the side-effect half, driving a Transport.

The pure half (facts parsing, plan, scripts) lives in facts.py, plan.py and remote.py; this
module only sequences them: facts -> plan -> lock+upload -> switch+up -> tasks -> state.
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
from typing import Any, Protocol

from kit_collab.plan import facts as facts_mod
from kit_collab.plan import changes as plan_mod
from kit_collab.plan.state import State
from kit_collab.apply.scripts import remote
from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.errors import DeployError, LockError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet
from kit_collab.redact import redact, remember

KEEP_RELEASES = 3
STALE_LOCK_SECONDS = 2 * 3600


class Reporter(Protocol):
    def step(self, text: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...


class SilentReporter:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def progress(self, done: int, total: int) -> None:
        pass


@dataclass
class Outcome:
    plan: plan_mod.Plan
    bundle: render.Bundle
    applied: bool
    round_trips: int = 0
    warnings: list[str] = field(default_factory=list)
    secrets: render.Secrets = field(default_factory=dict, repr=False)  # never printed


def _run(transport: Any, script: str, *, stdin: bytes | None = None,
         progress: Callable[[int], None] | None = None, timeout: float | None = None,
         on_stderr: Callable[[bytes], None] | None = None) -> Any:
    if on_stderr is None:
        return transport.run(script, stdin=stdin, progress=progress, timeout=timeout)
    return transport.run(script, stdin=stdin, progress=progress, timeout=timeout,
                         on_stderr=on_stderr)


def read_facts(transport: Any, profile: Profile) -> facts_mod.Facts:
    before = time.time()
    result = _run(transport, facts_mod.script(profile.serveur.racine, profile.commune.code),
                  timeout=60)
    after = time.time()
    output = result.stdout.decode("utf-8", "replace")
    parsed = facts_mod.parse(output)
    if parsed.server_time is not None:  # the clock, read in the same round trip
        parsed = replace(parsed, clock_skew=parsed.server_time - (before + after) / 2,
                         clock_uncertainty=(after - before) / 2)
    remember(v for bucket in parsed.secrets.values() for v in bucket.values())
    return parsed


def desired(profile: Profile, recipes: RecipeSet,
            facts: facts_mod.Facts) -> tuple[render.Bundle, render.Secrets, bool]:
    """The bundle for this server: its secrets (the server's first), its recorded ports."""
    recorded = facts.state.recorded_ports(profile.commune.code)
    ours = set(recorded.values())
    # Ports in use on the host, and every port another commune of this server recorded (it
    # may be stopped right now): never given twice.
    reserved = [p for _proto, p in facts.ports_in_use if p not in ours] + sorted(
        facts.others_ports())
    made = make_bundle(profile, recipes, draw=SYSTEM, secrets=facts.secrets,
                       recorded_ports=recorded, reserved_ports=reserved)
    remember(v for bucket in made.secrets.values() for v in bucket.values())
    return made.bundle, made.secrets, bool(made.created)


def make_plan(profile: Profile, recipes: RecipeSet,
              facts: facts_mod.Facts) -> tuple[plan_mod.Plan, render.Bundle, render.Secrets]:
    bundle, secrets, created = desired(profile, recipes, facts)
    plan = plan_mod.build(bundle, facts, new_secrets=created,
                          mirror=profile.serveur.miroir_registre)
    return plan, bundle, secrets


def lock_info(action: str, release: str) -> str:
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{who} pid={os.getpid()} {action} {release} depuis={now}"


def lock_age(info: str, now: datetime | None = None) -> int | None:
    for word in info.split():
        if word.startswith("depuis="):
            try:
                since = datetime.strptime(word[7:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                return None
            return int(((now or datetime.now(UTC)) - since).total_seconds())
    return None


def locked_error(info: str, profile: Profile) -> LockError:
    age = lock_age(info)
    minutes = f" ({age // 60} min)" if age is not None else ""
    stale = age is not None and age > STALE_LOCK_SECONDS
    message = tr(f"une autre opération est en cours sur {profile.commune.code}{minutes} : {info}",
                 f"another operation is running on {profile.commune.code}{minutes}: {info}")
    hint = tr(
        ("ce verrou semble abandonné : " if stale else "attendez qu'elle finisse (--lock-wait), "
         "ou si elle est abandonnée : ") + f"kit-collab unlock {profile.commune.code} --force",
        ("this lock looks abandoned: " if stale else "wait for it (--lock-wait), or if it was "
         "abandoned: ") + f"kit-collab unlock {profile.commune.code} --force")
    return LockError(message, hint=hint)


def _audit(action: str, profile: Profile, release: str, result: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    return f"{now} {who} {action} {profile.commune.code} {release} {result}"


def _state(plan: plan_mod.Plan, bundle: render.Bundle, previous: str) -> dict[str, Any]:
    return State(
        commune=bundle.slug, release=bundle.release, previous=previous,
        recipes=dict(bundle.recipes), files=plan.files, ports=bundle.port_blocks,
        hosts=bundle.hosts, bootstrap=plan_mod.BOOTSTRAP_VERSION, needs=bundle.resources,
        deployed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).as_json()


def _check(result: Any, what: str) -> str:
    out = redact((result.stdout + result.stderr).decode("utf-8", "replace")).strip()
    if result.code != 0:
        raise DeployError(tr(f"{what} a échoué sur le serveur : {out[-600:]}",
                             f"{what} failed on the server: {out[-600:]}"))
    return out


def _open_ports(profile: Profile, bundle: render.Bundle,
                recipes: RecipeSet) -> list[tuple[str, str]]:
    out = [("80", "tcp"), ("443", "tcp"), ("443", "udp")]
    for name, _version in bundle.recipes:
        for spec in recipes[name].spec.ports:
            if not spec.public:
                continue
            start = bundle.ports[name][spec.name]
            port = str(start) if spec.size == 1 else f"{start}:{start + spec.size - 1}"
            for proto in spec.protocol.split("+"):
                out.append((port, proto))
    return out


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
    deadline = time.monotonic() + lock_wait
    while facts.lock and time.monotonic() < deadline:
        time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
        facts = read_facts(transport, profile)
    if facts.lock:
        raise locked_error(facts.lock, profile)
    plan, bundle, secrets = make_plan(profile, recipes, facts)
    if plan.noop:
        return Outcome(plan, bundle, applied=False, round_trips=transport.round_trips,
                       secrets=secrets)
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


class PortsTaken(Exception):
    pass


def _apply(transport: Any, profile: Profile, recipes: RecipeSet, facts: facts_mod.Facts,
           plan: plan_mod.Plan, bundle: render.Bundle, secrets: render.Secrets,
           rep: Reporter, wait_seconds: int, preflight: Preflight | None) -> Outcome:
    root, slug = profile.serveur.racine, profile.commune.code
    if preflight is not None:
        rep.step(tr("Vérification préalable", "Preflight"))
        note = preflight(facts, bundle)
        if note:
            _run(transport, remote.audit_only(root, _audit("install", profile, bundle.release,
                                                           note)))
    if plan.upload:
        _upload(transport, profile, plan, bundle, rep)
    _lock(transport, profile, plan, bundle, secrets, lock_info("install", bundle.release))
    try:
        if plan.bootstrap:
            rep.step(tr("Préparation du serveur (Docker, pare-feu, mises à jour)",
                        "Preparing the server (Docker, firewall, updates)"))
            _bootstrap_result(_run(transport, remote.bootstrap(
                root, plan_mod.BOOTSTRAP_VERSION, profile.serveur.port_ssh,
                _open_ports(profile, bundle, recipes), profile.serveur.miroir_registre),
                timeout=1800))
        _pull(transport, profile, bundle, rep)
        rep.step(tr("Démarrage des services", "Starting services"))
        up = _run(transport, remote.switch_and_up(root, slug, bundle.release, plan.restart,
                                                  wait_seconds),
                  timeout=wait_seconds * 3 + 600)
        if up.code != 0:
            _roll_back(transport, profile, plan, bundle, recipes, up, wait_seconds, rep)
        warnings = _run_tasks(transport, profile, plan, secrets, rep)
        warnings += _provision(transport, profile, bundle, secrets, rep)
        rep.step(tr("Enregistrement de l'état", "Recording the state"))
        _check(_run(transport, remote.finish(
            root, slug, _state(plan, bundle, plan.previous),
            _audit("install", profile, bundle.release, "ok"), KEEP_RELEASES)),
            tr("l'enregistrement de l'état", "recording the state"))
    except BaseException:
        _run(transport, remote.unlock(root, slug))
        raise
    return Outcome(plan, bundle, applied=True, round_trips=transport.round_trips,
                   warnings=warnings, secrets=secrets)


def _pull(transport: Any, profile: Profile, bundle: render.Bundle, rep: Reporter) -> None:
    """Download the images before switching, showing each image as it arrives."""
    rep.step(tr("Téléchargement des images", "Pulling images"))
    seen: set[str] = set()
    buffer = [b""]

    def lines(chunk: bytes) -> None:
        buffer[0] += chunk
        *complete, buffer[0] = buffer[0].split(b"\n")
        for raw in complete:
            text = raw.decode("utf-8", "replace").strip()
            shown = text.endswith((" Pulled", " Error")) or "error" in text.lower()
            if shown and text not in seen:
                seen.add(text)
                rep.step(f"  {redact(text)}")

    result = _run(transport, remote.pull(profile.serveur.racine, bundle.slug, bundle.release),
                  timeout=3600, on_stderr=lines)
    _check(result, tr("le téléchargement des images", "pulling the images"))


_BOOTSTRAP_FAILURES = {
    "unsupported-os": (
        "système du serveur non pris en charge", "server system not supported",
        "installez Debian 12 ou 13, ou Ubuntu 24.04", "install Debian 12 or 13, or Ubuntu 24.04"),
    "no-compose-v2": (
        "Docker Compose v2 introuvable après l'installation", "Docker Compose v2 not found "
        "after installing", "installez le paquet docker-compose-plugin (dépôt de Docker) puis "
        "relancez", "install the docker-compose-plugin package (Docker's repository), then "
        "run again"),
    "docker-restart-failed": (
        "Docker n'a pas redémarré après le réglage du miroir de registre", "Docker did not "
        "restart after setting the registry mirror", "sur le serveur : systemctl status "
        "docker (ou service docker status), puis relancez", "on the server: systemctl status "
        "docker (or service docker status), then run again"),
    "mirror-not-applied": (
        "le miroir de registre n'est pas pris en compte par Docker", "Docker does not use "
        "the registry mirror", "vérifiez /etc/docker/daemon.json et serveur.miroir_registre",
        "check /etc/docker/daemon.json and serveur.miroir_registre"),
}


def _bootstrap_result(result: Any) -> None:
    """The bootstrap's known failures as one French sentence and its fix."""
    text = result.stdout.decode("utf-8", "replace")
    if result.code != 0:
        for marker, (fr, en, fix_fr, fix_en) in _BOOTSTRAP_FAILURES.items():
            if marker in text:
                raise DeployError(tr(fr, en), hint=tr(fix_fr, fix_en))
    _check(result, tr("la préparation du serveur", "preparing the server"))


def _upload(transport: Any, profile: Profile, plan: plan_mod.Plan, bundle: render.Bundle,
            rep: Reporter) -> None:
    """Send the changed files of the new release as one tar stream (no lock needed)."""
    partial = f"{bundle.release_dir}.partial"
    prefix = bundle.release_dir + "/"
    wanted = set(plan.added) | set(plan.changed)
    stream = remote.tar_of((f"{partial}/{f.path.removeprefix(prefix)}", f.content, f.mode,
                            f.owner) for f in bundle.files
                           if f.path.removeprefix(prefix) in wanted)
    rep.step(tr(f"Envoi de la version {bundle.release} ({len(wanted)} fichiers, "
                f"{len(stream) // 1024} Kio)",
                f"Uploading release {bundle.release} ({len(wanted)} files, "
                f"{len(stream) // 1024} KiB)"))
    script = remote.upload(profile.serveur.racine, bundle.slug, bundle.release, plan.previous,
                           plan.removed)
    result = _run(transport, script, stdin=stream,
                  progress=lambda n: rep.progress(n, len(stream)), timeout=600)
    _check(result, tr("l'envoi de la version", "the upload"))


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
    entries: list[remote.Entry] = [
        (f.path, f.content, f.mode, f.owner) for f in bundle.files
        if f.path.startswith("proxy/") and f.path.removeprefix("proxy/") in plan.proxy_changed]
    if plan.store_secrets:
        entries.append((f"communes/{bundle.slug}/secrets/secrets.json",
                        json.dumps(secrets, indent=2, sort_keys=True).encode(), 0o600, None))
    script = remote.take_lock(profile.serveur.racine, bundle.slug, info, plan.previous,
                              staged=bool(entries), ports=_claimed_ports(bundle))
    result = _run(transport, script, stdin=remote.tar_of(entries) if entries else None)
    _lock_result(result, profile)


def _lock_result(result: Any, profile: Profile) -> None:
    text = result.stdout.decode("utf-8", "replace").strip()
    if result.code == remote.LOCKED_EXIT:
        raise locked_error(text, profile)
    if result.code == remote.PORTS_EXIT:
        raise PortsTaken()
    if result.code == remote.CHANGED_EXIT:
        raise DeployError(tr("le serveur a changé pendant la préparation (un autre opérateur ?)",
                             "the server changed while preparing (another operator?)"),
                          hint=tr("relancez la commande", "run the command again"))
    _check(result, tr("l'envoi de la version", "the upload"))


def parse_ps(text: str) -> list[dict[str, str]]:
    """`docker compose ps --format json`: one object per line (or one array, older compose)."""
    items: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        try:
            value = json.loads(line) if line[:1] in "[{" else None
        except ValueError:
            continue
        if isinstance(value, dict):
            items.append(value)
        elif isinstance(value, list):
            items.extend(v for v in value if isinstance(v, dict))
    return [{"service": str(i.get("Service", "?")), "etat": str(i.get("State", "")),
             "sante": str(i.get("Health") or ""), "code": str(i.get("ExitCode", ""))}
            for i in items]


def is_healthy(container: dict[str, str], oneshot: set[str] | frozenset[str] = frozenset()
               ) -> bool:
    """Running (and healthy when it has a check); a one-shot job (see plan.oneshot_services)
    may also have exited with 0. A stopped long-running service is never healthy."""
    if container["etat"] == "exited" and container["service"] in oneshot:
        return container["code"] == "0"
    return container["etat"] == "running" and container["sante"] in ("", "healthy")


def _failing_services(ps_json: str, oneshot: set[str]) -> list[str]:
    return [c["service"] for c in parse_ps(ps_json) if not is_healthy(c, oneshot)]


def _roll_back(transport: Any, profile: Profile, plan: plan_mod.Plan, bundle: render.Bundle,
               recipes: RecipeSet, up: Any, wait_seconds: int, rep: Reporter) -> None:
    root, slug = profile.serveur.racine, profile.commune.code
    ps = _run(transport, remote.ps(root, slug)).stdout.decode("utf-8", "replace")
    failing = _failing_services(ps, plan_mod.oneshot_services(bundle))
    # The failing services' own last lines (all services' when none could be named).
    logs = _run(transport, remote.logs(root, slug, failing))
    why = redact((up.stdout + up.stderr).decode("utf-8", "replace")).strip().splitlines()
    text = redact(logs.stdout.decode("utf-8", "replace")).splitlines()
    tail = "\n".join([*why[-6:], *text[-20:]])
    failing = failing or ["?"]
    rep.step(tr(f"Échec : retour à la version précédente ({plan.previous or 'aucune'})",
                f"Failure: back to the previous release ({plan.previous or 'none'})"))
    # Only the services the failed release recreated are recreated again.
    _run(transport, remote.switch_back(root, slug, plan.previous, wait_seconds,
                                       restart=_recreated(plan, recipes)),
         timeout=wait_seconds * 2 + 300)
    _run(transport, remote.audit_only(root, _audit("install", profile, plan.release,
                                                   "echec-retour-arriere")))
    raise DeployError(
        tr(f"les services {', '.join(failing)} ne sont pas devenus opérationnels ; la version "
           f"précédente ({plan.previous or 'aucune'}) a été remise en place. Derniers "
           f"journaux :\n{tail}",
           f"services {', '.join(failing)} did not become healthy; the previous release "
           f"({plan.previous or 'none'}) is back in place. Last logs:\n{tail}"),
        hint=tr("corrigez la cause puis relancez « kit-collab install »",
                "fix the cause, then run 'kit-collab install' again"))


def _recreated(plan: plan_mod.Plan, recipes: RecipeSet) -> list[str]:
    """The services the failed release may have recreated: those whose mounted files changed,
    and those of recipes whose compose or env files changed (compose recreated them)."""
    services = set(plan.restart)
    for path in (*plan.changed, *plan.added, *plan.removed):
        if "/" in path and path.endswith(("/compose.yaml", ".env")):
            recipe = recipes.by_name.get(path.split("/", 1)[0])
            services |= set(recipe.spec.services if recipe else ())
    return sorted(services)


def _provision(transport: Any, profile: Profile, bundle: render.Bundle,
               secrets: render.Secrets, rep: Reporter) -> list[str]:
    """The agents' accounts and shared spaces, after the tasks; never a reason to roll back.
    Removals wait for `kit-collab users PROFIL --apply --yes`."""
    from kit_collab.apply import provision

    try:
        return provision.provision(transport, profile, bundle, secrets,
                                   confirm_disable=False, reporter=rep)
    except DeployError as exc:  # a timeout included; a lost connection still raises
        return [tr(f"comptes des agents non provisionnés : {exc.message}",
                   f"agents' accounts not provisioned: {exc.message}")]


def _task_env(tasks: tuple[render.Task, ...], secrets: render.Secrets) -> tuple[
        list[tuple[render.Task, dict[str, str]]], list[render.Task]]:
    """Each task with the secret values its environment refers to; tasks whose references
    cannot be resolved are set apart (never run a task with a missing password)."""
    runnable, skipped = [], []
    for task in tasks:
        values = {}
        for var, ref in task.env:
            recipe, _, name = ref.partition(".")
            values[var] = secrets.get(recipe, {}).get(name)
        if all(v is not None for v in values.values()):
            runnable.append((task, {k: v for k, v in values.items() if v is not None}))
        else:
            skipped.append(task)
    return runnable, skipped


def _run_tasks(transport: Any, profile: Profile, plan: plan_mod.Plan,
               secrets: render.Secrets, rep: Reporter) -> list[str]:
    if not plan.tasks:
        return []
    runnable, skipped = _task_env(plan.tasks, secrets)
    warnings = [tr(f"tâche « {t.description} » ({t.recipe}) non lancée : un secret qu'elle "
                   "utilise n'existe pas", f"task '{t.description}' ({t.recipe}) not run: a "
                   "secret it uses does not exist") for t in skipped]
    if not runnable:
        return warnings
    rep.step(tr(f"Tâches après installation ({len(runnable)})",
                f"Post-install tasks ({len(runnable)})"))
    script = remote.tasks_script(profile.serveur.racine, profile.commune.code, runnable)
    # The script may carry secret values: it travels on stdin, never on a command line.
    result = _run(transport, "sh -s", stdin=script.encode(), timeout=1800)
    text = redact(result.stdout.decode("utf-8", "replace"))
    for line in text.splitlines():
        if line.startswith("task ") and line.endswith(" failed"):
            task = runnable[int(line.split()[1])][0]
            warnings.append(tr(f"tâche « {task.description} » ({task.recipe}) en échec",
                               f"task '{task.description}' ({task.recipe}) failed"))
    return warnings


def rollback(transport: Any, profile: Profile, *, wait_seconds: int = 300) -> str:
    """Switch back to the previous release on demand. Returns the release now running."""
    root, slug = profile.serveur.racine, profile.commune.code
    facts = read_facts(transport, profile)
    if facts.lock:
        raise locked_error(facts.lock, profile)
    previous = facts.state.previous
    if not previous or previous not in facts.releases:
        raise DeployError(tr("aucune version précédente à remettre en place",
                             "no previous release to go back to"))
    _lock_result(_run(transport, remote.take_lock(root, slug, lock_info("rollback", previous),
                                                  facts.current)), profile)
    try:
        _check(_run(transport, remote.switch_back(root, slug, previous, wait_seconds),
                    timeout=wait_seconds * 2 + 300), tr("le retour arrière", "the rollback"))
        state = facts.state.rolled_back(facts.current).as_json()
        _check(_run(transport, remote.finish(root, slug, state, _audit(
            "rollback", profile, previous, "ok"), KEEP_RELEASES)),
            tr("l'enregistrement de l'état", "recording the state"))
    except BaseException:
        _run(transport, remote.unlock(root, slug))
        raise
    return previous


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
    _lock_result(_run(transport, remote.remove(root, slug, lock_info("remove", facts.current),
                                               stamp), timeout=600), profile)
    _run(transport, remote.audit_only(root, _audit("remove", profile, facts.current, "ok")))
    return f"{root}/retirees/{slug}-{stamp}"


def force_unlock(transport: Any, profile: Profile) -> str:
    facts = read_facts(transport, profile)
    _run(transport, remote.unlock(profile.serveur.racine, profile.commune.code))
    _run(transport, remote.audit_only(profile.serveur.racine, _audit(
        "unlock", profile, facts.current, "force")))
    return facts.lock
