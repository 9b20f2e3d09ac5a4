"""The steps of an install that each take one round trip: upload, pull, bootstrap, tasks,
roll back on failure. deploy.py sequences them."""

from __future__ import annotations

import hashlib
from typing import Any

from kit_collab.apply.lock import audit_line
from kit_collab.apply.runner import Reporter, check, run
from kit_collab.apply.scripts import bootstrap as bootstrap_script
from kit_collab.apply.scripts import compose as compose_script
from kit_collab.apply.scripts import release as release_script
from kit_collab.apply.scripts import snapshot as snapshot_script
from kit_collab.apply.scripts import state as state_script
from kit_collab.apply.scripts import tasks as tasks_script
from kit_collab.bundle import render
from kit_collab.errors import DeployError
from kit_collab.i18n import tr
from kit_collab.plan import changes as plan_mod
from kit_collab.plan import facts as facts_mod
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet
from kit_collab.redact import redact


def upload(transport: Any, profile: Profile, plan: plan_mod.Plan, bundle: render.Bundle,
           rep: Reporter) -> None:
    """Send the changed files of the new release as one tar stream (no lock needed), the
    manifest of all its files last: the server commits the release only when they match."""
    partial = f"{bundle.release_dir}.partial"
    prefix = bundle.release_dir + "/"
    wanted = set(plan.added) | set(plan.changed)
    listing = release_script.manifest(plan.files)
    stream = release_script.tar_of([
        *((f"{partial}/{f.path.removeprefix(prefix)}", f.content, f.mode, f.owner)
          for f in bundle.files if f.path.removeprefix(prefix) in wanted),
        (release_script.manifest_name(bundle.release_dir), listing, 0o600, None)])
    rep.step(tr(f"Envoi de la version {bundle.release} ({len(wanted)} fichiers, "
                f"{len(stream) // 1024} Kio)",
                f"Uploading release {bundle.release} ({len(wanted)} files, "
                f"{len(stream) // 1024} KiB)"))
    script = release_script.upload(profile.serveur.racine, bundle.slug, bundle.release,
                                   plan.previous, plan.removed,
                                   hashlib.sha256(listing).hexdigest(), len(plan.files),
                                   {f.path.removeprefix(prefix): (f.mode, f.owner)
                                    for f in bundle.files if f.path.startswith(prefix)})
    result = run(transport, script, stdin=stream,
                 progress=lambda n: rep.progress(n, len(stream)), timeout=600)
    if result.code == release_script.UPLOAD_INCOMPLETE_EXIT:
        raise DeployError(tr(f"l'envoi de la version {bundle.release} est incomplet (connexion "
                             "coupée ?) : elle n'a pas été mise en place",
                             f"the upload of release {bundle.release} is incomplete (connection "
                             "cut?): it was not put in place"),
                          hint=tr("relancez « kit-collab install » : elle sera renvoyée",
                                  "run 'kit-collab install' again: it will be sent again"))
    check(result, tr("l'envoi de la version", "the upload"))


def pull(transport: Any, profile: Profile, bundle: render.Bundle, rep: Reporter) -> None:
    """Download the images before switching, showing each image as it arrives."""
    rep.step(tr("Téléchargement des images", "Pulling images"))
    seen: set[str] = set()
    buffer = [b""]

    def lines(chunk: bytes) -> None:
        buffer[0] += chunk
        *complete, buffer[0] = buffer[0].split(b"\n")
        for raw in complete:
            text = raw.decode("utf-8", "replace").strip()
            if release_script.pull_line_shown(text) and text not in seen:
                seen.add(text)
                rep.step(f"  {redact(text)}")

    script = release_script.pull(profile.serveur.racine, bundle.slug, bundle.release)
    result = run(transport, script, timeout=3600, on_stderr=lines)
    check(result, tr("le téléchargement des images", "pulling the images"))


def bootstrap(transport: Any, profile: Profile, open_ports: list[tuple[str, str]],
              rep: Reporter) -> None:
    """Prepare the server; its known failures as one French sentence and its fix."""
    rep.step(tr("Préparation du serveur (Docker, pare-feu, mises à jour)",
                "Preparing the server (Docker, firewall, updates)"))
    script = bootstrap_script.bootstrap(
        profile.serveur.racine, plan_mod.BOOTSTRAP_VERSION, profile.serveur.port_ssh,
        open_ports, profile.serveur.miroir_registre)
    result = run(transport, script, timeout=1800)
    known = bootstrap_script.failure(result.code, result.stdout.decode("utf-8", "replace"))
    if known is not None:
        fr, en, fix_fr, fix_en = known
        raise DeployError(tr(fr, en), hint=tr(fix_fr, fix_en))
    check(result, tr("la préparation du serveur", "preparing the server"))


