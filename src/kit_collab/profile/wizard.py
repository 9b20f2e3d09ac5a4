"""The questionnaire of ``kit-collab init``: questions as data (``questions``), answers
checked as they are typed with the profile's own validators (``answer_checks``), and the
commented profile written from the answers (``profile_text``).

No terminal here. The command passes a ``Dialog`` (rich prompts); tests pass scripted answers;
a run without questions passes none and every answer comes from an option or a default.
"""

from __future__ import annotations

from typing import Any, Protocol

from kit_collab.errors import InputError, Problem
from kit_collab.i18n import tr
from kit_collab.profile.answer_checks import Answers
from kit_collab.profile.profile_text import check_text, profile_text, schema_reference
from kit_collab.profile.questions import QUESTIONS, SECTIONS, USER_QUESTIONS, Question

__all__ = ["Dialog", "check_options", "check_text", "collect", "option_keys", "profile_text",
           "schema_reference"]

REQUIRED = ("nom", "domaine", "hote", "hebergeur")  # no sensible default
ADMIN_OPTIONS = ("nom", "identifiant", "email")  # --admin-nom, … for the first agent


class Dialog(Protocol):
    """What the questionnaire needs from a terminal."""

    def ask(self, text: str, default: str | None) -> str: ...
    def confirm(self, text: str, default: bool) -> bool: ...
    def tell(self, text: str, *, error: bool = False, heading: bool = False) -> None: ...


def option_keys() -> list[str]:
    """Keys accepted in ``values``: one per question, ``admin_<key>`` for the first agent."""
    return [q.key for q in QUESTIONS if q.has_option] + [f"admin_{q.key}" for q in USER_QUESTIONS
                                         if q.key in ADMIN_OPTIONS]


def _question(key: str) -> Question:
    if key.startswith("admin_"):
        return next(q for q in USER_QUESTIONS if q.key == key.removeprefix("admin_"))
    return next(q for q in QUESTIONS if q.key == key)


def _option_error(key: str, message: str) -> Problem:
    return Problem("--" + key.replace("_", "-"), message)


def check_options(values: dict[str, str]) -> None:
    """Every option given is checked before any question: InputError naming each option."""
    problems = []
    for key, value in values.items():
        if key not in option_keys():
            raise ValueError(f"unknown option key {key!r}")  # a wiring bug, not a user error
        try:
            _question(key).check(value, {})
        except ValueError as exc:
            problems.append(_option_error(key, str(exc)))
    if problems:
        raise InputError(tr("option invalide", "invalid option") if len(problems) == 1
                         else tr("options invalides", "invalid options"), problems,
                         hint=tr("corrigez la valeur de l'option ; « kit-collab init --help » "
                                 "les décrit", "fix the option's value; 'kit-collab init "
                                 "--help' describes them"))



def _answer(question: Question, answers: Answers, dialog: Dialog | None, preset: dict[str, str],
            option: str) -> Any:
    """One answer: from its option, else asked until valid, else (no dialog) its default."""
    default = question.default(answers)
    if option in preset:
        try:
            return question.check(preset[option], answers)
        except ValueError as exc:
            raise InputError(tr("option invalide", "invalid option"),
                             [_option_error(option, str(exc))]) from None
    if dialog is None:
        if default is None:
            flag, needed = "--" + option.replace("_", "-"), ", ".join("--" + k for k in REQUIRED)
            raise InputError(tr(
                f"option {flag} manquante : {question.fr}",
                f"missing option {flag}: {question.en}"),
                hint=tr(f"sans questionnaire, donnez au moins {needed} (et --ip-publique si "
                        "l'hôte n'est pas une adresse IP et que Matrix ou Jitsi est installé)",
                        f"without questions, give at least {needed} (and --ip-publique if the "
                        "host is not an IP address and Matrix or Jitsi is installed)"))
        return question.check(default, answers)
    if question.help_fr:
        domain = str(answers.get("domaine") or "<domaine>")
        dialog.tell(tr(question.help_fr, question.help_en).replace("<domaine>", domain))
    while True:
        raw = dialog.ask(question.asked(answers), default)
        try:
            return question.check(raw, answers)
        except ValueError as exc:
            dialog.tell(str(exc), error=True)


def collect(dialog: Dialog | None, preset: dict[str, str] | None = None) -> Answers:
    """Every answer the profile needs. ``dialog`` None: options and defaults only."""
    preset = dict(preset or {})
    answers: Answers = {}
    section = None
    for question in QUESTIONS:
        if not (question.when(answers) or question.key in preset):
            answers[question.key] = None
            continue
        if dialog is not None and question.section != section and question.key not in preset:
            section = question.section
            dialog.tell(tr(*SECTIONS[section]), heading=True)
        answers[question.key] = _answer(question, answers, dialog, preset, question.key)
    answers["utilisateurs"] = []
    if dialog is not None:
        dialog.tell(tr(*SECTIONS["agent"]), heading=True)
        dialog.tell(tr("Le premier agent est l'administrateur (souvent le ou la secrétaire de "
                       "mairie). Chaque agent recevra une fiche avec son mot de passe initial.",
                       "The first user is the administrator (often the town-hall secretary). "
                       "Each user gets a sheet with their initial password."))
    while True:
        answers["utilisateurs"].append(_collect_user(dialog, answers, preset))
        if dialog is None or not dialog.confirm(tr("Ajouter un autre agent ?",
                                                   "Add another user?"), False):
            return answers


def _collect_user(dialog: Dialog | None, answers: Answers,
                  preset: dict[str, str]) -> dict[str, Any]:
    first = not answers["utilisateurs"]
    user: dict[str, Any] = {"role": "administrateur", "services_municipaux": []}
    for question in USER_QUESTIONS:
        if not question.when(answers):
            continue
        option = f"admin_{question.key}" if first else ""
        scope = {**answers, "_nom": user.get("nom", "")}
        user[question.key] = _answer(question, scope, dialog, preset if first else {}, option)
    return user

