"""restic on the server: the commune's backup script, its configuration, its listings.

Read at the versions the supported servers ship and the one the tests run (restic 0.18.1 for
Debian 13, 0.16.4 for Ubuntu 24.04, 0.14.0 on the test machine; restic/restic doc/
075_scripting.rst, 040_backup.rst, 045_working_with_repos.rst, 060_forget.rst,
cmd/restic/cmd_check.go). Everything used here exists in all three:
- ``cat config`` tells whether the repository exists; restic >= 0.17 exits 10 when it does
  not, 11 when locked, 12 on a wrong password; older versions exit 1 with the messages
  "Is there a repository at the following location?", "repository is already locked",
  "wrong password or no key found" (075_scripting.rst, "Exit codes"): both are read.
- ``backup --json`` prints ``status`` lines (``percent_done``, ``bytes_done``,
  ``total_bytes``) at ``RESTIC_PROGRESS_FPS`` and one ``summary`` line (``snapshot_id``,
  ``data_added``, ``total_bytes_processed``); ``--host``, repeated ``--tag``.
- ``forget --prune --group-by host`` with ``--keep-daily/weekly/monthly`` (grouped by host
  only: the release folder's path changes with each release).
- ``check --read-data-subset=x%``: a random sample of the data packs, rounded up so that a
  small repository still has one pack read (cmd/restic/cmd_check.go,
  ``selectRandomPacksByPercentage``; the ``x%`` form is in 0.14's ``check --help``).
- ``unlock`` removes stale locks only (a killed run's).
- ``-o sftp.command=...`` runs our own ssh with the server's key and recorded host key.

The repository and its password come from the environment (``sauvegarde.env``, loaded with
``set -a; . file``; ``RESTIC_PASSWORD_FILE``), never from a command line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kit_collab.apply.scripts.common import audit_path, commune_dir, compose, q
from kit_collab.plan.backup import BackupPlan

# Exit codes of sauvegarder.sh and of the scripts below (parsed by parse_failure).
WRONG_PASSWORD_EXIT = 20
UNREACHABLE_EXIT = 21
FULL_EXIT = 22
LOCKED_EXIT = 23  # another restic holds the repository's lock
BUSY_EXIT = 24  # another backup of this commune is running
CREDENTIALS_EXIT = 25  # no credentials on the server for this destination
FAILED_EXIT = 1
ERRORS = {WRONG_PASSWORD_EXIT: "mot-de-passe", UNREACHABLE_EXIT: "injoignable",
          FULL_EXIT: "pleine", LOCKED_EXIT: "verrouillee", BUSY_EXIT: "en-cours",
          CREDENTIALS_EXIT: "identifiants", 130: "interrompue", 137: "interrompue",
          143: "interrompue"}  # stopped by a signal (INT, KILL, TERM)
SCRIPT = "sauvegarde/sauvegarder.sh"
LAST = "sauvegarde/derniere.json"
CHECKED = "sauvegarde/verification.json"
HISTORY = "sauvegarde/historique.jsonl"
CHECK_SAMPLE = "10%"  # of the data packs, drawn at random, read by the weekly check
DESTINATION_KEY = "KIT_COLLAB_DESTINATION"
RUNNING = "en-cours-ou-interrompue"  # derniere.json while a run goes (left by a killed one)
INTERRUPTED = "interrompue"
NO_ALERT = "alerte() { :; }\n"  # without messagerie (apply/scripts/backup_notify.py)


def env_file(secrets: str, kind: str, repository: str, creds: Mapping[str, str]) -> str:
    """``sauvegarde.env`` (KEY='value' lines, read with ``set -a; . file``). ``creds`` holds
    the KIT_COLLAB_* variables of the destination's kind. A REST user and password go into
    the repository URL (restic < 0.17 has no other way), percent-encoded."""
    repo = repository
    lines = {DESTINATION_KEY: f"{kind} {repository}",
             "RESTIC_PASSWORD_FILE": f"{secrets}/restic.pass"}
    if kind == "rest" and creds.get("KIT_COLLAB_REST_USER"):
        scheme, _, rest = repository.removeprefix("rest:").partition("://")
        user = quote(creds["KIT_COLLAB_REST_USER"], safe="")
        password = quote(creds.get("KIT_COLLAB_REST_PASSWORD", ""), safe="")
        repo = f"rest:{scheme}://{user}:{password}@{rest}"
    if kind == "s3":
        lines["AWS_ACCESS_KEY_ID"] = creds.get("KIT_COLLAB_S3_ACCESS_KEY", "")
        lines["AWS_SECRET_ACCESS_KEY"] = creds.get("KIT_COLLAB_S3_SECRET_KEY", "")
    lines["RESTIC_REPOSITORY"] = repo
    return "".join(f"{k}={q(v)}\n" for k, v in lines.items())


def configure(root: str, slug: str, kind: str, repository: str,
              sftp: tuple[str, str, int] | None = None) -> str:
    """Prepare the commune's backup secrets. stdin: a new ``sauvegarde.env`` (written 0600)
    or nothing (the one on the server is kept when it names the same destination, else
    CREDENTIALS_EXIT). The repository password is drawn once (>= 128 bits: 32 characters
    of 36). For SFTP, a key pair drawn once and the destination's host key recorded once;
    the public key is printed (``cle-publique <line>``)."""
    dest = f"{DESTINATION_KEY}={q(f'{kind} {repository}')}"
    return f"""set -eu
