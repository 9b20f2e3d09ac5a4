"""The pure and local parts of ``kit-collab acces``: the profile edited in place (comments
kept), the key made on this machine, the scripts' answers, the French hints naming the
command; the password never shown by its holder."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest
import yaml

from kit_collab.apply.connect_errors import connect_error
from kit_collab.apply.first_contact import Password
from kit_collab.apply.scripts import first_contact as scripts
from kit_collab.operations import access
from kit_collab.profile.edit import set_section_value
from kit_collab.profile.model import Serveur

PROFILE = """\
# Profil de commune
commune:
  nom: Saint-Essai  # le nom
serveur:
  hote: 203.0.113.10
  utilisateur: debian
  # Chemin de la clé privée SSH. Décommentez pour la choisir :
  # cle_ssh: ~/.ssh/id_ed25519
  hebergeur: ovhcloud   # l'hébergeur
  pays: FR

services: {}
"""


def test_the_key_path_replaces_the_commented_example_and_keeps_every_comment() -> None:
    edited = set_section_value(PROFILE, "serveur", "cle_ssh", "~/.ssh/id_ed25519")
    assert edited == PROFILE.replace("  # cle_ssh: ~/.ssh/id_ed25519\n",
                                     "  cle_ssh: ~/.ssh/id_ed25519\n")


def test_an_existing_value_is_replaced_with_its_end_of_line_comment_kept() -> None:
    edited = set_section_value(PROFILE, "serveur", "hebergeur", "scaleway")
    assert "  hebergeur: scaleway   # l'hébergeur\n" in edited
    assert edited.count("hebergeur:") == 1


def test_a_missing_key_is_added_at_the_end_of_its_section() -> None:
    fp = "SHA256:" + "A" * 43
    edited = set_section_value(PROFILE, "serveur", "empreinte_hote", fp)
    assert f"  pays: FR\n  empreinte_hote: {fp}\n\nservices: {{}}\n" in edited
    assert yaml.safe_load(edited)["serveur"]["empreinte_hote"] == fp


def test_a_value_that_would_not_read_back_is_quoted() -> None:
    edited = set_section_value(PROFILE, "serveur", "cle_ssh", "/clés/ma clé #1: oui")
    assert yaml.safe_load(edited)["serveur"]["cle_ssh"] == "/clés/ma clé #1: oui"


def test_a_one_line_server_section_is_refused_rather_than_rewritten() -> None:
    with pytest.raises(ValueError, match="serveur"):
        set_section_value("serveur: {hote: x}\n", "serveur", "cle_ssh", "~/k")


def test_the_key_is_made_once_0600_and_read_by_paramiko(tmp_path: Path) -> None:
    path, public, created = access.ensure_key(str(tmp_path / "ssh" / "cle"))
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    assert public.split()[:2] == [key.get_name(), key.get_base64()]
    again, public_again, created_again = access.ensure_key(str(path))
    assert (again, created_again) == (path, False) and public_again == public


def test_an_existing_key_without_its_pub_file_is_read(tmp_path: Path) -> None:
    path, public, _ = access.ensure_key(str(tmp_path / "cle"))
    path.with_name("cle.pub").unlink()
    assert access.ensure_key(str(path))[1] == " ".join(public.split()[:2])


def test_the_password_never_shows_in_a_repr_or_a_string() -> None:
    secret = Password("Tres-Secret-42")
    assert "Tres-Secret-42" not in repr(secret) + str(secret) + repr([secret])
    from kit_collab.redact import redact

    assert "Tres-Secret-42" not in redact("erreur avec Tres-Secret-42")


def test_script_answers_are_key_value_lines() -> None:
    answer = scripts.parse(4, "sshd-t=before\nsshd: /x line 1: Bad option\n")
    assert answer.values == {"sshd-t": "before"}
    assert answer.lines == ("sshd: /x line 1: Bad option",)


def _serveur() -> Serveur:
    return Serveur(hote="203.0.113.10", hebergeur="ovhcloud", pays="FR",
                   utilisateur="debian")


def test_no_key_names_the_command_that_fixes_it() -> None:
    error = connect_error(paramiko.SSHException("No authentication methods available"),
                          _serveur(), 10)
    assert error.message.startswith("aucune clé SSH sur ce poste")
    assert "kit-collab acces" in (error.hint or "")


def test_a_refused_key_names_the_command_that_fixes_it() -> None:
    error = connect_error(paramiko.AuthenticationException("Authentication failed."),
                          _serveur(), 10)
    assert error.message == "authentification SSH refusée pour debian@203.0.113.10:22"
    assert "kit-collab acces" in (error.hint or "")