def failure_logs(transport: Any, profile: Profile, oneshot: set[str] | frozenset[str],
                 result: Any) -> tuple[list[str], str]:
    """The services that are not healthy now, and their last log lines after the failed
    script's own last lines (all services' lines when none could be named)."""
    root, slug = profile.serveur.racine, profile.commune.code
    ps = run(transport, compose_script.ps(root, slug)).stdout.decode("utf-8", "replace")
    failing = compose_script.failing_services(ps, oneshot)
    logs = run(transport, compose_script.logs(root, slug, failing))
    why = redact((result.stdout + result.stderr).decode("utf-8", "replace")).strip().splitlines()
    text = redact(logs.stdout.decode("utf-8", "replace")).splitlines()
    return failing, "\n".join([*why[-6:], *text[-20:]])


def not_back(release: str, tail: str) -> DeployError:
    """The previous release did not come back healthy: said plainly, never "remise en place"."""
    return DeployError(
        tr(f"la version précédente ({release or 'aucune'}) n'est PAS revenue en état de "
           f"marche ; les services sont arrêtés ou en panne. Derniers journaux :\n{tail}",
           f"the previous release ({release or 'none'}) did NOT come back healthy; the "
           f"services are stopped or failing. Last logs:\n{tail}"),
        hint=tr("lisez les journaux (kit-collab logs), corrigez, puis relancez « kit-collab "
                "install » ; « kit-collab status » dit où en est la commune",
                "read the logs (kit-collab logs), fix, then run 'kit-collab install' again; "
                "'kit-collab status' says where the commune stands"))


def roll_back(transport: Any, profile: Profile, plan: plan_mod.Plan, bundle: render.Bundle,
              recipes: RecipeSet, up: Any, wait_seconds: int, rep: Reporter,
              back: tuple[str, str, str]) -> None:
    """The new release's services did not become healthy: switch back to ``back`` (the
    release, the lines recording the attempt, those recording its success), wait for its
    health, and raise with the failing services' last log lines."""
    root, slug = profile.serveur.racine, profile.commune.code
    previous, before, after = back
    oneshot = plan_mod.oneshot_services(bundle)
    failing, tail = failure_logs(transport, profile, oneshot, up)
    failing = failing or ["?"]
    rep.step(tr(f"Échec : retour à la version précédente ({previous or 'aucune'})",
                f"Failure: back to the previous release ({previous or 'none'})"))
    restored = restore_snapshot(transport, profile, bundle.release, previous, rep,
                                found=bool(plan.snapshot) or plan.snapshot_found)
    # Only the services the failed release recreated are recreated again.
    result = run(transport, release_script.switch_back(
        root, slug, previous, wait_seconds, restart=recreated(plan, recipes), before=before,
        after=after), timeout=wait_seconds * 2 + 300)
    outcome = "echec-retour-arriere" if result.code == 0 else "echec-retour-arriere-en-panne"
    run(transport, state_script.audit_only(root, audit_line("install", profile, plan.release,
                                                            outcome)))
    if result.code != 0:
        _failing, back_tail = failure_logs(transport, profile, oneshot, result)
        raise not_back(previous, back_tail)
    raise DeployError(
        tr(f"les services {', '.join(failing)} ne sont pas devenus opérationnels ; la version "
           f"précédente ({previous or 'aucune'}) a été remise en place"
           f"{' avec ses données d’avant la bascule' if restored else ''}. Derniers "
           f"journaux :\n{tail}",
           f"services {', '.join(failing)} did not become healthy; the previous release "
           f"({previous or 'none'}) is back in place"
           f"{' with its data from before the switch' if restored else ''}. Last "
           f"logs:\n{tail}"),
        hint=tr("corrigez la cause puis relancez « kit-collab install »",
                "fix the cause, then run 'kit-collab install' again"))


def snapshot(transport: Any, profile: Profile, plan: plan_mod.Plan, rep: Reporter) -> None:
    """Save the data of the stateful services whose image changes, before the switch (under
    the lock). A disk too small for it stops the install here, nothing switched."""
    if not plan.snapshot:
        return
    names = ", ".join(s.service for s in plan.snapshot)
    rep.step(tr(f"Instantané des données avant bascule : {names}",
                f"Snapshot of the data before the switch: {names}"))
    result = run(transport, snapshot_script.take(
        profile.serveur.racine, profile.commune.code, plan.release, plan.previous,
        plan.snapshot), timeout=3600)
    space = snapshot_script.no_space(result.stdout.decode("utf-8", "replace"))
    if result.code == snapshot_script.NO_SPACE_EXIT and space:
        need, free = (round(kb / 1024) for kb in space)
        raise DeployError(
            tr(f"place insuffisante sur le serveur pour l'instantané des données de {names} "
               f"avant la bascule : {need} Mo nécessaires, {free} Mo libres ; rien n'a changé",
               f"not enough space on the server for the snapshot of the data of {names} "
               f"before the switch: {need} MB needed, {free} MB free; nothing changed"),
            hint=tr("libérez de la place (anciennes images : docker image prune), puis "
                    "relancez « kit-collab install »", "free some space (old images: docker "
                    "image prune), then run 'kit-collab install' again"))
    check(result, tr("l'instantané des données avant bascule", "the data snapshot"))


