"""One base exception, caught once in the CLI and shown as one sentence plus a hint."""

from __future__ import annotations

from dataclasses import dataclass

from kit_collab import constants


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what is wrong."""

    location: str  # field path, e.g. "utilisateurs[2].email"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def where(self) -> str:
        parts = [self.file or ""]
        if self.line is not None:
            parts.append(f"{self.line}:{self.column or 1}")
        place = ":".join(p for p in parts if p)
        if self.location:
            return f"{place} {self.location}".strip()
        return place

    def as_dict(self) -> dict[str, object]:
        return {
            "fichier": self.file,
            "ligne": self.line,
            "colonne": self.column,
            "champ": self.location,
            "message": self.message,
            "conseil": self.hint,
        }


class KitCollabError(Exception):
    """An expected error: a message for a person, an optional hint, an exit code."""

    exit_code = constants.EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(KitCollabError):
    """Invalid input: a profile, a recipe, an option. Carries one or more problems."""

    exit_code = constants.EXIT_INVALID

    def __init__(
        self, message: str, problems: list[Problem] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.problems = problems or []


class ProfileError(InputError):
    """The commune profile is not valid."""


class RecipeError(InputError):
    """A recipe or one of its templates is not valid."""


class RenderError(InputError):
    """A template could not be rendered with this profile."""


class ConnectError(KitCollabError):
    exit_code = constants.EXIT_CONNECT


class LockError(KitCollabError):
    exit_code = constants.EXIT_LOCKED


class DeployError(KitCollabError):
    exit_code = constants.EXIT_FAILURE
