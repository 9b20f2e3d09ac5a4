#!/opt/synapse/bin/python
"""kce2e: the part of matrixdotorg/synapse's /start.py that kit-collab uses: run Synapse with
the configuration at SYNAPSE_CONFIG_PATH, as uid/gid 991 (UID and GID override them)."""

import os
import sys

config = os.environ.get("SYNAPSE_CONFIG_PATH", "/data/homeserver.yaml")
if not os.path.exists(config):
    sys.exit(f"kce2e synapse: configuration {config} does not exist")
uid, gid = int(os.environ.get("UID", "991")), int(os.environ.get("GID", "991"))
if os.getuid() == 0:
    os.setgroups([gid])
    os.setgid(gid)
    os.setuid(uid)
os.execv(sys.executable, [sys.executable, "-m", "synapse.app.homeserver",  # noqa: S606
                          "--config-path", config])