umask 077
C={q(commune_dir(root, slug))}; K="$C/secrets"
mkdir -p "$K" "$C/sauvegarde/staging/postgres"
chmod 700 "$K" "$C/sauvegarde"
if [ ! -s "$K/restic.pass" ]; then
  pw=$(tr -dc 'a-z0-9' </dev/urandom | head -c 32)
  [ "${{#pw}}" = 32 ] || {{ echo no-random; exit 1; }}
  printf '%s\\n' "$pw" > "$K/restic.pass.tmp"; mv "$K/restic.pass.tmp" "$K/restic.pass"
fi
cat > "$K/sauvegarde.env.new"
if [ -s "$K/sauvegarde.env.new" ]; then
  mv "$K/sauvegarde.env.new" "$K/sauvegarde.env"
else
  rm -f "$K/sauvegarde.env.new"
  grep -qxF {q(dest)} "$K/sauvegarde.env" 2>/dev/null || {{ echo credentials-missing; exit {CREDENTIALS_EXIT}; }}
fi
chmod 600 "$K/restic.pass" "$K/sauvegarde.env"
{_sftp_keys(sftp)}echo configured
"""


def _sftp_keys(sftp: tuple[str, str, int] | None) -> str:
    if sftp is None:
        return ""
    _user, host, port = sftp
    return f"""[ -s "$K/sauvegarde_ssh" ] || ssh-keygen -q -t ed25519 -N '' -C {q("kit-collab-sauvegarde")} -f "$K/sauvegarde_ssh"
if [ ! -s "$K/sauvegarde_known_hosts" ]; then
  ssh-keyscan -p {int(port)} -T 10 {q(host)} 2>/dev/null > "$K/sauvegarde_known_hosts.tmp" || true
  [ -s "$K/sauvegarde_known_hosts.tmp" ] || {{ echo host-key-unreadable; exit {UNREACHABLE_EXIT}; }}
  mv "$K/sauvegarde_known_hosts.tmp" "$K/sauvegarde_known_hosts"
fi
printf 'cle-publique %s\\n' "$(cat "$K/sauvegarde_ssh.pub")"
"""


def _sftp_option(sftp: tuple[str, str, int] | None) -> str:
    """restic's ``-o sftp.command`` (restic doc 030_preparing_a_new_repo.rst, SFTP): ssh
    with the commune's key and recorded host key, never asking anything."""
    if sftp is None:
        return ""
    user, host, port = sftp
    return (f'sftp.command=ssh -i $K/sauvegarde_ssh -o UserKnownHostsFile=$K/sauvegarde_known_hosts '
            f'-o StrictHostKeyChecking=yes -o BatchMode=yes -p {int(port)} '
            f'{user}@{host} -s sftp')


