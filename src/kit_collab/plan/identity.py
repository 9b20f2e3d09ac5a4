"""A commune's identity on its server (slug, domain, hostnames, Matrix identifiers), checked
before anything changes. Pure: the profile's identity and the server's facts in, an error or
nothing out.

The slug derives from the domain and names the commune's folder and Docker volumes; the
domain is in every Matrix identifier (``@agent:domaine``, never changeable) and in every
address. A domain change is therefore a migration, not a new install: installing the
changed profile would start a second, empty commune beside the first.
"""

from __future__ import annotations

from collections.abc import Mapping

from kit_collab.errors import DeployError, InputError, ProfileError
from kit_collab.i18n import tr
from kit_collab.plan.facts import Facts
from kit_collab.plan.state import State
from kit_collab.profile.model import Profile


class IdentityError(InputError):
    """The profile names a commune that does not match what the server holds (exit 2)."""


class VolumesError(DeployError):
    """Volumes named after the slug exist without the commune's folder (exit 1)."""


def migration() -> str:
    """The hint's common end (the README section's title)."""
    return tr("un changement de domaine est une migration, pas une nouvelle installation : "
              "voir « Changer le domaine d'une commune » dans le README",
              "a domain change is a migration, not a new install: see 'Changing a "
              "commune's domain' in the README")


def _hosts(hosts: Mapping[str, Mapping[str, str]]) -> set[str]:
    return {h for named in hosts.values() for h in named.values()}


def check(slug: str, domain: str, hosts: Mapping[str, Mapping[str, str]],
          facts: Facts) -> None:
    """Refuse a domain changed under an existing slug, the same domain (or one of its
    hostnames) held by another commune of the server, and volumes without a folder."""
    recorded = facts.state.domain
    if recorded and recorded != domain:
        raise IdentityError(
            tr(f"la commune {slug} est installée sur ce serveur avec le domaine {recorded}, "
               f"le profil dit {domain} : rien n'a été changé",
               f"commune {slug} is installed on this server with domain {recorded}, the "
               f"profile says {domain}: nothing was changed"),
            hint=tr(f"remettez « domaine: {recorded} » dans le profil ; ",
                    f"put back 'domaine: {recorded}' in the profile; ") + migration())
    ours = _hosts(hosts)
    for other, state in sorted(facts.others.items()):
        shared = sorted(ours & _hosts(state.hosts))
        if state.domain == domain or shared:
            raise IdentityError(
                tr(f"le domaine {domain} ({', '.join(shared) or domain}) est déjà celui de "
                   f"la commune {other} sur ce serveur : rien n'a été changé",
                   f"domain {domain} ({', '.join(shared) or domain}) already belongs to "
                   f"commune {other} on this server: nothing was changed"),
                hint=tr(f"gardez le code (commune.slug: {other}) pour cette commune ; ",
                        f"keep the code (commune.slug: {other}) for this commune; ")
                + migration())
    check_volumes(slug, facts)


def check_volumes(slug: str, facts: Facts) -> None:
    """Docker volumes named after the slug with no commune folder: a removed commune's data
    (or another install's); a new commune never mounts them."""
    folder = (facts.commune_dir or facts.current or not facts.state.empty
              or facts.secrets_file not in ("", "absent"))
    if not facts.volumes or folder:
        return
    raise VolumesError(
        tr(f"des volumes Docker au nom de {slug} existent déjà ({', '.join(facts.volumes)}) "
           f"sans dossier de commune sur ce serveur : ce sont les données d'une commune "
           f"retirée ou d'une autre installation, une nouvelle commune ne les monte jamais ; "
           f"rien n'a été changé",
           f"Docker volumes named after {slug} already exist ({', '.join(facts.volumes)}) "
           f"with no commune folder on this server: they hold a removed commune's data or "
           f"another install's, a new commune never mounts them; nothing was changed"),
        hint=tr("si c'est la même commune, remettez son dossier depuis retirees/ "
                f"(mv <racine>/retirees/{slug}-<date> <racine>/communes/{slug}) puis relancez ; "
                "sinon choisissez un autre code (commune.slug), ou supprimez ces volumes "
                "après une sauvegarde (docker volume rm)",
                "if it is the same commune, put its folder back from retirees/ "
                f"(mv <racine>/retirees/{slug}-<date> <racine>/communes/{slug}) and run "
                "again; otherwise choose another code (commune.slug), or delete these "
                "volumes after a backup (docker volume rm)"))


# --- Matrix identifiers: @agent:<server_name> is written into every account, room and message
# (Synapse refuses another server_name on its data); they never change after the first install.
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
