"""The firewall reconciled on every install and remove: the union of the public ports of the
server's communes, plus SSH and the web, and nothing else.

ufw cannot run on this machine's host (it would rewrite the host's own firewall, shared by
every test). The script is therefore run by a real ``sh`` against a fake ``ufw`` first on
PATH that keeps its rules in a file and answers ``show added`` as ufw 0.36 does; the fake is
the only mock, the script and its parser are the real ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kit_collab.apply.scripts import facts as facts_script
from kit_collab.apply.scripts import firewall
from kit_collab.plan.changes import Firewall, Plan
from kit_collab.plan.state import State, from_json

from . import dockerbed
from .test_deploy import (  # noqa: F401  (fixtures shared with the deploy tests)
    data_root,
    images,
    server_root,
    sshd,
)

OTHER = dockerbed.slug("voisine-essai")  # a second commune of this run
FAKE_UFW = r"""#!/bin/sh
# A stand-in for ufw: "allow RULE [comment C]", "delete allow RULE", "show added".
RULES={rules}
touch "$RULES"
case "$1" in
  show) echo "Added user rules (see 'ufw status' for running firewall):"
        if [ -s "$RULES" ]; then cat "$RULES"; else echo "(None)"; fi ;;
  allow) line="ufw allow $2"; [ "${{3:-}}" = comment ] && line="$line comment '$4'"
         grep -vx "ufw allow $2\( comment .*\)\{{0,1\}}" "$RULES" > "$RULES.t" || true
         mv "$RULES.t" "$RULES"; echo "$line" >> "$RULES"; echo "Rules updated" ;;
  delete) grep -vx "ufw allow $3\( comment .*\)\{{0,1\}}" "$RULES" > "$RULES.t" || true
          mv "$RULES.t" "$RULES"; echo "Rule deleted" ;;
  *) exit 1 ;;