_CLASSIFY = f"""classify() {{
  case "$1" in 12) return {WRONG_PASSWORD_EXIT} ;; 11) return {LOCKED_EXIT} ;; esac
  if grep -qi 'wrong password' "$2"; then return {WRONG_PASSWORD_EXIT}; fi
  if grep -qiE 'no space left|insufficient storage|quota exceeded|disk full' "$2"; then return {FULL_EXIT}; fi
  if grep -qi 'already locked' "$2"; then return {LOCKED_EXIT}; fi
  if grep -qiE 'connection refused|no route to host|timeout|no such host|unreachable|connection reset|dial tcp|ssh|sftp|name resolution|EOF' "$2"; then return {UNREACHABLE_EXIT}; fi
  return {FAILED_EXIT}
}}
"""


def _head(plan: BackupPlan, sftp: tuple[str, str, int] | None, alert: str) -> str:
    option = _sftp_option(sftp)
    r_line = (f'r() {{ restic --cache-dir "$B/cache" -o "{option}" "$@"; }}' if option
              else 'r() { restic --cache-dir "$B/cache" "$@"; }')
    return f"""#!/bin/sh
# kit-collab: the backup of commune {plan.slug} (written by kit-collab install; run by the
# timer and by `kit-collab backup`). Argument: sauvegarder (default) or verifier.
set -u
umask 077
C={q(plan.commune_dir)}; S={q(plan.slug)}; K="$C/secrets"; B="$C/sauvegarde"
W="$B/travail"; mkdir -p "$W" "$B/staging/postgres"
set -a
# shellcheck disable=SC1091  # the server's own file, written by kit-collab
. "$K/sauvegarde.env"
set +a
unset {DESTINATION_KEY}
export RESTIC_PROGRESS_FPS=1
{r_line}
now() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}
jstr() {{ if [ -z "$1" ]; then printf null; else printf '"%s"' "$(printf '%s' "$1" | tr -d '\\000-\\037' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g' -e 's#://[^/@ ]*@#://***@#g')"; fi; }}
{_CLASSIFY}{alert}"""


def _maintenance(plan: BackupPlan, root: str, mode: str) -> str:
    return "".join(
        f"{compose(root, plan.slug, 'exec', '-T', '-u', '33', q(svc), 'php', 'occ', 'maintenance:mode', '--' + mode)}"
        f" </dev/null >>\"$W/err\" 2>&1" + (" || fail 'maintenance'\n" if mode == "on" else " || true\n")
        for svc in plan.maintenance)


def _dumps(plan: BackupPlan, root: str, quiet: bool) -> str:
    dumps = plan.quiet_dumps if quiet else plan.early_dumps
    return "".join(
        f"""{compose(root, plan.slug, "exec", "-T", q(d.service), "pg_dump", "--no-password", "-U", q(d.user), "-d", q(d.base))} </dev/null > "$B/staging/"{q(d.file + ".tmp")} 2>>"$W/err" || fail {q("dump " + d.service)}
mv "$B/staging/"{q(d.file + ".tmp")} "$B/staging/"{q(d.file)}
""" for d in dumps)


