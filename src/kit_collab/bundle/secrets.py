"""The one random draw: new secrets, from a source given as a parameter.

This is the only module of kit-collab that imports ``secrets`` or ``random``. Rendering takes
secrets as data; ``ensure_secrets`` completes them with a ``Draw`` the caller chooses:
``SYSTEM`` (the operating system's generator) for real communes, ``digest_draw(seed)`` for
tests and goldens (the same names give the same values, never real ones).
"""

from __future__ import annotations

import base64
import hashlib
import secrets as system_random
import string
from collections.abc import Callable, Iterable

from kit_collab.bundle.model import Secrets
from kit_collab.errors import InputError
from kit_collab.i18n import tr
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import Recipe

# (name "recipe.secret", length, alphabet) -> a new value
Draw = Callable[[str, int, str], str]

ACCOUNTS = "comptes"  # secrets bucket of the agents' initial passwords, one per identifiant
# Read aloud and typed by an agent: lower case only (no c/C, s/S, w/W, z/Z), and no pair that
# looks alike in any font (0/o, 1/l/i, 2/z, 5/s, 6/b, 9/g/q): 26 symbols, 4.7 bits each.
READABLE = "acdefhjkmnprtuvwxy23456789"
ACCOUNT_LENGTH = 16  # four groups of four: 75 bits
_ALPHABETS = {"hex": "0123456789abcdef", "readable": READABLE}


# "Alphabets" of a secret the operator gives (a relay's password), never drawn: GIVEN asks
# for it when absent; REPLACED is a new value the operator gives unasked ("" when none).
GIVEN, REPLACED = "fourni", "remplace"
Ask = Callable[[str], str]  # secret name -> the value the operator gives


def _no_asker(name: str) -> str:
    raise InputError(tr(f"secret {name} à fournir, et personne pour le demander",
                        f"secret {name} to be given, and nobody to ask for it"))


_asker: list[Ask] = [_no_asker, lambda _name: ""]


def set_asker(ask: Ask, replaced: Ask) -> None:
    """Who gives the secrets kit-collab cannot draw (the command line: an environment
    variable, or a prompt), and who may give a new value for one (an environment variable)."""
    _asker[:] = [ask, replaced]


def system_draw(_name: str, length: int, alphabet: str) -> str:
    """A new secret from the operating system's generator (or, for a secret the operator
    gives, from the asker the command line set)."""
    if alphabet in (GIVEN, REPLACED):
        return _asker[0 if alphabet == GIVEN else 1](_name)
    if alphabet == "base64":  # e.g. an ed25519 seed: `length` random bytes, unpadded
        return base64.b64encode(system_random.token_bytes(length)).decode().rstrip("=")
    chars = _ALPHABETS.get(alphabet, string.ascii_letters + string.digits)
    return "".join(system_random.choice(chars) for _ in range(length))


SYSTEM: Draw = system_draw


def digest_draw(seed: str) -> Draw:
    """A deterministic source for tests and goldens: a value derived from ``seed`` and the
    secret's name (hex for text alphabets, ``length`` bytes for base64)."""

    def draw(name: str, length: int, alphabet: str) -> str:
        if alphabet == REPLACED:
            return ""
        digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
        if alphabet == "base64":
            return base64.b64encode(digest[:length]).decode().rstrip("=")
        value = (digest.hex() * 4)[:length]
        return value.translate(str.maketrans("01b", "a7c")) if alphabet == "readable" else value

    return draw


def grouped(value: str, size: int = 4) -> str:
    """``k7pmx3qd`` -> ``k7pm-x3qd``: groups read aloud one at a time."""
    return "-".join(value[i:i + size] for i in range(0, len(value), size))


def user_ids(profile: Profile) -> list[str]:
    return [u.identifiant for u in profile.utilisateurs]


def ensure_secrets(recipes: list[Recipe], existing: Secrets | None, users: Iterable[str],
                   draw: Draw, given: Iterable[str] = ()) -> tuple[Secrets, list[str]]:
    """Every declared secret, and an initial password per agent (``comptes.<identifiant>``,
    shared by every service, printed only on the agent's sheet): the existing value, or a
    new one from ``draw``; each of ``given`` (secrets the operator gives) asked through
    ``draw`` when absent. Returns (secrets, names of the new ones)."""
    result: Secrets = {k: dict(v) for k, v in (existing or {}).items()}
    created: list[str] = []
    for recipe in recipes:
        bucket = result.setdefault(recipe.name, {})
        for spec in recipe.spec.secrets:
            if not bucket.get(spec.name):
                name = f"{recipe.name}.{spec.name}"
                bucket[spec.name] = draw(name, spec.length, spec.alphabet)
                created.append(name)
    for user in users:
        accounts = result.setdefault(ACCOUNTS, {})
        if not accounts.get(user):
            name = f"{ACCOUNTS}.{user}"
            accounts[user] = grouped(draw(name, ACCOUNT_LENGTH, "readable"))
            created.append(name)
    for name in given:  # "bucket.key", e.g. messagerie.mot_de_passe: asked, never drawn
        bucket_name, _, key = name.partition(".")
        bucket = result.setdefault(bucket_name, {})
        value = draw(name, 32, REPLACED)  # the length only matters to test draws
        if not value and not bucket.get(key):
            value = draw(name, 32, GIVEN)
        if value and value != bucket.get(key):
            bucket[key] = value
            created.append(name)
    return result, created
