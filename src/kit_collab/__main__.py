"""Entry point: pick the language before any help text is built, then run the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from kit_collab.i18n import lang_from, set_lang

    args = sys.argv[1:] if argv is None else argv
    set_lang(lang_from(args))
    from kit_collab.cli.app import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