def _run_body(plan: BackupPlan, root: str) -> str:
    fixed = ("kit-collab", f"commune={plan.slug}", *plan.recipe_tags)
    tags = " ".join(f"--tag {q(t)}" for t in fixed) + ' --tag "release=$REL"'
    paths = " ".join(q(p) for p in plan.paths("x")[:-1]) + ' "$C/releases/$REL"'
    keep = " ".join(plan.retention.args())
    on = "maint=1\n" + _maintenance(plan, root, "on") if plan.maintenance else ""
    return f"""maint=0; REL=""; debut=$(now); t0=$(date +%s)
stop() {{ if [ "$maint" = 1 ]; then maint=0
{_maintenance(plan, root, "off")}fi; }}
status() {{ # ok error snapshot added size
  fin=$(now); duree=$(( $(date +%s) - t0 ))
  printf '{{"debut": "%s", "fin": "%s", "duree_s": %s, "ok": %s, "erreur": %s, "snapshot": %s, "octets_ajoutes": %s, "taille": %s, "release": %s, "derniere_reussie": %s}}\\n' \\
    "$debut" "$fin" "$duree" "$1" "$(jstr "$2")" "$(jstr "$3")" "${{4:-0}}" "${{5:-0}}" "$(jstr "$REL")" "$(jstr "$6")" > "$B/derniere.json.tmp"
  mv "$B/derniere.json.tmp" "$B/derniere.json"
}}
previous_ok() {{ sed -n 's/.*"derniere_reussie": "\\([^"]*\\)".*/\\1/p' "$B/derniere.json" 2>/dev/null; }}
last_ok=$(previous_ok)
A={q(audit_path(root))}
audit() {{ mkdir -p "${{A%/*}}"; printf '%s %s sauvegarde %s %s\\n' "$(now)" "${{KC_QUI:-minuterie}}" "${{REL:-?}}" "$1" >> "$A"; }}
fail() {{ rc=${{2:-{FAILED_EXIT}}}; stop
  msg="$1: $(tail -n 3 "$W/err" 2>/dev/null | tr '\\n' ' ' | sed 's#://[^/@ ]*@#://***@#g')"
  status false "$msg" "" 0 0 "$last_ok"; audit "echec"; alerte sauvegarde "$rc" "$msg" "$B/derniere.json"; echo "erreur $msg" >&2; exit "$rc"; }}
interrupted() {{ trap - INT TERM HUP; stop; status false {INTERRUPTED} "" 0 0 "$last_ok"; audit {INTERRUPTED}
  alerte sauvegarde 130 {INTERRUPTED} "$B/derniere.json"; exit 130; }}
trap interrupted INT TERM HUP
REL=$(basename "$(readlink "$C/current")")
if [ -z "$REL" ] || [ ! -d "$C/releases/$REL" ]; then fail "aucune version installée"; fi
status false {RUNNING} "" 0 0 "$last_ok"
: > "$W/err"
r cat config >/dev/null 2>"$W/err"; rc=$?
if [ "$rc" != 0 ]; then
  if [ "$rc" = 10 ] || grep -q 'Is there a repository' "$W/err"; then
    r init >/dev/null 2>"$W/err" || {{ rc=$?; classify "$rc" "$W/err"; fail "init" $?; }}
  else classify "$rc" "$W/err"; fail "depot" $?; fi
fi
r unlock >/dev/null 2>&1 || true
{_dumps(plan, root, False)}{on}{_dumps(plan, root, True)}( r backup --json --host "$S" {tags} \\
  {paths} 2>"$W/err"; echo "$?" > "$W/rc" ) | while IFS= read -r l; do
  case "$l" in *'"summary"'*) printf '%s\\n' "$l" > "$W/summary" ;; esac
  if [ "${{KC_PROGRESS:-0}}" = 1 ]; then printf 'progres %s\\n' "$l" >&2; fi
done
rc=$(cat "$W/rc" 2>/dev/null || echo 1)
stop
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then classify "$rc" "$W/err"; fail "backup" $?; fi
field() {{ sed -n "s/.*\\"$1\\":\\"\\{{0,1\\}}\\([^,}}\\"]*\\).*/\\1/p" "$W/summary"; }}
snap=$(field snapshot_id); added=$(field data_added); size=$(field total_bytes_processed)
last_ok=$(now)
status true "" "$snap" "${{added:-0}}" "${{size:-0}}" "$last_ok"
audit "ok $snap"
printf '%s\\n' "$(cat "$B/derniere.json")" >> "$B/historique.jsonl"
if ! r forget --host "$S" --tag kit-collab --group-by host {keep} --prune >/dev/null 2>"$W/err"; then
  echo "nettoyage-echec $(tail -n 1 "$W/err")" >&2
fi
rm -f "$B/staging/postgres/"*.sql
echo "sauvegarde-ok $snap"
"""


