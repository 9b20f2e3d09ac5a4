"""An inventory: shared defaults inherited and overridden, validated as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kit_collab.errors import InputError, ProfileError
from kit_collab.fleet import inventory

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "serveur": {"hote": "192.0.2.10", "hebergeur": "ovhcloud", "pays": "FR",
                "certificats": {"email_acme": "dsi@interco.fr"}},
    "services": {"nextcloud": {"actif": True}, "matrix": {"actif": False},
                 "jitsi": {"actif": False}},
}


def commune(name: str, domain: str, **extra) -> dict:
    data = {"commune": {"nom": name, "domaine": domain, "email_contact": f"mairie@{domain}"}}
    data.update(extra)
    return data


def write(folder: Path, name: str, data: dict | str) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True),
                    encoding="utf-8")
    return path


def test_defaults_inherited_and_overridden(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", commune("Bêta", "beta.fr", serveur={"hote": "192.0.2.20"},
                                      services={"matrix": {"actif": True}}))
    entries = inventory.load([tmp_path])
    by = {e.slug: e.profile for e in entries}
    assert by["alpha-fr"].serveur.hote == "192.0.2.10"
    assert by["beta-fr"].serveur.hote == "192.0.2.20"
    assert by["beta-fr"].serveur.hebergeur == "ovhcloud"  # merged, not replaced
    assert by["beta-fr"].services.matrix.actif and by["beta-fr"].services.nextcloud.actif
    assert not by["alpha-fr"].services.matrix.actif


def test_duplicate_hostname_names_both_files_and_lines(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", "commune:\n  nom: Alpha bis\n  domaine: alpha.fr\n"
                              "  email_contact: x@alpha.fr\n  slug: alpha-bis\n")
    with pytest.raises(ProfileError) as info:
        inventory.load([tmp_path])
    problem = next(p for p in info.value.problems if "cloud.alpha.fr" in p.message)
    assert problem.file == str(tmp_path / "b.yaml")
    assert str(tmp_path / "a.yaml") in problem.message
    assert problem.line == 3  # b.yaml's domaine: the sub-domain is the recipe's default


def test_duplicate_technical_name(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr", services={
        "nextcloud": {"sous_domaine": "nuage"}}))
    write(tmp_path, "b.yaml", commune("Autre", "autre.fr", **{}) | {
        "commune": {"nom": "Autre", "domaine": "autre.fr", "email_contact": "m@autre.fr",
                    "slug": "alpha-fr"}})
    with pytest.raises(ProfileError) as info:
        inventory.load([tmp_path])
    assert any("alpha-fr" in p.message and "a.yaml" in p.message for p in info.value.problems)


def test_communes_sharing_a_server_must_agree_on_its_proxy(tmp_path: Path) -> None:
    base = {k: v for k, v in DEFAULTS.items()}
    base["serveur"] = {k: v for k, v in DEFAULTS["serveur"].items() if k != "certificats"}
    write(tmp_path, "defauts.yaml", base)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", commune("Bêta", "beta.fr"))
    with pytest.raises(ProfileError) as info:
        inventory.load([tmp_path])
    problem = info.value.problems[0]
    assert "proxy partagé" in problem.message and "a.yaml" in problem.message
    assert "defauts.yaml" in (problem.hint or "")


def test_error_in_a_profile_keeps_its_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", "commune:\n  nom: Alpha\n  domaine: alpha fr\n"
                              "  email_contact: m@alpha.fr\n")
    with pytest.raises(ProfileError) as info:
        inventory.load([tmp_path])
    problem = info.value.problems[0]
    assert problem.file == str(tmp_path / "a.yaml") and problem.line == 3


def test_select_only_and_skip(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    for name in ("alpha", "beta", "gamma"):
        write(tmp_path, f"{name}.yaml", commune(name.title(), f"{name}.fr"))
    entries = inventory.load([tmp_path])
    assert [e.slug for e in inventory.select(entries, ["alpha", "beta-fr"], [])] == [
        "alpha-fr", "beta-fr"]
    assert [e.slug for e in inventory.select(entries, [], ["gamma"])] == ["alpha-fr", "beta-fr"]
    with pytest.raises(InputError, match="inconnue"):
        inventory.select(entries, ["delta"], [])


def test_cli_reports_inventory_errors(cli, tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", "commune:\n  nom: B\n  domaine: alpha.fr\n"
                              "  email_contact: x@alpha.fr\n  slug: bbb\n")
    result = cli("plan", tmp_path)
    assert result.code == 2
    assert "a.yaml" in result.err and "b.yaml" in result.err
    assert "Traceback" not in result.text


def test_inherited_value_error_names_the_defaults_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", "serveur:\n  hote: 192.0.2.10\n  hebergeur: ovhcloud\n"
                                    "  pays: US\n")
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    with pytest.raises(ProfileError) as info:
        inventory.load([tmp_path])
    problem = next(p for p in info.value.problems if p.location.startswith("serveur"))
    assert problem.file == str(tmp_path / "defauts.yaml") and problem.line == 4


def test_one_profile_of_an_inventory_inherits_its_defaults(tmp_path: Path, cli) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    alone = write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    result = cli("validate", alone)
    assert result.code == 0, result.text
    rendered = cli("install", alone, "--dry-run")
    assert rendered.code == 0, rendered.text
    assert "192.0.2.10" in rendered.out  # the server comes from defauts.yaml
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr", serveur={"pays": "US"}))
    refused = cli("validate", alone)
    assert refused.code == 2
    assert "a.yaml:" in refused.err and "serveur.pays" in refused.err


def test_dry_run_of_an_inventory_renders_every_commune(tmp_path: Path, cli) -> None:
    write(tmp_path, "defauts.yaml", DEFAULTS)
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", commune("Bêta", "beta.fr", serveur={"hote": "192.0.2.20"}))
    result = cli("install", tmp_path, "--dry-run")
    assert result.code == 0, result.text
    assert "cloud.alpha.fr" in result.out and "cloud.beta.fr" in result.out
    assert "2 communes" in result.out
    only = cli("install", tmp_path, "--dry-run", "--seulement", "b")
    assert only.code == 0 and "cloud.beta.fr" in only.out and "alpha.fr" not in only.out
    write(tmp_path, "c.yaml", commune("Gamma", "alpha.fr", commune={
        "nom": "Gamma", "domaine": "alpha.fr", "email_contact": "m@alpha.fr", "slug": "gamma"}))
    clash = cli("install", tmp_path, "--dry-run")
    assert clash.code == 2 and "c.yaml" in clash.err and "a.yaml" in clash.err


def test_broken_defaults_reported_once(tmp_path: Path) -> None:
    write(tmp_path, "defauts.yaml", "serveur:\n  hote: [192.0.2.10\n")
    write(tmp_path, "a.yaml", commune("Alpha", "alpha.fr"))
    write(tmp_path, "b.yaml", commune("Bêta", "beta.fr"))
    with pytest.raises(InputError) as info:
        inventory.load([tmp_path])
    problems = info.value.problems
    assert len(problems) == 1 and problems[0].file == str(tmp_path / "defauts.yaml")


def test_hostnames_compared_across_communes_are_the_ones_the_proxy_serves() -> None:
    """The inventory's duplicate check reads the names from the recipes (no service named in
    the engine): for the full example they are exactly the addresses of the proxy's sites."""
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import digest_draw
    from kit_collab.profile.load import load_profile
    from kit_collab.recipes.load import load_recipes

    profile = load_profile(ROOT / "examples" / "petite-commune.yaml")
    recipes = load_recipes()
    bundle = make_bundle(profile, recipes, draw=digest_draw("test")).bundle
    served = {address for site in bundle.sites for address in site.addresses}
    names = {name for name, _path in inventory.hostnames(profile, recipes)}
    assert names == served
    assert ("cloud." + profile.commune.domaine, ("services", "nextcloud", "sous_domaine")) in \
        inventory.hostnames(profile, recipes)
