"""Where the provisioning commands run: in the commune's containers, or here (tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kit_collab.apply.scripts.common import commune_dir, compose, q
from kit_collab.plan import accounts

SERVICE_OF = {"nextcloud": ("nextcloud", "33"), "matrix": ("matrix-synapse", "991"),
              "jitsi": ("jitsi-prosody", "1000")}


@dataclass(frozen=True)
class Target:
    """Where the commands run: in the commune's containers (``docker compose exec``), or,
    for the tests, straight on the machine the transport reaches (``local``)."""

    root: str
    slug: str
    synapse_url: str = "http://127.0.0.1:8008"
    # The service account's access token, kept in Synapse's data volume (uid 991, 0600).
    synapse_token_file: str = "/data/kit-collab.token"  # noqa: S105 (a path)
    prosody_config: str = accounts.PROSODY_CONFIG
    python: str = "python3"
    local: bool = False

    @property
    def commune_dir(self) -> str:
        return commune_dir(self.root, self.slug)

    def command(self, service: str, argv: Sequence[str], env: Iterable[str] = (), *,
                quoted: bool = False) -> str:
        """``argv`` run in ``service``'s container as its user, with the variables ``env``
        (set by the caller in front of the command) passed on. ``quoted``: the arguments
        are already shell words."""
        words = list(argv) if quoted else [q(a) for a in argv]
        if self.local:
            return " ".join(words)
        name, user = SERVICE_OF[service]
        names = [x for n in env for x in ("-e", q(n))]
        return compose(self.root, self.slug, "exec", "-T", "-u", q(user), *names,
                              q(name), *words)