def _verify_body() -> str:
    return f"""debut=$(now)
verified() {{ printf '{{"date": "%s", "ok": %s, "erreur": %s, "partie": "%s"}}\\n' "$debut" "$1" "$(jstr "$2")" {q(CHECK_SAMPLE)} > "$B/verification.json.tmp"
  mv "$B/verification.json.tmp" "$B/verification.json"; }}
r check --read-data-subset={CHECK_SAMPLE} >"$W/check" 2>&1; rc=$?
if [ "$rc" = 0 ]; then verified true ""; echo verification-ok; exit 0; fi
classify "$rc" "$W/check"; code=$?
al_err="$(grep -iE 'error|fatal' "$W/check" | tail -n 3 | tr '\\n' ' ')"; verified false "$al_err"
alerte verification "$code" "$al_err" "$B/verification.json"
echo "verification-echec"; tail -n 5 "$W/check" >&2; exit "$code"
"""


def backup_script(root: str, plan: BackupPlan, sftp: tuple[str, str, int] | None = None,
                  alert: str = NO_ALERT) -> str:
    """``sauvegarder.sh``: ``sauvegarder`` (default) takes one snapshot (dumps, maintenance
    mode around the quiet part, ``derniere.json`` written on success AND failure, an
    interrupted run marked so), then ``forget --prune``; ``verifier`` runs the weekly partial
    integrity check; ``lister`` prints the snapshots; ``sonder`` tells whether the
    destination answers (``destination-ok`` or ``destination-echec <code> <detail>``)."""
    return f"""{_head(plan, sftp, alert)}case "${{1:-sauvegarder}}" in
  lister)
    out=$(r snapshots --json --host "$S" --tag kit-collab 2>"$W/lerr") || {{
      rc=$?; classify "$rc" "$W/lerr"; code=$?; tail -n 3 "$W/lerr" >&2; exit "$code"; }}
    printf 'snapshots %s\\n' "$out"
    if [ -f "$B/historique.jsonl" ]; then sed 's/^/historique /' "$B/historique.jsonl"; fi
    exit 0 ;;
  sonder)
    r cat config >/dev/null 2>"$W/serr"; rc=$?
    if [ "$rc" = 0 ]; then echo destination-ok; exit 0; fi
    classify "$rc" "$W/serr"; code=$?
    printf 'destination-echec %s %s\\n' "$code" "$(tail -n 1 "$W/serr" | sed 's#://[^/@ ]*@#://***@#g')"
    exit 0 ;;
  verifier)
    exec 9>"$B/.verrou"
    if ! flock -w 7200 9; then echo "sauvegarde-en-cours" >&2; exit {BUSY_EXIT}; fi
{_verify_body()}    ;;
  sauvegarder)
    exec 9>"$B/.verrou"
    if ! flock -n 9; then echo "sauvegarde-en-cours" >&2; exit {BUSY_EXIT}; fi ;;
  *) echo "usage: sauvegarder.sh [sauvegarder|verifier|lister|sonder]" >&2; exit 2 ;;
esac
{_run_body(plan, root)}"""


def install_script(root: str, slug: str, text: str) -> str:
    """Write ``sauvegarder.sh`` (0700, root's) from stdin."""
    return f"""set -eu
umask 077
B={q(commune_dir(root, slug) + "/sauvegarde")}
mkdir -p "$B"
cat > "$B/sauvegarder.sh.tmp"
chmod 700 "$B/sauvegarder.sh.tmp"
mv "$B/sauvegarder.sh.tmp" "$B/sauvegarder.sh"
echo script-installed {q(str(len(text)))}
"""


