"""Applying the accounts' actions: one script (one round trip), one status line per action,
and its parser.

Secrets travel as the tasks' do: inside the script, which goes to ``sh -s`` on standard
input, never on a command line; each command gets its password through its own environment
(occ's OC_PASS, passed on with ``-e``) or its standard input (prosodyctl, the Synapse
runner).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kit_collab.apply.scripts.accounts_read import DISABLED_FILE
from kit_collab.apply.scripts.common import q
from kit_collab.apply.scripts.sections import MARK, parse_sections, section
from kit_collab.apply.scripts.synapse import matrix_doc, payload, runner
from kit_collab.apply.scripts.target import Target
from kit_collab.plan import accounts
from kit_collab.plan.accounts import AccountAction
from kit_collab.redact import redact

PasswordDraw = Callable[[], str]  # a new random password nobody keeps (the caller's random source)


def initial_password(secrets: dict[str, dict[str, str]], uid: str) -> str | None:
    return secrets.get("comptes", {}).get(uid)


def command_line(target: Target, service: str, command: accounts.Command,
                 secrets: dict[str, dict[str, str]], draw: PasswordDraw) -> str:
    """One command of an action, its password (if any) given on its standard input (twice)
    or in its own environment."""
    argv = ['"$kc_id"' if a == accounts.FOLDER_ID else q(a) for a in command.argv]
    env = [command.password_env] if command.password_env else []
    line = target.command(service, argv, env, quoted=True)
    if command.random_password or (command.password_of and not command.password_env):
        secret = (draw() if command.random_password
                  else initial_password(secrets, str(command.password_of)) or "")
        return f"printf '%s\\n%s\\n' {q(secret)} {q(secret)} | {line}"
    if command.password_env:
        if not command.password_env.isidentifier():
            raise ValueError(f"{command.password_env!r}: not a variable name")
        secret = initial_password(secrets, str(command.password_of)) or ""
        return f"{command.password_env}={q(secret)} {line} </dev/null"
    return line + " </dev/null"


def _jitsi_record(target: Target, action: AccountAction) -> str:
    """Keep the commune's record of the Jitsi accounts kit-collab disabled up to date."""
    record = q(f"{target.commune_dir}/{DISABLED_FILE}")
    who = q(action.target)
    update = (f"printf '%s\\n' {who} >> {record}" if action.kind == "disable" else
              f"{{ grep -vx -- {who} {record} > {record}.new || true; }} && "
              f"mv {record}.new {record}")
    return f'if [ "$ok" = 1 ]; then mkdir -p {q(target.commune_dir)} && {update} || ok=0; fi'


def action_block(target: Target, index: int, action: AccountAction,
                 secrets: dict[str, dict[str, str]], draw: PasswordDraw) -> str:
    """The commands of one Nextcloud or Jitsi action, each run while the previous ones
    worked, then its status line."""
    commands = (accounts.occ_commands(action) if action.service == "nextcloud"
                else accounts.prosody_commands(action, target.prosody_config))
    lines = [f"# {int(index)}: {q(action.service)} {q(action.kind)}", "ok=1"]
    for command in commands:
        line = command_line(target, action.service, command, secrets, draw)
        if command.capture:
            lines.append(f'if [ "$ok" = 1 ]; then kc_id=$({line} 2>"$out" | tail -n 1 | '
                         "tr -dc 0-9); [ -n \"$kc_id\" ] || ok=0; fi")
        else:
            lines.append(f'if [ "$ok" = 1 ]; then {line} >"$out" 2>&1 || ok=0; fi')
    if action.service == "jitsi" and action.kind in ("disable", "enable"):
        lines.append(_jitsi_record(target, action))
    lines.append(f"kc_done {index}")
    return "\n".join(lines)


def _synapse_specs(actions: Sequence[AccountAction], domain: str,
                   secrets: dict[str, dict[str, str]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The runner's batch of requests for the Matrix actions, and the action of each."""
    owners: list[int] = []
    specs: list[dict[str, Any]] = []
    for index, action in enumerate(actions):
        if action.service != "matrix":
            continue
        for request in accounts.synapse_requests(action, domain):
            body = dict(request.body)
            if request.password_of:
                body["password"] = initial_password(secrets, request.password_of) or ""
            specs.append({"method": request.method, "path": request.path, "body": body})
            owners.append(index)
    return specs, owners


def apply_script(target: Target, actions: Sequence[AccountAction], domain: str,
                 secrets: dict[str, dict[str, str]], draw: PasswordDraw) -> tuple[str, list[int]]:
    """The script applying ``actions`` (and, for Matrix, the index of the action each
    request of the runner's batch belongs to). ``draw`` gives the random passwords that
    disable Jitsi accounts."""
    parts = ["set -u", 'out="$(mktemp)"', 'err="$(mktemp)"', "kc_id=",
             f"kc_done() {{ if [ \"$ok\" = 1 ]; then printf '{MARK}action %s ok\\n' \"$1\"; "
             f"else printf '{MARK}action %s failed\\n' \"$1\"; tail -n 5 \"$out\" | "
             f"sed 's/^/{MARK}log /'; fi; }}"]
    parts += [action_block(target, index, action, secrets, draw)
              for index, action in enumerate(actions) if action.service != "matrix"]
    specs, owners = _synapse_specs(actions, domain, secrets)
    if specs:
        data = payload(target, domain, secrets, "apply", requests=specs)
        parts.append(section("matrix", runner(target, data) if data else "false", stdin=True))
    parts.append('rm -f "$out" "$err"')
    return "\n".join(parts) + "\n", owners


@dataclass
class ActionResult:
    action: AccountAction
    ok: bool
    log: str = ""


def parse_apply(text: str, actions: Sequence[AccountAction], owners: Sequence[int]) -> list[ActionResult]:
    status: dict[int, bool] = {}
    logs: dict[int, list[str]] = {}
    last = -1
    for line in text.split("\n"):
        if line.startswith(MARK + "action "):
            number, _, word = line[len(MARK) + 7:].partition(" ")
            last = int(number)
            status[last] = word == "ok"
        elif line.startswith(MARK + "log ") and last >= 0:
            logs.setdefault(last, []).append(line[len(MARK) + 4:])
    if owners:
        doc, error = matrix_doc(parse_sections(text))
        results = (doc or {}).get("results", [])
        for i, owner in enumerate(owners):
            item = results[i] if i < len(results) else {"ok": False, "error": error}
            status[owner] = status.get(owner, True) and bool(item.get("ok"))
            if not item.get("ok"):
                logs.setdefault(owner, []).append(str(item.get("error") or error))
    return [ActionResult(a, status.get(i, False), redact("\n".join(logs.get(i, []))))
            for i, a in enumerate(actions)]