esac
"""


def _fake_ufw(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir, rules = tmp_path / "bin", tmp_path / "ufw-rules"
    bin_dir.mkdir()
    ufw = bin_dir / "ufw"
    ufw.write_text(FAKE_UFW.format(rules=rules))
    ufw.chmod(0o755)
    return bin_dir, rules


def _run(script: str, bin_dir: Path | None) -> str:
    path = f"{bin_dir}:/usr/bin:/bin" if bin_dir else "/usr/bin:/bin"
    result = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True,
                            env={"PATH": path}, check=True)
    return result.stdout.decode()


def _rules(rules: Path) -> set[str]:
    return set(rules.read_text().splitlines())


def test_turn_ports_of_a_commune_added_later_are_opened_and_a_removed_ones_closed(
        tmp_path: Path) -> None:
    bin_dir, rules = _fake_ufw(tmp_path)
    root = tmp_path / "srv"
    for name in ("premiere", "seconde"):
        (root / "communes" / name).mkdir(parents=True)
    rules.write_text("ufw allow 22/tcp\nufw allow 8080/tcp comment 'autre-outil'\n")
    first = firewall.parse_reconcile(_run(firewall.reconcile(
        str(root), "premiere", ["10000/udp"], 2222), bin_dir))
    assert first == Firewall(opened=("10000/udp", "2222/tcp", "443/tcp", "443/udp", "80/tcp"))
    # The second commune enables Matrix later: its TURN ports open, the first's stay.
    turn = ["3478/tcp", "3478/udp", "49160:49259/udp"]
    second = firewall.parse_reconcile(_run(firewall.reconcile(
        str(root), "seconde", turn, 2222), bin_dir))
    assert second is not None and sorted(second.opened) == sorted(turn) and not second.closed
    assert "ufw allow 49160:49259/udp comment 'kit-collab'" in _rules(rules)
    # The second commune removed (its folder moved away): only its ports close.
    (root / "communes" / "seconde").rename(root / "seconde-retiree")
    removed = firewall.parse_reconcile(_run(firewall.reconcile(str(root), None, (), 2222),
                                            bin_dir))
    assert removed is not None and sorted(removed.closed) == sorted(turn)
    assert not removed.opened
    left = _rules(rules)
    assert "ufw allow 10000/udp comment 'kit-collab'" in left
    assert "ufw allow 2222/tcp comment 'kit-collab'" in left  # SSH, always
    # Rules kit-collab did not add are never touched.
    assert {"ufw allow 22/tcp", "ufw allow 8080/tcp comment 'autre-outil'"} <= left
    # A re-run changes nothing.
    again = firewall.parse_reconcile(_run(firewall.reconcile(
        str(root), "premiere", ["10000/udp"], 2222), bin_dir))
    assert again == Firewall()


def test_ssh_is_never_closed_even_when_no_commune_asks_for_it(tmp_path: Path) -> None:
    bin_dir, rules = _fake_ufw(tmp_path)
    (tmp_path / "srv" / "communes").mkdir(parents=True)
    rules.write_text("ufw allow 22/tcp comment 'kit-collab'\n"
                     "ufw allow 3478/udp comment 'kit-collab'\n")
    done = firewall.parse_reconcile(_run(firewall.reconcile(str(tmp_path / "srv"), None, (),
                                                            22), bin_dir))
    assert done is not None and done.closed == ("3478/udp",)
    assert "ufw allow 22/tcp comment 'kit-collab'" in _rules(rules)


def test_a_hostile_rule_file_is_ignored(tmp_path: Path) -> None:
    bin_dir, rules = _fake_ufw(tmp_path)
    commune = tmp_path / "srv" / "communes" / "x"
    commune.mkdir(parents=True)
    (commune / "pare-feu").write_text("1/tcp; touch /tmp/pwned\n$(id)/udp\n")
    _run(firewall.reconcile(str(tmp_path / "srv"), None, (), 22), bin_dir)
    assert not any("pwned" in r or "id" in r for r in _rules(rules))


def test_no_ufw_on_the_server_changes_nothing_and_says_so(tmp_path: Path) -> None:
    out = _run(firewall.reconcile(str(tmp_path), "x", ["3478/udp"], 22), None)
    assert firewall.parse_reconcile(out) is None


def test_facts_read_only_kit_collabs_rules() -> None:
    facts = facts_script.parse("ufw=Added user rules (see 'ufw status' for running firewall):\n"
                               "ufw=ufw allow 22/tcp\nufw=ufw allow 3478/udp comment "
                               "'kit-collab'\nufw_read=1\nend=ok")
    assert facts.firewall == frozenset({"3478/udp"})
    assert facts_script.parse("end=ok").firewall is None  # no ufw: nothing shown


def test_plan_shows_what_the_firewall_opens_and_closes() -> None:
    delta = firewall.delta(frozenset({"22/tcp", "80/tcp", "443/tcp", "443/udp", "9999/udp"}),
                           ["3478/udp"], {"voisine": ("10000/udp",)}, 22)
    assert delta.opened == ("10000/udp", "3478/udp") and delta.closed == ("9999/udp",)
    plan = Plan(slug="s", release="r", previous="r", bootstrap=False, upload=False,
                firewall=delta)
    assert not plan.noop
    shown = [c for c in plan.changes() if c.action == "pare-feu"]
    assert shown[0].detail == "pare-feu : ouvrir 10000/udp, 3478/udp ; fermer 9999/udp"
    assert Plan(slug="s", release="r", previous="r", bootstrap=False, upload=False,
                firewall=firewall.delta(None, ["3478/udp"], {}, 22)).noop


def test_public_rules_of_the_real_recipes_name_turn_and_the_media_port() -> None:
    from kit_collab.apply import deploy
    from kit_collab.plan.facts import Facts
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    from .conftest import base_profile

    profile = Profile.model_validate(base_profile())
    recipes = load_recipes()
    bundle = deploy.desired(profile, recipes, Facts())[0]
    rules = firewall.public_rules(bundle, recipes)
    names = dict(bundle.recipes)
    if "coturn" in names:
        assert {"3478/tcp", "3478/udp"} <= set(rules)
        assert any(r.endswith("/udp") and ":" in r for r in rules)  # the relay range
    if "jitsi" in names:
        assert f"{bundle.ports['jitsi']['media']}/udp" in rules


def test_state_records_the_firewall_and_the_domain() -> None:
    state = State(commune="x", release="r", domain="x.fr", firewall=("3478/udp",))
    again = from_json(state.as_json())
    assert (again.domain, again.firewall) == ("x.fr", ("3478/udp",))
    assert from_json({"release": "r"}).firewall == ()  # written before the field existed


# --- for real over SSH: two communes on one server, the fake ufw first on PATH ---------------

class FakeUfwPath:
    """Wraps a transport: every script runs with the fake ufw first on PATH (set inside the
    script, after sudo has reset the environment)."""

    def __init__(self, inner, bin_dir: Path) -> None:
        self.inner, self.bin_dir = inner, bin_dir

    @property
    def round_trips(self) -> int:
        return int(self.inner.round_trips)

    def run(self, script, **kwargs):
        return self.inner.run(f"PATH={self.bin_dir}:$PATH; export PATH\n{script}", **kwargs)


def test_two_communes_on_one_server_turn_of_the_later_opened_the_removed_ones_closed(
        sshd, server_root, data_root, tmp_path) -> None:  # noqa: F811
    from kit_collab.apply import deploy
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    from .test_deploy import _connect, profile_for

    bin_dir, rules = _fake_ufw(tmp_path)
    recipes = load_recipes(data_root)
    first = profile_for(sshd, server_root)
    data = first.model_dump(mode="json", exclude_none=True, exclude_computed_fields=True)
    data["commune"].update(slug=OTHER, domaine="voisine-essai.fr",
                           email_contact="mairie@voisine-essai.fr", nom="Voisine")
    second = Profile.model_validate(data)
    try:
        with _connect(sshd, first, tmp_path) as transport:
            fake = FakeUfwPath(transport, bin_dir)
            one = deploy.install(fake, first, recipes, wait_seconds=60)
            port_one = f"{one.bundle.ports['demo']['media']}/udp"
            assert f"ufw allow {port_one} comment 'kit-collab'" in _rules(rules)
            planned = deploy.make_plan(second, recipes, deploy.read_facts(fake, second))[0]
            two = deploy.install(fake, second, recipes, wait_seconds=60)
            port_two = f"{two.bundle.ports['demo']['media']}/udp"
            assert port_two != port_one
            assert planned.firewall.opened == (port_two,)  # shown in the plan first
            assert {f"ufw allow {p} comment 'kit-collab'" for p in (port_one, port_two)} <= (
                _rules(rules))
            state = (server_root / "communes" / OTHER / "state.json").read_text()
            assert port_two in state
            deploy.remove(fake, second)
            left = _rules(rules)
            assert f"ufw allow {port_one} comment 'kit-collab'" in left
            assert not any(port_two in r for r in left)
            assert f"ufw allow {sshd.port}/tcp comment 'kit-collab'" in left
    finally:
        dockerbed.compose_down(OTHER)
