"""Who exists where: one row per account, for the `users` command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit_collab.plan.accounts.common import PROTECTED, SERVICES, AccountAction, Existing
from kit_collab.profile.model import Profile


@dataclass(frozen=True)
class Row:
    identifiant: str
    nom: str | None  # None: not in the profile
    cells: tuple[tuple[str, str, tuple[str, ...]], ...]  # (service, state, planned kinds)

    def as_dict(self) -> dict[str, Any]:
        return {"identifiant": self.identifiant, "nom": self.nom, "dans_profil": self.nom
                is not None, "services": {svc: {"etat": st, "actions": list(kinds)}
                                          for svc, st, kinds in self.cells}}


def table(profile: Profile, existing: Existing, actions: list[AccountAction]) -> list[Row]:
    """Per account (the profile's, then the others the services hold), per service: its
    state (present, absent, desactive, erreur, non-installe) and the planned action kinds."""
    ids = [u.identifiant for u in profile.utilisateurs]
    names = {u.identifiant: u.nom for u in profile.utilisateurs}
    for svc in SERVICES:
        state = existing.of(svc)
        for user in state.users if state else ():
            if user.id not in ids and user.id not in PROTECTED[svc]:
                ids.append(user.id)
    rows = []
    for uid in ids:
        cells = []
        for svc in SERVICES:
            state = existing.of(svc)
            kinds = tuple(a.kind for a in actions if a.service == svc and a.target == uid)
            if state is None:
                cells.append((svc, "non-installe", kinds))
            elif state.error is not None:
                cells.append((svc, "erreur", kinds))
            else:
                account = state.user(uid)
                status = "absent" if account is None else (
                    "present" if account.enabled else "desactive")
                cells.append((svc, status, kinds))
        rows.append(Row(uid, names.get(uid), tuple(cells)))
    return rows
