"""The command line: help in both languages, exit codes, outputs, no secret printed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT

COMMANDS = [[], ["init"], ["validate"], ["render"], ["schema"], ["install"], ["plan"], ["status"],
            ["rollback"], ["unlock"], ["check"], ["remove"], ["users"], ["recipes"],
            ["recipes", "list"],
            ["recipes", "lint"]]
FRENCH = {(): "Installe et maintient",
          ("init",): "Pose quelques questions", ("validate",): "Vérifie un ou plusieurs profils",
          ("render",): "Écrit dans un dossier", ("schema",): "schéma JSON",
          ("install",): "Installe la suite", ("recipes",): "Recettes des services",
          ("plan",): "Montre ce qu'une installation", ("status",): "Version déployée",
          ("rollback",): "Remet en place", ("unlock",): "Lève le verrou",
          ("check",): "Diagnostic : vérifications préalables",
          ("remove",): "Retire la commune de son serveur",
          ("users",): "Comptes des agents : qui existe où",
          ("recipes", "list"): "Liste les recettes", ("recipes", "lint"): "Vérifie les recettes"}
ENGLISH = {(): "Installs and maintains",
           ("init",): "Ask a few questions", ("validate",): "Check one or more profiles",
           ("render",): "Write to a folder", ("schema",): "JSON Schema",
           ("install",): "Install the commune", ("recipes",): "Service recipes",
           ("plan",): "Show what an install", ("status",): "Deployed release",
           ("rollback",): "Put the previous release", ("unlock",): "Remove the lock",
           ("check",): "Diagnosis: preflight",
           ("remove",): "Take the commune off its server",
           ("users",): "Agents' accounts: who exists where",
           ("recipes", "list"): "List recipes", ("recipes", "lint"): "Check recipes"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "kit-collab")
def test_help_in_french_and_english(cli, command: list[str]) -> None:
    fr = cli(*command, "--help")
    assert fr.code == 0
    assert FRENCH[tuple(command)] in " ".join(fr.out.split())
    assert "Options" in fr.out
    words = " ".join(w for w in fr.out.split() if w != "│")
    assert "Affiche cette aide et quitte." in words
    assert "Show this message" not in words
    en = cli("--lang", "en", *command, "--help")
    assert en.code == 0
    assert ENGLISH[tuple(command)] in " ".join(en.out.split())
    assert "Show this message and exit." in " ".join(w for w in en.out.split() if w != "│")
    env = cli(*command, "--help", env={"KIT_COLLAB_LANG": "en"})
    assert ENGLISH[tuple(command)] in " ".join(env.out.split())


def test_validate_examples(cli) -> None:
    result = cli("validate", EXAMPLES / "petite-commune.yaml", EXAMPLES / "minimale.yaml")
    assert result.code == 0, result.text
    assert "profil valide (L'Haÿ-sur-Mer)" in result.out
    data = json.loads(cli("validate", "--json", EXAMPLES / "minimale.yaml").out)
    assert data == [{"fichier": str(EXAMPLES / "minimale.yaml"), "valide": True,
                     "commune": "Saint-Exemple", "problemes": [], "avertissements": []}]


def test_schema_matches_shipped_file_and_examples_point_at_it(cli) -> None:
    result = cli("schema")
    assert result.code == 0
    shipped = json.loads((ROOT / "schema" / "profil.schema.json").read_text(encoding="utf-8"))
    assert json.loads(result.out) == shipped, "run: kit-collab schema > schema/profil.schema.json"
    assert shipped["additionalProperties"] is False
    assert "description" in shipped["$defs"]["Commune"]["properties"]["domaine"]
    for example in EXAMPLES.glob("*.yaml"):
        first = example.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/profil.schema.json"


def test_every_schema_property_is_documented() -> None:
    shipped = json.loads((ROOT / "schema" / "profil.schema.json").read_text(encoding="utf-8"))
    for name, model in shipped["$defs"].items():
        for key, prop in model.get("properties", {}).items():
            if name in ("Profile", "Services"):
                continue
            assert prop.get("description"), f"{name}.{key} has no description"


def test_install_dry_run(cli, tmp_path: Path) -> None:
    result = cli("install", EXAMPLES / "petite-commune.yaml", "--dry-run")
    assert result.code == 0, result.text
    assert "Rien n'a été envoyé au serveur" in result.out
    assert "https://cloud.lhay-sur-mer.fr" in result.out
    assert not (EXAMPLES / ".kit-collab").exists()  # a dry run writes no secrets file


def test_render_writes_bundle_and_private_secrets(cli, tmp_path: Path, write_profile) -> None:
    profile = write_profile((EXAMPLES / "minimale.yaml").read_text(encoding="utf-8"))
    out = tmp_path / "bundle"
    result = cli("render", profile, "--out", out)
    assert result.code == 0, result.text
    secrets_file = tmp_path / ".kit-collab" / "saint-exemple-fr.secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_file.parent.stat().st_mode) == 0o700
    secrets = json.loads(secrets_file.read_text())
    for value in (v for bucket in secrets.values() for v in bucket.values()):
        assert value not in result.text
    release = os.readlink(out / "communes" / "saint-exemple-fr" / "current")
    again = cli("render", profile, "--out", out)
    assert again.code == 0 and "créé" not in again.out
    assert os.readlink(out / "communes" / "saint-exemple-fr" / "current") == release


def test_non_interactive_install_needs_yes(cli) -> None:
    result = cli("install", EXAMPLES / "minimale.yaml")
    assert result.code == 2
    assert "--yes" in result.err


def test_recipes_list(cli) -> None:
    rows = json.loads(cli("recipes", "list", "--json").out)
    names = [r["nom"] for r in rows]
    assert names[0] == "proxy" and "nextcloud" in names
    assert all("+" in r["version"] for r in rows)
    human = cli("recipes", "list")
    assert "nextcloud" in human.out and "Recettes" in human.out


def test_unknown_option_is_exit_2(cli) -> None:
    assert cli("validate", "--nope").code == 2


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it."""
    bad = tmp_path / "commune.yaml"
    bad.write_text("commune:\n  nom: [\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "kit_collab", "validate", str(bad)],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "KIT_COLLAB_LOG_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{bad}:3:1" in result.stderr or f"{bad}:2:" in result.stderr


def test_version(cli) -> None:
    from kit_collab import __version__

    result = cli("--version")
    assert result.code == 0 and __version__ in result.out
