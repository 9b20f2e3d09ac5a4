"""TURN: does the relay answer a STUN request?"""

from __future__ import annotations

from dataclasses import dataclass

from kit_collab.check.findings import ERROR, OK, Finding
from kit_collab.i18n import tr


@dataclass(frozen=True)
class StunProbe:
    host: str
    where: str  # ip:port
    protocol: str  # udp | tcp
    answered: bool
    detail: str = ""
    recipe: str = "turn"  # the recipe that declares the STUN port


def turn_findings(probes: list[StunProbe]) -> list[Finding]:
    out = []
    for p in probes:
        check = f"turn {p.protocol}"
        if p.answered:
            out.append(Finding(OK, p.recipe, check, tr(
                f"le relais TURN répond en STUN sur {p.host} ({p.where}/{p.protocol})",
                f"the TURN relay answers STUN on {p.host} ({p.where}/{p.protocol})")))
        else:
            port = p.where.rsplit(":", 1)[-1]
            out.append(Finding(ERROR, p.recipe, check, tr(
                f"le relais TURN ({p.recipe}) ne répond pas sur {p.host} ({p.where}/{p.protocol}) "
                f"{p.detail} : les appels derrière un pare-feu n'auront ni son ni image",
                f"the TURN relay ({p.recipe}) does not answer on {p.host} ({p.where}/{p.protocol}) "
                f"{p.detail}: calls behind a firewall will get no sound or video"), tr(
                f"vérifiez que le conteneur {p.recipe} tourne (kit-collab status) et que le port "
                f"{port} (UDP et TCP) est ouvert dans le pare-feu de l'hébergeur",
                f"check that the {p.recipe} container runs (kit-collab status) and that port "
                f"{port} (UDP and TCP) is open in the provider's firewall")))
    return out
