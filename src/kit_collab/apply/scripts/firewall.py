"""The server's firewall (ufw), reconciled on every install and remove: open exactly the
union of the public ports of the server's communes, plus the web and SSH ports.

Only the rules kit-collab added are ever deleted: they carry the ufw comment ``kit-collab``
(``ufw show added`` prints them as ``ufw allow 3478/udp comment 'kit-collab'``). Each
commune's public rules are recorded in its state.json (``pare_feu``, for the plan) and in a
plain ``pare-feu`` file beside it, one rule a line, which the script reads under the
server's firewall lock: two communes reconciling at once never close each other's ports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from kit_collab.apply.scripts.common import commune_dir, q
from kit_collab.bundle.model import Bundle
from kit_collab.plan.changes import Firewall
from kit_collab.recipes.load import RecipeSet

COMMENT = "kit-collab"
WEB = (("80", "tcp"), ("443", "tcp"), ("443", "udp"))  # the shared proxy, HTTP/3 included
RULE = re.compile(r"^[0-9]{1,5}(:[0-9]{1,5})?/(tcp|udp)$")
ADDED = re.compile(r"^ufw allow ([0-9:]+/(?:tcp|udp)) comment '" + COMMENT + "'$")


def web_rules(ssh_port: int) -> tuple[str, ...]:
    """What every server keeps open: SSH (always), HTTP and HTTPS."""
    return (f"{int(ssh_port)}/tcp", *(f"{port}/{proto}" for port, proto in WEB))


def public_rules(bundle: Bundle, recipes: RecipeSet) -> tuple[str, ...]:
    """The commune's own public ports as ufw rules (``3478/udp``, ``49160:49259/udp``)."""
    out: set[str] = set()
    for name, _version in bundle.recipes:
        for spec in recipes[name].spec.ports:
            block = bundle.port_blocks.get(name, {}).get(spec.name)
            if not spec.public or block is None:
                continue
            port = str(block.start) if block.start == block.end else f"{block.start}:{block.end}"
            out.update(f"{port}/{proto}" for proto in spec.protocol.split("+"))
    return tuple(sorted(out))


def delta(current: frozenset[str] | None, own: Iterable[str],
          others: Mapping[str, Iterable[str]], ssh_port: int) -> Firewall:
    """What an install changes: ``current`` is the kit-collab rules on the server (None when
    ufw is absent or unreadable: nothing shown), ``others`` the other communes' rules."""
    rules = tuple(sorted(set(own)))
    if current is None:
        return Firewall(rules=rules)
    wanted = {*web_rules(ssh_port), *rules, *(r for rs in others.values() for r in rs)}
    keep = f"{int(ssh_port)}/tcp"
    return Firewall(rules=rules, opened=tuple(sorted(wanted - current)),
                    closed=tuple(sorted(r for r in current - wanted if r != keep)))


def parse_added(output: str) -> frozenset[str]:
    """The rules kit-collab added, from ``ufw show added`` (others' rules are left alone)."""
    found = (ADDED.match(line.strip()) for line in output.splitlines())
    return frozenset(m.group(1) for m in found if m)


def reconcile(root: str, slug: str | None, rules: Iterable[str], ssh_port: int) -> str:
    """Record the commune's rules (``slug``; None on remove, its folder already moved), then,
    under the server's firewall lock, add the missing rules of every commune and delete the
    kit-collab rules no commune needs; SSH is never closed. Prints ``opened=``/``closed=``
    lines, then ``firewall=ok`` (or ``firewall=absent`` without ufw)."""
    own = sorted(r for r in rules if RULE.match(r))
    record = "" if slug is None else (
        f"F={q(commune_dir(root, slug) + '/pare-feu')}\n"
        f"printf '%s\\n' {' '.join(q(r) for r in own) or q('')} > \"$F.nouveau\"\n"
        'mv -f "$F.nouveau" "$F"\n')
    base = " ".join(q(r) for r in web_rules(ssh_port))
    keep = q(f"{int(ssh_port)}/tcp")
    return f"""set -eu
if ! command -v ufw >/dev/null 2>&1; then echo "firewall=absent"; exit 0; fi
exec 7>{q(root + "/.firewall.lock")}
flock -w 600 7
{record}wanted=$({{ printf '%s\\n' {base}; cat {q(root)}/communes/*/pare-feu 2>/dev/null || true; }} | grep -E {q(RULE.pattern)} | sort -u)
have=$(ufw show added | sed -n "s/^ufw allow \\([0-9:]*\\/[a-z]*\\) comment '{COMMENT}'$/\\1/p" | sort -u)
for r in $wanted; do
  if ! printf '%s\\n' "$have" | grep -qxF "$r"; then ufw allow "$r" comment {q(COMMENT)} >/dev/null; echo "opened=$r"; fi
done
for r in $have; do
  [ "$r" = {keep} ] && continue
  if ! printf '%s\\n' "$wanted" | grep -qxF "$r"; then ufw delete allow "$r" >/dev/null; echo "closed=$r"; fi
done
flock -u 7
echo "firewall=ok"
"""


def parse_reconcile(output: str) -> Firewall | None:
    """The rules the script opened and closed; None when ufw is absent."""
    values = [line.partition("=") for line in output.splitlines()]
    if ("firewall", "=", "absent") in values:
        return None
    return Firewall(opened=tuple(v for k, _, v in values if k == "opened"),
                    closed=tuple(v for k, _, v in values if k == "closed"))
