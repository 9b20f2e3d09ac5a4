"""``kit-collab schema``: the profile's JSON Schema, for editor completion."""

from __future__ import annotations

from kit_collab import constants


def run() -> int:
    from kit_collab.cli.output import print_json
    from kit_collab.profile.load import json_schema

    print_json(json_schema())
    return constants.EXIT_OK
