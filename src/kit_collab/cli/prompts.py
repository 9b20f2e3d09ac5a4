"""Yes/no questions on a terminal in the user's language: o/oui/n/non in French (y/yes/no
understood too), a French reply to anything else."""

from __future__ import annotations

from typing import Any

from rich.prompt import Confirm, InvalidResponse

from kit_collab.i18n import tr

YES = ("o", "oui", "y", "yes")
NO = ("n", "non", "no")


class YesNo(Confirm):
    """o/n in French (y/n in English); oui, non, yes and no are understood too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prompt_suffix = tr(" : ", ": ")
        self.choices = [tr("o", "y"), "n"]
        self.validate_error_message = tr("[prompt.invalid]Répondez o (oui) ou n (non)",
                                         "[prompt.invalid]Please answer y (yes) or n (no)")

    def process_response(self, value: str) -> bool:
        word = value.strip().lower()
        if word in YES:
            return True
        if word in NO:
            return False
        raise InvalidResponse(self.validate_error_message)


def yes_no(question: str, *, default: bool, console: Any = None) -> bool:
    return bool(YesNo.ask(question, default=default, console=console))
