"""Exit codes of the command line, as documented in DESIGN.md."""

import os

EXIT_OK = 0
EXIT_FAILURE = 1  # deployment or health failure
EXIT_INVALID = 2  # invalid input: profile, recipe, options
EXIT_CONNECT = 3  # network, authentication, host key
EXIT_LOCKED = 4  # another operation holds the lock
EXIT_INTERRUPTED = 130

PROXY_NETWORK = "kit-collab-proxy"
SERVER_ROOT = "/opt/kit-collab"


def proxy_project() -> str:
    """The shared proxy's compose project and network: ``kit-collab-proxy``, renamed by
    KIT_COLLAB_PROXY_PROJECT (the tests, to run side by side on one Docker engine)."""
    return os.environ.get("KIT_COLLAB_PROXY_PROJECT") or PROXY_NETWORK


def commune_network(slug: str) -> str:
    """The network between the shared proxy and ONE commune's services (the proxy joins
    every commune's; a commune's containers reach no other commune's)."""
    return f"{proxy_project()}-{slug}"
