"""Issue 15, item 5: "a profile with five mistakes shows two (only the first validation pass
is reported)". Every problem of a file comes out of one `validate`, each with its line."""

from __future__ import annotations

import json

FIVE_MISTAKES = """\
commune:
  nom: Saint-Essai
  domaine: saint essai.fr
  email_contact: mairie@saint-essai.fr
  code_postal: 13150
serveur:
  hote: 192.0.2.10
  hebergeur: ovhcloud
  pays: FR
  port_ssh: vingt-deux
services:
  nextcloud: {actif: true}
  matrix: {actif: true}
  jitsi: {actif: true}
  assistance:
    nom: Mairie
    telephone: 04 90 12 34 56
services_municipaux:
  - {id: accueil, nom: Accueil}
utilisateurs:
  - identifiant: mdupont
    nom: Marie Dupont
    email: marie@saint-essai.fr
    services_municipaux: [acceuil]
"""

# (field, line, column, French fragment): one mistake of each kind.
EXPECTED = [
    ("commune.domaine", 3, 3, "n'est pas un nom de domaine valide"),  # bad domain
    ("commune.code_postal", 5, 3, "clé inconnue « code_postal »"),  # unknown key
    ("serveur.port_ssh", 10, 3, "nombre entier attendu"),  # field type
    ("services.assistance", 15, 3, "section de premier niveau"),  # misplaced section
    ("utilisateurs[0].services_municipaux[0]", 24, 27,  # cross-field
     "service municipal « acceuil » inconnu"),
]


def test_profile_with_five_mistakes_shows_all_five_with_lines(cli, write_profile) -> None:
    path = write_profile(FIVE_MISTAKES)
    result = cli("validate", path)
    assert result.code == 2
    assert "5 problèmes" in result.err
    for field, line, column, fragment in EXPECTED:
        assert f"{path}:{line}:{column} {field} : " in result.err, field
        assert fragment in result.err, fragment
    assert "Traceback" not in result.text


def test_five_mistakes_in_json_each_with_field_line_and_column(cli, write_profile) -> None:
    result = cli("validate", "--json", write_profile(FIVE_MISTAKES))
    assert result.code == 2
    problems = json.loads(result.out)[0]["problemes"]
    got = [(p["champ"], p["ligne"], p["colonne"]) for p in problems]
    assert got == [(f, line, col) for f, line, col, _ in EXPECTED]


def test_cross_field_rules_never_judge_a_default_standing_in_for_a_mistake(
        cli, write_profile) -> None:
    # A sub-domain that fails its format is read as its default ("cloud") for the other
    # rules: "matrix: cloud" must not be reported as taken by Nextcloud.
    text = FIVE_MISTAKES.replace("  nextcloud: {actif: true}",
                                 "  nextcloud: {actif: true, sous_domaine: 'mes fichiers'}")
    text = text.replace("  matrix: {actif: true}", "  matrix: {actif: true, sous_domaine: cloud}")
    result = cli("validate", write_profile(text))
    assert result.code == 2
    assert "services.nextcloud.sous_domaine" in result.err
    assert "déjà pris" not in result.err


def test_duplicate_identifiant_reported_beside_a_field_error(cli, write_profile) -> None:
    text = FIVE_MISTAKES + ("  - {identifiant: mdupont, nom: Marc Dupont, "
                            "email: marc@saint-essai.fr}\n")
    result = cli("validate", write_profile(text))
    assert result.code == 2
    assert "utilisateurs[1].identifiant" in result.err and "déjà utilisé" in result.err
    assert "6 problèmes" in result.err


def test_unknown_service_not_claimed_when_its_declaration_is_the_mistake(
        cli, write_profile) -> None:
    # The service is declared, with a bad name: the agent's reference to it is not a mistake.
    text = FIVE_MISTAKES.replace("{id: accueil, nom: Accueil}", "{id: acceuil, nom: ''}")
    result = cli("validate", write_profile(text))
    assert result.code == 2
    assert "services_municipaux[0].nom" in result.err
    assert "« acceuil » inconnu" not in result.err
