"""Malformed profiles: each gives exit 2, a French message with the field and the line, no
traceback, and fails fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

BASE = """\
commune:
  nom: Saint-Essai
  domaine: saint-essai.fr
  email_contact: mairie@saint-essai.fr
serveur:
  hote: 192.0.2.10
  hebergeur: ovhcloud
  pays: FR
services:
  nextcloud: {actif: true, collabora: false}
  matrix: {actif: true}
  jitsi: {actif: true}
services_municipaux:
  - {id: accueil, nom: Accueil}
utilisateurs:
  - identifiant: mdupont
    nom: Marie Dupont
    email: marie@saint-essai.fr
    services_municipaux: [accueil]
"""


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
    for i in range(8)
)

# (id, file content, field expected in the message or None, line or None, French fragment)
CASES: list[tuple[str, str | bytes, str | None, int | None, str]] = [
    ("syntaxe", edit("  matrix: {actif: true}", "  matrix: {actif: true"), None, 12,
     "syntaxe YAML invalide"),
    ("vide", "", None, None, "le fichier est vide"),
    ("commentaires", "# rien\n# encore rien\n", None, None, "que des commentaires"),
    ("binaire", b"commune:\x00\x01\x02", None, None, "fichier binaire"),
    ("latin1", "commune:\n  nom: Ha\xff\n".encode("latin-1"), None, 2, "pas en UTF-8"),
    ("enorme", "commune:\n" + "  # remplissage\n" * 80_000, None, None, "fichier trop gros"),
    ("bombe-alias", ALIAS_BOMB, None, None, "bombe d'alias"),
    ("imbrication", "a: " + "[" * 5000 + "]" * 5000 + "\n", None, None, "imbrication trop"),
    ("tag-python", edit("  nom: Saint-Essai", "  nom: !!python/object/apply:os.system [ls]"),
     None, 2, "non prise en charge"),
    ("cle-en-double", edit("  pays: FR\n", "  pays: FR\n  pays: BE\n"), None, 9,
     "clé « pays » en double"),
    ("cle-inconnue", edit("  domaine: saint-essai.fr", "  domane: saint-essai.fr"),
     "commune.domane", 3, "vouliez-vous dire « domaine »"),
    ("champ-manquant", edit("  email_contact: mairie@saint-essai.fr\n", ""),
     "commune.email_contact", 1, "champ obligatoire manquant"),
    ("domaine", edit("saint-essai.fr\n", "saint essai\n"), "commune.domaine", 3,
     "n'est pas un nom de domaine valide"),
    ("email", edit("    email: marie@saint-essai.fr", "    email: marie.saint-essai.fr"),
     "utilisateurs[0].email", 18, "adresse e-mail valide"),
    ("sous-domaine", edit("  matrix: {actif: true}",
                          "  matrix: {actif: true, sous_domaine: Ma_trix}"),
     "services.matrix.sous_domaine", 11, "sous-domaine valide"),
    ("identifiant", edit("identifiant: mdupont", "identifiant: Marie Dupont"),
     "utilisateurs[0].identifiant", 16, "un identifiant commence"),
    ("identifiant-double",
     BASE + "  - {identifiant: mdupont, nom: Autre, email: a@saint-essai.fr}\n",
     "utilisateurs[1].identifiant", 20, "déjà utilisé"),
    ("service-inconnu", edit("[accueil]", "[acceuil]"), "utilisateurs[0].services_municipaux[0]",
     19, "vouliez-vous dire « accueil »"),
    ("hors-ue", edit("  pays: FR", "  pays: US"), "serveur.pays", 8, "ni dans l'Union européenne"),
    ("collabora-sans-nextcloud", edit("{actif: true, collabora: false}",
                                      "{actif: false, collabora: true}"),
     "services.nextcloud.collabora", 10, "Collabora a besoin de Nextcloud"),
    ("sous-domaine-double", edit("  matrix: {actif: true}",
                                 "  matrix: {actif: true, sous_domaine: cloud}"),
     "services.matrix.sous_domaine", 11, "déjà pris"),
    ("retour-ligne", edit("  nom: Saint-Essai", '  nom: "Saint\\nEssai"'), "commune.nom", 2,
     "caractère de contrôle"),
    ("port", edit("  hote: 192.0.2.10", "  hote: 192.0.2.10\n  port_ssh: 70000"),
     "serveur.port_ssh", 7, "hors limites"),
    ("port-texte", edit("  hote: 192.0.2.10", "  hote: 192.0.2.10\n  port_ssh: vingt-deux"),
     "serveur.port_ssh", 7, "nombre entier attendu"),
    ("role", edit("    services_municipaux: [accueil]",
                  "    role: maire\n    services_municipaux: [accueil]"),
     "utilisateurs[0].role", 19, "valeurs possibles"),
    ("racine-liste", "- commune\n- serveur\n", None, 1, "bloc de clés"),
    ("quota", edit("{actif: true, collabora: false}",
                   "{actif: true, collabora: false, quota_par_defaut: beaucoup}"),
     "services.nextcloud.quota_par_defaut", 10, "un quota s'écrit"),
    ("actif-texte", edit("  jitsi: {actif: true}", "  jitsi: {actif: peut-être}"),
     "services.jitsi.actif", 12, "true ou false"),
]


@pytest.mark.parametrize(("content", "field", "line", "fragment"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_profile(cli, write_profile, content, field, line, fragment) -> None:
    path: Path = write_profile(content)
    start = time.monotonic()
    result = cli("validate", path)
    elapsed = time.monotonic() - start
    assert result.code == 2, result.text
    assert fragment in result.err, result.err
    assert str(path) in result.err
    if field:
        assert field in result.err
    if line:
        assert f"{path}:{line}:" in result.err, result.err
    assert "Traceback" not in result.text
    assert elapsed < 5, f"took {elapsed:.1f}s"


def test_at_least_fifteen_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) >= 15


def test_all_problems_reported_at_once(cli, write_profile) -> None:
    text = edit("  pays: FR", "  pays: US").replace("identifiant: mdupont", "identifiant: M D")
    text = text.replace("  domaine: saint-essai.fr", "  domaine: saint-essai.fr\n  maire: X")
    result = cli("validate", write_profile(text))
    assert result.code == 2
    assert "commune.maire" in result.err and "utilisateurs[0].identifiant" in result.err


def test_json_output_lists_problems_with_lines(cli, write_profile) -> None:
    import json

    path = write_profile(edit("  domaine: saint-essai.fr", "  domane: saint-essai.fr"))
    result = cli("validate", "--json", path)
    assert result.code == 2
    data = json.loads(result.out)
    problem = next(p for p in data[0]["problemes"] if p["champ"] == "commune.domane")
    assert data[0]["valide"] is False
    assert problem["champ"] == "commune.domane"
    assert problem["ligne"] == 3
    assert "domaine" in problem["conseil"]


def test_english_messages(cli, write_profile) -> None:
    path = write_profile(edit("  domaine: saint-essai.fr", "  domane: saint-essai.fr"))
    result = cli("--lang", "en", "validate", path)
    assert result.code == 2
    assert "unknown key 'domane'" in result.err
    assert "did you mean 'domaine'?" in result.err


def test_missing_file(cli, tmp_path) -> None:
    result = cli("validate", tmp_path / "absent.yaml")
    assert result.code == 2
    assert "fichier introuvable" in result.err
    assert "Traceback" not in result.text


def test_top_level_section_indented_under_another_says_where_it_belongs(cli, tmp_path) -> None:
    # Issue 15, item 5: "utilisateurs: placed under serveur: suggests the SSH key utilisateur".
    path = tmp_path / "commune.yaml"
    path.write_text("commune:\n  nom: X\n  domaine: x.fr\n  email_contact: a@x.fr\n"
                    "serveur:\n  hote: 203.0.113.1\n  hebergeur: ovh\n  pays: FR\n"
                    "  utilisateurs:\n    - {identifiant: ab, nom: A, email: a@x.fr}\n", "utf-8")
    result = cli("validate", path)
    assert result.code == 2
    assert "section de premier niveau" in result.err and "sans retrait" in result.err
    assert "vouliez-vous dire « utilisateur »" not in result.err


def test_key_of_another_section_names_that_section(cli, tmp_path) -> None:
    path = tmp_path / "commune.yaml"
    path.write_text("commune:\n  nom: X\n  domaine: x.fr\n  email_contact: a@x.fr\n"
                    "  port_ssh: 22\nserveur:\n  hote: 203.0.113.1\n  hebergeur: ovh\n"
                    "  pays: FR\n", "utf-8")
    result = cli("validate", path)
    assert result.code == 2 and "« port_ssh » se place sous « serveur »" in result.err