def restore_snapshot(transport: Any, profile: Profile, release: str, back: str,
                     rep: Reporter, *, found: bool) -> bool:
    """Going back from ``release`` to ``back``: put back the data saved before the switch to
    ``release`` when that snapshot was taken from ``back`` (``found``: it may exist).
    Whether it was restored; raises when it could not be (the services stay stopped)."""
    root, slug = profile.serveur.racine, profile.commune.code
    if not found or not back:
        return False
    answer = run(transport, snapshot_script.read(root, slug, release))
    saved = snapshot_script.parse_manifest(answer.stdout.decode("utf-8", "replace"))
    if saved is None or saved[0] != back:
        return False
    where = f"{root}/communes/{slug}/{snapshot_script.folder(release)}"
    rep.step(tr(f"Remise des données d'avant la bascule ({where})",
                f"Restoring the data from before the switch ({where})"))
    result = run(transport, snapshot_script.restore(root, slug, release, back, saved[1]),
                 timeout=3600)
    if result.code != 0:
        out = redact((result.stdout + result.stderr).decode("utf-8", "replace")).strip()
        raise DeployError(
            tr(f"les données d'avant la bascule n'ont PAS pu être remises en place ; les "
               f"services de la commune sont arrêtés. Sortie :\n{out[-800:]}",
               f"the data from before the switch could NOT be put back; the commune's "
               f"services are stopped. Output:\n{out[-800:]}"),
            hint=tr(f"l'instantané est gardé dans {where} ; corrigez la cause puis relancez "
                    "« kit-collab rollback »", f"the snapshot is kept in {where}; fix the "
                    "cause, then run 'kit-collab rollback'"))
    return True


def prune_snapshots(transport: Any, profile: Profile, facts: facts_mod.Facts,
                    release: str) -> None:
    """After a successful install, only the snapshot taken before ``release`` stays."""
    if any(s != release for s in facts.snapshots):
        check(run(transport, snapshot_script.prune(profile.serveur.racine,
                                                   profile.commune.code, release)),
              tr("le ménage des instantanés", "pruning the snapshots"))


def recreated(plan: plan_mod.Plan, recipes: RecipeSet) -> list[str]:
    """The services the failed release may have recreated: those whose mounted files changed,
    and those of recipes whose compose or env files changed (compose recreated them)."""
    services = set(plan.restart)
    for path in (*plan.changed, *plan.added, *plan.removed):
        if "/" in path and path.endswith(("/compose.yaml", ".env")):
            recipe = recipes.by_name.get(path.split("/", 1)[0])
            services |= set(recipe.spec.services if recipe else ())
    return sorted(services)


def provision(transport: Any, profile: Profile, bundle: render.Bundle,
              secrets: render.Secrets, rep: Reporter) -> tuple[list[str], bool]:
    """The agents' accounts and shared spaces, after the tasks; never a reason to roll back.
    Removals wait for `kit-collab users PROFIL --apply --yes`."""
    from kit_collab.apply import provision as provision_mod

    try:
        return provision_mod.provision(transport, profile, bundle, secrets,
                                       confirm_disable=False, reporter=rep), True
    except DeployError as exc:  # a timeout included; a lost connection still raises
        return [tr(f"comptes des agents non provisionnés : {exc.message}",
                   f"agents' accounts not provisioned: {exc.message}")], False


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


def run_tasks(transport: Any, profile: Profile, plan: plan_mod.Plan,
              secrets: render.Secrets, rep: Reporter) -> tuple[list[str], bool]:
    """Run the release's tasks; the warnings, and whether every task that ran succeeded."""
    if not plan.tasks:
        return [], True
    runnable, skipped = _task_env(plan.tasks, secrets)
    warnings = [tr(f"tâche « {t.description} » ({t.recipe}) non lancée : un secret qu'elle "
                   "utilise n'existe pas", f"task '{t.description}' ({t.recipe}) not run: a "
                   "secret it uses does not exist") for t in skipped]
    if not runnable:
        return warnings, True
    rep.step(tr(f"Tâches après installation ({len(runnable)})",
                f"Post-install tasks ({len(runnable)})"))
    script = tasks_script.tasks_script(profile.serveur.racine, profile.commune.code, runnable)
    # The script may carry secret values: it travels on stdin, never on a command line.
    result = run(transport, "sh -s", stdin=script.encode(), timeout=1800)
    failed = tasks_script.failed_tasks(redact(result.stdout.decode("utf-8", "replace")))
    for index in failed:
        if index < len(runnable):
            task = runnable[index][0]
            warnings.append(tr(f"tâche « {task.description} » ({task.recipe}) en échec ; "
                               "elle sera relancée à la prochaine installation",
                               f"task '{task.description}' ({task.recipe}) failed; it will "
                               "run again at the next install"))
    return warnings, result.code == 0 and not failed
