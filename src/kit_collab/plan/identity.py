"""Matrix identifiers never change after the first install: @agent:<server_name> is written
into every account, room and message (Synapse refuses another server_name on its data).

Pure: the recorded state in, a refusal or a note out.
"""

from __future__ import annotations

from kit_collab.errors import ProfileError
from kit_collab.i18n import tr
from kit_collab.plan.state import State
from kit_collab.profile.model import Profile


def recorded_server_name(state: State) -> str:
    """The server_name in place: the one recorded at the commit, else (installs recorded
    before it was) the commune's domain when Matrix was deployed ("" when it never was)."""
    if state.matrix_server_name:
        return state.matrix_server_name
    if state.release and "matrix" in state.hosts:
        return state.hosts.get("base", {}).get("domaine", "")
    return ""


def wanted_server_name(profile: Profile) -> str:
    return profile.matrix_server_name if profile.services.matrix.actif else ""


def server_name_to_record(profile: Profile, state: State) -> str:
    """What the commit records: the profile's, or the one in place while Matrix is off."""
    return wanted_server_name(profile) or recorded_server_name(state)


def check_matrix_identity(profile: Profile, state: State) -> None:
    """ProfileError when the profile would change the identifiers of an installed commune."""
    recorded, wanted = recorded_server_name(state), wanted_server_name(profile)
    if not recorded or not wanted or recorded == wanted:
        return
    raise ProfileError(tr(
        f"services.matrix.identifiants : les identifiants Matrix de cette commune sont "
        f"@agent:{recorded} depuis la première installation ; le profil demande "
        f"@agent:{wanted}, ce qui est impossible (comptes, salons et messages portent ce nom)",
        f"services.matrix.identifiants: this commune's Matrix identifiers have been "
        f"@agent:{recorded} since the first install; the profile asks for @agent:{wanted}, "
        "which is impossible (accounts, rooms and messages carry that name)"),
        hint=tr(f"remettez le mode qui donne @agent:{recorded} (site-existant ou "
                "domaine-vers-serveur pour le domaine, sous-domaine pour "
                "<sous_domaine>.<domaine>)",
                f"set back the mode that gives @agent:{recorded} (site-existant or "
                "domaine-vers-serveur for the domain, sous-domaine for "
                "<sous_domaine>.<domaine>)"))


def first_install_note(profile: Profile, state: State) -> str:
    """Said before the first install with Matrix ("" otherwise)."""
    wanted = wanted_server_name(profile)
    if not wanted or recorded_server_name(state):
        return ""
    return tr(f"Identifiants Matrix : @agent:{wanted} (ex. : @{_example(profile)}:{wanted}). "
              "Ils ne pourront plus changer après cette installation.",
              f"Matrix identifiers: @agent:{wanted} (e.g. @{_example(profile)}:{wanted}). "
              "They cannot change after this install.")


def _example(profile: Profile) -> str:
    return profile.utilisateurs[0].identifiant if profile.utilisateurs else "agent"
