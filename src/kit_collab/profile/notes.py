"""What ``validate`` says about a valid profile that may not mean what its author thinks:
a domain typed as a web address or with accents (read in the form DNS knows, both shown),
and a domain starting with ``www.`` (services would become ``cloud.www.…`` and Matrix
identifiers ``@agent:www.…`` forever). Warnings, never errors."""

from __future__ import annotations

from typing import Any

from kit_collab.errors import Problem
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.profile.yamlsafe import Document

WHERE = ("commune", "domaine")


def _raw(doc: Document) -> Any:
    data = doc.data
    for key in WHERE:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def domain_notes(doc: Document, profile: Profile) -> list[Problem]:
    raw, domain = _raw(doc), profile.commune.domaine
    mark = doc.mark(WHERE)
    line, column = mark if mark else (None, None)
    out = []
    if isinstance(raw, str) and raw.strip() != domain:
        out.append(Problem("commune.domaine", tr(
            f"« {raw.strip()} » est lu comme le domaine « {domain} »",
            f"'{raw.strip()}' is read as the domain '{domain}'"),
            file=doc.file(WHERE), line=line, column=column,
            hint=tr("les deux écritures désignent le même domaine ; rien à corriger"
                    if not raw.isascii() else f"écrivez domaine: {domain}",
                    "both spellings name the same domain; nothing to fix"
                    if not raw.isascii() else f"write domaine: {domain}")))
    if domain.startswith("www."):
        bare = domain.removeprefix("www.")
        out.append(Problem("commune.domaine", tr(
            f"le domaine commence par « www. » : les services seraient cloud.{domain}… et les "
            f"identifiants Matrix @agent:{domain}, pour toujours",
            f"the domain starts with 'www.': services would be cloud.{domain}… and Matrix "
            f"identifiers @agent:{domain}, forever"),
            file=doc.file(WHERE), line=line, column=column,
            hint=tr(f"le domaine d'une commune est en général « {bare} », www. nommant son "
                    f"site web : écrivez domaine: {bare}",
                    f"a commune's domain is usually '{bare}', www. naming its website: "
                    f"write domaine: {bare}")))
    return out
