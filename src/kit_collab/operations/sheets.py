"""The agents' sheets on demand (``kit-collab fiches``): written again from the passwords
kept on the server, for every agent or one, without deploying anything. A sheet is never
printed with a password the server does not have: an agent added to the profile since the
last install is named, and waits for ``install``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit_collab import constants
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import ACCOUNTS, digest_draw
from kit_collab.errors import DeployError, InputError
from kit_collab.i18n import count, tr
from kit_collab.operations.report import OperationResult, Reporter
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import RecipeSet
from kit_collab.redact import remember


@dataclass(frozen=True)
class SheetsOptions:
    agent: str | None = None  # one identifiant, or every agent
    folder: Path | None = None  # default: fiches-<commune> beside the profile


def _chosen(profile: Profile, agent: str | None) -> list[str]:
    ids = [u.identifiant for u in profile.utilisateurs]
    if agent is None:
        return ids
    if agent not in ids:
        raise InputError(tr(f"agent inconnu : « {agent} » (identifiants du profil : "
                            f"{', '.join(ids) or 'aucun'})", f"unknown agent: '{agent}' "
                            f"(identifiers in the profile: {', '.join(ids) or 'none'})"))
    return [agent]


def sheets(transport: Any, profile: Profile, profile_path: Path, recipes: RecipeSet,
           options: SheetsOptions, reporter: Reporter) -> OperationResult:
    """Read the commune's secrets on the server, write the sheets; nothing changes there."""
    from kit_collab.apply.runner import read_facts
    from kit_collab.handover import sheets as handover

    chosen = _chosen(profile, options.agent)
    reporter.step(tr("Lecture des mots de passe initiaux sur le serveur",
                     "Reading the initial passwords on the server"))
    facts = read_facts(transport, profile)
    if facts.secrets_problem:
        raise DeployError(facts.secrets_problem)
    accounts = facts.secrets.get(ACCOUNTS, {})
    remember(accounts.values())
    ready = [i for i in chosen if accounts.get(i)]
    waiting = [i for i in chosen if not accounts.get(i)]
    if not ready:
        raise DeployError(tr("aucun mot de passe initial sur le serveur pour "
                             f"{', '.join(waiting)} : la commune n'est pas encore installée, ou "
                             "ces agents ont été ajoutés depuis",
                             f"no initial password on the server for {', '.join(waiting)}: the "
                             "commune is not installed yet, or these agents were added since"),
                          hint=tr("lancez « kit-collab install » : il crée les comptes et "
                                  "écrit leurs fiches", "run 'kit-collab install': it creates "
                                  "the accounts and writes their sheets"))
    hosts = make_bundle(profile, recipes, draw=digest_draw("fiches")).bundle.hosts
    target = options.folder or handover.default_folder(profile_path, profile)
    handover.write_sheets(profile, hosts, facts.secrets, target, ready)
    many = count(len(ready), ("fiche", "fiches"), ("sheet", "sheets"))
    said = tr(f"{many} et le guide d'accueil dans {target}",
              f"{many} and the welcome guide in {target}")
    data = {"commune": profile.commune.code, "dossier": str(target), "fiches": ready,
            "en_attente": waiting}
    recovery = recovery_sheet(transport, profile, target)
    if recovery:
        said = f"{said} ; {recovery}"
    message = tr(f"pas encore de compte (lancez install) : {', '.join(waiting)}",
                 f"no account yet (run install): {', '.join(waiting)}") if waiting else ""
    return OperationResult.of(constants.EXIT_OK, said, message, data)


def recovery_sheet(transport: Any, profile: Profile, folder: Path) -> str:
    """The recovery sheet beside the agents' sheets when the profile has backups and the
    server keeps the repository password; the sentence saying where ("" when none)."""
    from kit_collab.apply.restore import read_password
    from kit_collab.handover.recovery import write_recovery

    if profile.sauvegardes is None:
        return ""
    password = read_password(transport, profile)
    if not password:
        return ""
    path = write_recovery(profile, password, folder)
    return tr(f"fiche de secours des sauvegardes : {path} (à ranger au coffre)",
              f"backup recovery sheet: {path} (keep it in the safe)")


def recovery_beside(transport: Any, profile: Profile, profile_path: Path,
                    folder: Path | None) -> str:
    """For install: the recovery sheet in the agents' sheets folder (its default too)."""
    from kit_collab.handover.sheets import default_folder

    return recovery_sheet(transport, profile, folder or default_folder(profile_path, profile))
