"""Outgoing e-mail (``messagerie:``): the profile section, the relay's password kept with the
server's secrets, Nextcloud's mail settings and Synapse's ``email`` block.

Nextcloud: the image's config/smtp.config.php (nextcloud/docker 34.0.2, .config/smtp.config.php)
turns SMTP_* and MAIL_* into the system settings documented in the Nextcloud admin manual
(admin_manual/configuration_server/email_configuration.rst: mail_smtpmode "smtp",
mail_smtpsecure "ssl" for TLS from the first byte or "" for STARTTLS, mail_smtpauth,
mail_smtpauthtype LOGIN, mail_smtpname/password, mail_from_address + mail_domain). The test
reads the rendered env files the way that file reads its environment. Synapse: its own config
loader reads the rendered homeserver.yaml.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.bundle import render
from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import digest_draw, ensure_secrets, set_asker, system_draw
from kit_collab.profile.mail_model import Messagerie
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes

from .conftest import base_profile
from .test_recipe_jitsi import read_env
from .test_standin_contract import unread

RELAY = {"relais": "smtp.fournisseur.fr", "identifiant": "mairie@saint-essai.fr",
         "expediteur": "ne-pas-repondre@saint-essai.fr"}
HOSTILE = "L'Haÿ \"x\" $HOME #1 \\ %"


def _data(**mail: Any) -> dict[str, Any]:
    data = base_profile()
    data["messagerie"] = {**RELAY, **mail}
    return data


def _bundle(data: dict[str, Any], secrets: dict[str, dict[str, str]] | None = None
            ) -> render.Bundle:
    return make_bundle(Profile.model_validate(data), load_recipes(), draw=digest_draw("mail"),
                       secrets=secrets).bundle


def _file(bundle: render.Bundle, name: str) -> str:
    return bundle.file(f"{bundle.release_dir}/{name}").content.decode()


def nextcloud_mail_settings(env: dict[str, str]) -> dict[str, Any]:
    """What the image's smtp.config.php makes of the environment (nextcloud/docker 34.0.2):
    nothing unless SMTP_HOST, MAIL_FROM_ADDRESS and MAIL_DOMAIN are all set."""
    if not (env.get("SMTP_HOST") and env.get("MAIL_FROM_ADDRESS") and env.get("MAIL_DOMAIN")):
        return {}
    secure = env.get("SMTP_SECURE", "")
    return {"mail_smtpmode": "smtp", "mail_smtphost": env["SMTP_HOST"],
            "mail_smtpport": env.get("SMTP_PORT") or (465 if secure else 25),
            "mail_smtpsecure": secure,
            "mail_smtpauth": bool(env.get("SMTP_NAME") and env.get("SMTP_PASSWORD")),
            "mail_smtpauthtype": env.get("SMTP_AUTHTYPE") or "LOGIN",
            "mail_smtpname": env.get("SMTP_NAME", ""),
            "mail_smtppassword": env.get("SMTP_PASSWORD", ""),
            "mail_from_address": env["MAIL_FROM_ADDRESS"], "mail_domain": env["MAIL_DOMAIN"]}


# --- the profile -------------------------------------------------------------------------


def test_messagerie_defaults_to_starttls_on_587() -> None:
    m = Messagerie.model_validate(RELAY)
    assert (m.port, m.securite, m.tls_implicite) == (587, "starttls", False)
    assert (m.expediteur_local, m.expediteur_domaine) == ("ne-pas-repondre", "saint-essai.fr")


@pytest.mark.parametrize(("field", "value", "said"), [
    ("relais", "smtp fournisseur", "n'est pas un nom de serveur d'envoi"),
    ("expediteur", "pas-une-adresse", "n'est pas une adresse d'expéditeur"),
    ("expediteur", "a%b@saint-essai.fr", "n'est pas une adresse d'expéditeur"),
    ("securite", "aucune", "starttls"),
])
def test_messagerie_errors_are_french(field: str, value: str, said: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        Messagerie.model_validate({**RELAY, field: value})
    assert said in str(info.value)


def test_relay_password_is_not_a_profile_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Messagerie.model_validate({**RELAY, "mot_de_passe": "secret"})


# --- the password: asked once, kept with the server's secrets ------------------------------


def test_relay_password_is_asked_once_and_kept_with_the_secrets() -> None:
    asked: list[str] = []
    set_asker(lambda name: asked.append(name) or "Mot-de-passe-relais", lambda _n: "")
    try:
        recipes = load_recipes().recipes
        first, created = ensure_secrets(recipes, None, [], system_draw,
                                        ["messagerie.mot_de_passe"])
        again, created_again = ensure_secrets(recipes, first, [], system_draw,
                                              ["messagerie.mot_de_passe"])
    finally:
        from kit_collab.cli import given_secrets

        given_secrets.install()
    assert asked == ["messagerie.mot_de_passe"]
    assert first["messagerie"] == {"mot_de_passe": "Mot-de-passe-relais"}
    assert "messagerie.mot_de_passe" in created
    assert created_again == [] and again == first


def test_relay_password_from_the_environment_replaces_the_kept_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kit_collab.cli import given_secrets

    given_secrets.install()
    kept = {"messagerie": {"mot_de_passe": "ancien-mot-de-passe"}}
    monkeypatch.setenv("KIT_COLLAB_SMTP_PASSWORD", "nouveau-mot-de-passe")
    secrets, created = ensure_secrets([], kept, [], system_draw, ["messagerie.mot_de_passe"])
    assert secrets["messagerie"]["mot_de_passe"] == "nouveau-mot-de-passe"
    assert created == ["messagerie.mot_de_passe"]  # stored again on the server
    monkeypatch.setenv("KIT_COLLAB_SMTP_PASSWORD", "nouveau-mot-de-passe")
    _same, unchanged = ensure_secrets([], secrets, [], system_draw, ["messagerie.mot_de_passe"])
    assert unchanged == []


def test_without_password_nor_terminal_the_error_names_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kit_collab.cli import given_secrets
    from kit_collab.errors import InputError

    monkeypatch.delenv("KIT_COLLAB_SMTP_PASSWORD", raising=False)
    given_secrets.install()
    with pytest.raises(InputError) as info:
        ensure_secrets([], None, [], system_draw, ["messagerie.mot_de_passe"])
    assert "KIT_COLLAB_SMTP_PASSWORD" in (info.value.hint or "")


def test_render_reads_the_relay_password_from_the_environment_and_never_prints_it(
        cli, write_profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    password = "Relais-Secret-2026"  # noqa: S105 (a test value)
    path = write_profile(_data())
    out = tmp_path / "rendu"
    result = cli("render", path, "--out", out, env={"KIT_COLLAB_SMTP_PASSWORD": password})
    assert result.code == 0, result.text
    assert password not in result.text
    (env_file,) = out.rglob("nextcloud/nextcloud.env")
    assert read_env(env_file.read_text())["SMTP_PASSWORD"] == password
    assert password not in path.read_text()


def test_render_without_relay_password_says_how_to_give_it(
        cli, write_profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("KIT_COLLAB_SMTP_PASSWORD", raising=False)
    result = cli("render", write_profile(_data()), "--out", tmp_path / "rendu")
    assert result.code == 2, result.text
    assert "mot de passe du relais d'envoi des e-mails inconnu" in result.text
    assert "KIT_COLLAB_SMTP_PASSWORD" in result.text


def test_check_envoyer_test_refuses_a_bad_address(cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", write_profile(_data()), "--envoyer-test", "secretariat")
    assert result.code == 2, result.text
    assert "n'est pas une adresse e-mail" in result.text


# --- Nextcloud --------------------------------------------------------------------------


@pytest.mark.parametrize("env_file", ["nextcloud.env", "nextcloud-cron.env"])
def test_nextcloud_mail_settings_follow_the_profile(env_file: str) -> None:
    bundle = _bundle(_data())
    env = read_env(_file(bundle, f"nextcloud/{env_file}"))
    settings = nextcloud_mail_settings(env)
    assert settings == {
        "mail_smtpmode": "smtp", "mail_smtphost": "smtp.fournisseur.fr",
        "mail_smtpport": "587", "mail_smtpsecure": "", "mail_smtpauth": True,
        "mail_smtpauthtype": "LOGIN", "mail_smtpname": "mairie@saint-essai.fr",
        "mail_smtppassword": settings["mail_smtppassword"],
        "mail_from_address": "ne-pas-repondre", "mail_domain": "saint-essai.fr"}
    assert len(settings["mail_smtppassword"]) >= 16


def test_nextcloud_tls_relay_is_ssl_for_nextcloud() -> None:
    """Admin manual: 'ssl' is TLS from the first byte (port 465); Mailer.php passes only
    'ssl' on to the transport, anything else lets it use STARTTLS."""
    env = read_env(_file(_bundle(_data(securite="tls", port=465)), "nextcloud/nextcloud.env"))
    assert (env["SMTP_SECURE"], env["SMTP_PORT"]) == ("ssl", "465")


def test_without_messagerie_nextcloud_gets_no_smtp_variable() -> None:
    env = read_env(_file(_bundle(base_profile()), "nextcloud/nextcloud.env"))
    assert not [k for k in env if k.startswith(("SMTP_", "MAIL_"))]
    assert nextcloud_mail_settings(env) == {}


def test_nextcloud_sender_in_config_php_matches_the_relay_sender(tmp_path: Path) -> None:
    from .validators import php_config

    bundle = _bundle(_data())
    path = tmp_path / "kit-collab.config.php"
    path.write_text(_file(bundle, "nextcloud/kit-collab.config.php"))
    config = php_config(path)
    assert (config["mail_from_address"], config["mail_domain"]) == (
        "ne-pas-repondre", "saint-essai.fr")


def test_smtp_variables_are_in_the_stand_in_contract() -> None:
    assert unread(_bundle(_data())) == []


# --- Synapse ----------------------------------------------------------------------------


@pytest.mark.validators
@pytest.mark.parametrize("securite", ["starttls", "tls"])
def test_synapse_loader_accepts_the_email_block(tmp_path: Path, securite: str) -> None:
    from synapse.config.homeserver import HomeServerConfig

    from .test_recipe_matrix import _relocated
    from .validators import render_to

    data = _data(securite=securite, port=465 if securite == "tls" else 587)
    data["commune"]["nom"] = HOSTILE
    bundle = render_to(data, tmp_path / "out",
                       secrets={"messagerie": {"mot_de_passe": "Relais-Secret-2026"}})
    config = HomeServerConfig.load_config("kit-collab", ["-c", str(_relocated(
        tmp_path / "out" / bundle.release_dir, tmp_path / "synapse"))])
    email = config.email
    assert (email.email_smtp_host, email.email_smtp_port) == ("smtp.fournisseur.fr",
                                                              465 if securite == "tls" else 587)
    assert email.email_smtp_user == "mairie@saint-essai.fr"
    assert email.email_smtp_pass == "Relais-Secret-2026"  # noqa: S105 (the test's value)
    assert email.force_tls is (securite == "tls")
    assert email.require_transport_security is (securite == "starttls")
    assert email.email_enable_notifs is True
    assert email.can_verify_email is True  # password reset by e-mail, from this server
    assert email.email_app_name == "L'Haÿ 'x' $HOME #1 / %"
    assert email.email_notif_from % {"app": email.email_app_name} == (
        "\"L'Haÿ 'x' $HOME #1 / %\" <ne-pas-repondre@saint-essai.fr>")
    assert email.email_riot_base_url == "https://discussion.saint-essai.fr"


def test_synapse_has_no_email_block_without_messagerie() -> None:
    config = yaml.safe_load(_file(_bundle(base_profile()), "matrix/homeserver.yaml"))
    assert "email" not in config


# --- check's rules (pure) -----------------------------------------------------------------


def test_server_without_curl_is_a_warning_with_the_package_to_install() -> None:
    from kit_collab.apply.scripts import mail
    from kit_collab.check.findings import WARNING
    from kit_collab.check.rules.mail import relay_findings

    script = mail.probe(mail.Relay("smtp.fournisseur.fr", 587, False, "x"))
    done = subprocess.run(["/bin/sh", "-c", script], env={"PATH": "/nonexistent"}, input=b"",
                          capture_output=True, timeout=30, check=False)
    (finding,) = relay_findings(Messagerie.model_validate(RELAY),
                                mail.parse(done.stdout.decode()))
    assert finding.level == WARNING
    assert "curl n'est pas installé" in finding.message
    assert "apt-get install curl" in finding.fix


@pytest.mark.parametrize(("code", "said"), [
    (6, "inconnu du DNS"), (35, "négociation TLS"), (55, "refuse l'expéditeur"),
    (99, "échange inattendu")])
def test_each_relay_failure_has_a_french_sentence_and_a_fix(code: int, said: str) -> None:
    from kit_collab.apply.scripts import mail
    from kit_collab.check.findings import ERROR
    from kit_collab.check.rules.mail import relay_findings

    (finding,) = relay_findings(Messagerie.model_validate(RELAY),
                                mail.parse(f"curl: ({code}) quelque chose\ncurl-exit={code}\n"))
    assert finding.level == ERROR and said in finding.message and finding.fix
    assert f"curl: ({code}) quelque chose" in finding.message


def test_check_without_server_does_not_ask_for_the_relay_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """check --no-server (or a server not reachable yet) renders only for names, ports and
    checks: the password is neither needed nor asked."""
    from kit_collab.cli import given_secrets
    from kit_collab.operations import diagnose

    monkeypatch.delenv("KIT_COLLAB_SMTP_PASSWORD", raising=False)
    given_secrets.install()
    bundle = diagnose._local_bundle(None, Profile.model_validate(_data()), load_recipes())
    assert bundle.hosts


def test_test_message_without_messagerie_section_says_what_to_add() -> None:
    from kit_collab.check.findings import ERROR
    from kit_collab.check.probes.mail import mail_check

    profile = Profile.model_validate(base_profile())
    assert mail_check(None, profile, {}, None) == []  # no section, nothing asked: nothing
    (finding,) = mail_check(None, profile, {}, "secretariat@saint-essai.fr")
    assert finding.level == ERROR
    assert "pas de section messagerie" in finding.message and "relais" in finding.fix


def test_check_envoyer_test_needs_the_server(cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", write_profile(_data()), "--no-server", "--envoyer-test",
                 "secretariat@saint-essai.fr")
    assert result.code == 2, result.text
    assert "--envoyer-test envoie depuis le serveur" in result.text


def test_relay_password_written_in_the_profile_is_refused_with_where_it_goes(
        cli, write_profile) -> None:  # type: ignore[no-untyped-def]
    data = _data()
    data["messagerie"]["mot_de_passe"] = "Ecrit-Dans-Le-Profil"
    result = cli("validate", write_profile(data))
    assert result.code == 2, result.text
    assert "ne s'écrit jamais dans le profil" in result.text
    assert "KIT_COLLAB_SMTP_PASSWORD" in result.text
    assert "Ecrit-Dans-Le-Profil" not in result.text