def run(root: str, slug: str, action: str = "sauvegarder", progress: bool = False) -> str:
    """Run the commune's backup script now (``KC_PROGRESS=1``: restic's JSON status lines
    on stderr, prefixed ``progres``)."""
    env = "KC_QUI=commande " + ("KC_PROGRESS=1 " if progress else "")
    return f"""B={q(commune_dir(root, slug) + "/sauvegarde")}
[ -x "$B/sauvegarder.sh" ] || {{ echo not-configured; exit 2; }}
{env}"$B/sauvegarder.sh" {q(action)} </dev/null
"""


def read_status(root: str, slug: str) -> str:
    """derniere.json and verification.json, each on one line after its marker."""
    return f"""B={q(commune_dir(root, slug) + "/sauvegarde")}
printf 'derniere '; tr -d '\\n' < "$B/derniere.json" 2>/dev/null; echo
printf 'verification '; tr -d '\\n' < "$B/verification.json" 2>/dev/null; echo
"""


def parse_snapshots(output: str) -> list[dict[str, Any]]:
    """Each snapshot, oldest first: {id, date, release, taille, recettes}."""
    sizes: dict[str, int] = {}
    snaps: list[Any] = []
    for line in output.splitlines():
        marker, _, rest = line.partition(" ")
        try:
            if marker == "snapshots":
                snaps = json.loads(rest) or []
            elif marker == "historique":
                h = json.loads(rest)
                if h.get("snapshot"):
                    sizes[str(h["snapshot"])] = int(h.get("taille") or 0)
        except (ValueError, TypeError, AttributeError):
            continue
    return [_snapshot(s, sizes) for s in snaps if isinstance(s, dict)]


def _snapshot(s: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, Any]:
    tags = [str(t) for t in s.get("tags") or ()]
    short = str(s.get("short_id") or str(s.get("id", ""))[:8])
    summary = s.get("summary") or {}  # restic >= 0.17 records it in the snapshot
    size = summary.get("total_bytes_processed") if isinstance(summary, dict) else None
    return {"id": short, "date": str(s.get("time", ""))[:19] + "Z",
            "release": next((t.split("=", 1)[1] for t in tags if t.startswith("release=")), ""),
            "taille": int(size) if size is not None else sizes.get(short),
            "recettes": [t.split("=", 1)[1] for t in tags if t.startswith("recette=")]}


def parse_status(output: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(derniere.json, verification.json), each None when absent or unreadable."""
    found: dict[str, dict[str, Any] | None] = {"derniere": None, "verification": None}
    for line in output.splitlines():
        marker, _, rest = line.partition(" ")
        if marker in found and rest.strip():
            try:
                value = json.loads(rest)
            except ValueError:
                continue
            found[marker] = value if isinstance(value, dict) else None
    return found["derniere"], found["verification"]


def parse_progress(line: bytes | str) -> tuple[int, int] | None:
    """(bytes done, total bytes) from one ``progres`` line of restic's JSON status."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if not text.startswith("progres "):
        return None
    try:
        data = json.loads(text[len("progres "):])
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("message_type") != "status":
        return None
    total = int(data.get("total_bytes") or 0)
    done = int(data.get("bytes_done") or round(float(data.get("percent_done") or 0) * total))
    return done, total


def failure(code: int) -> str | None:
    """The kind of a failure from the exit code (None when it is not one we name). A run
    stopped by a signal (128 + n, or no exit status at all: -1) was interrupted."""
    if code < 0 or code > 128:
        return ERRORS.get(code, "interrompue")
    return ERRORS.get(code)


def parse_probe(output: str) -> tuple[str, str] | None:
    """(failure kind, restic's last words) from ``sonder``; None when the destination
    answered (or the script is not there yet)."""
    for line in output.splitlines():
        if line.startswith("destination-echec "):
            _marker, code, *rest = line.split(" ", 2)
            kind = ERRORS.get(int(code)) if code.isdigit() else None
            return kind or "echec", rest[0] if rest else ""
    return None
