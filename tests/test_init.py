"""``kit-collab init``: the questionnaire through a real terminal, its answers checked with the
profile's validators, options for a run without questions, no file ever overwritten."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.errors import InputError
from kit_collab.profile import wizard
from kit_collab.profile.load import load_profile

from .conftest import EXAMPLES, ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
HOSTILE = "L'Haÿ \"x\" <script> $HOME #1: {a}"


class Terminal:
    """A command on a pseudo-terminal: read what it prints, type answers."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.fd = master
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.raw = ""
        self.pos = 0

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the command ended and closed the terminal
            data = b""
        if not data:
            return False
        self.raw += self.decoder.decode(data)
        return True

    def expect(self, wanted: str, timeout: float = 20) -> str:
        """Wait for ``wanted`` after what was already matched; the text up to it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            found = text.find(wanted, self.pos)
            if found >= 0:
                seen, self.pos = text[self.pos:found], found + len(wanted)
                return seen
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                raise AssertionError(f"{wanted!r} never came; the terminal shows:\n"
                                     f"{text[self.pos:]}")

    def answer(self, prompt: str, typed: str) -> str:
        seen = self.expect(prompt)
        os.write(self.fd, typed.encode("utf-8") + b"\r")
        return seen

    def finish(self, timeout: float = 20) -> int:
        """The exit code; a command still running after ``timeout`` is killed (code -9)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0):  # what it printed last
            if not select.select([self.fd], [], [], 0)[0]:
                break
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=10)
        os.close(self.fd)
        return code


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_COLLAB")}
    env.update(NO_COLOR="1", TERM="xterm", COLUMNS="200", LANG="C.UTF-8",
               KIT_COLLAB_LOG_DIR=str(tmp_path / "logs"))
    return env


# (prompt shown, what is typed — "" is Enter, the default —, error shown after it or None)
DIALOGUE = [
    ("Nom de la commune", "L'Haÿ-sur-Test", None),
    ("Domaine de la commune", "pas un domaine",
     "« pas un domaine » n'est pas un nom de domaine valide"),
    ("Domaine de la commune", "lhay-sur-test.fr", None),
    ("(mairie@lhay-sur-test.fr)", "", None),
    ("Services à installer", "nextcloud, visio", "service « visio » inconnu"),
    ("Services à installer", "nextcloud, matrix, jitsi", None),
    ("déjà un site web à l'adresse lhay-sur-test.fr", "peut-être", "répondez oui ou non"),
    ("déjà un site web à l'adresse lhay-sur-test.fr", "non", None),
    ("Adresse du site web de la commune", "www.lhay-sur-test.fr",
     "n'est pas une adresse http(s) valide"),
    ("Adresse du site web de la commune", "https://www.lhay-sur-test.fr", None),
    ("Adresse du serveur", "serveur.lhay-sur-test.fr", None),
    ("Adresse IP publique du serveur", "203.0.113", "n'est pas une adresse IP"),
    ("Adresse IP publique du serveur", "203.0.113.7", None),
    ("Compte SSH sur le serveur", "debian", None),
    ("Hébergeur du serveur", "ovhcloud", None),
    ("Pays du centre de données", "us", "ni dans l'Union européenne ni dans l'EEE"),
    ("Pays du centre de données", "fr", None),
    ("Services municipaux", "Accueil, État civil", None),
    ("Prénom et nom", "Marie Dupont", None),
    ("Identifiant de connexion (mdupont)", "", None),
    ("Adresse e-mail (marie.dupont@lhay-sur-test.fr)", "", None),
    ("Ses services municipaux (séparés par des virgules, ou « aucun ») (accueil, etat-civil)",
     "", None),
    ("Ajouter un autre agent ? [o/n] (n)", "peut-être", "Répondez o (oui) ou n (non)"),
    ("Ajouter un autre agent ?", "o", None),
    ("Prénom et nom", "Jean Martin", None),
    ("Identifiant de connexion (jmartin)", "admin", "réservé à un compte technique"),
    ("Identifiant de connexion (jmartin)", "jmartin", None),
    ("Adresse e-mail", "marie.dupont@lhay-sur-test.fr", "déjà utilisée par un autre agent"),
    ("Adresse e-mail", "", None),
    ("Rôle (agent ou administrateur) (agent)", "", None),
    ("Ses services municipaux", "état civil", None),
    ("Ajouter un autre agent ?", "non", None),
]


def test_questionnaire_through_a_terminal(tmp_path: Path, cli) -> None:
    """Every answer typed at the real prompts, wrong ones corrected, defaults kept with Enter."""
    target = tmp_path / "commune.yaml"
    term = Terminal([sys.executable, "-m", "kit_collab", "init", str(target)], tmp_path,
                    _env(tmp_path))
    try:
        for prompt, typed, error in DIALOGUE:
            term.answer(prompt, typed)
            if error:
                term.expect(error)
        term.expect("Profil écrit")
        term.answer("Préparer la connexion maintenant ?", "n")  # kit-collab acces, later
        term.expect("Plus tard : kit-collab acces")
    finally:
        code = term.finish(timeout=20 if sys.exc_info()[0] is None else 0)
    assert code == 0, term.text

    result = cli("validate", target)
    assert result.code == 0, result.text
    profile = load_profile(target)
    assert profile.commune.nom == "L'Haÿ-sur-Test"
    assert profile.commune.email_contact == "mairie@lhay-sur-test.fr"
    assert (profile.serveur.hote, profile.serveur.ip_publique) == (
        "serveur.lhay-sur-test.fr", "203.0.113.7")
    assert (profile.serveur.utilisateur, profile.serveur.pays) == ("debian", "FR")
    assert profile.services.nextcloud.actif and not profile.services.nextcloud.collabora
    assert profile.services.matrix.actif and profile.services.jitsi.actif
    # No website at the domain: it points at the new server, which sends visitors to www.
    assert profile.services.matrix.identifiants == "domaine-vers-serveur"
    assert profile.services.matrix.site_web == "https://www.lhay-sur-test.fr"
    assert [(s.id, s.nom) for s in profile.services_municipaux] == [
        ("accueil", "Accueil"), ("etat-civil", "État civil")]
    assert [(u.identifiant, u.role, u.services_municipaux) for u in profile.utilisateurs] == [
        ("mdupont", "administrateur", ["accueil", "etat-civil"]),
        ("jmartin", "agent", ["etat-civil"])]
    assert profile.utilisateurs[1].email == "jean.martin@lhay-sur-test.fr"


class Scripted:
    """A Dialog reading answers from a list ("" keeps the default), recording the exchange."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.errors: list[str] = []
        self.asked: list[tuple[str, Any]] = []

    def ask(self, text: str, default: str | None) -> str:
        self.asked.append((text, default))
        value = self.answers.pop(0)
        return default if value == "" and default is not None else value

    def confirm(self, text: str, default: bool) -> bool:
        self.asked.append((text, default))
        return bool(self.answers.pop(0))

    def tell(self, text: str, *, error: bool = False, heading: bool = False) -> None:
        if error:
            self.errors.append(text)


def test_questionnaire_answers_checked_like_the_profile() -> None:
    dialog = Scripted([
        "x" * 101, HOSTILE,  # too long for commune.nom, then a hostile but valid name
        "Mairie.fr", "", "collabora", "collabora nextcloud jitsi",
        "local", "", "203.0.113.9", "Root", "root", "scaleway", "DE",
        "1er étage", "accueil=Accueil, etage1=1er étage, accueil=Encore",
        "Accueil, etage1=1er étage", "", "secretariat", "", "", False])
    answers = wizard.collect(dialog)
    assert dialog.answers == []
    assert dialog.errors[0] == "texte trop long (au plus 100 caractères)"
    assert "Collabora a besoin de Nextcloud" in dialog.errors[1]
    assert dialog.errors[2] == "«  » n'est pas une adresse IP"  # no default: Enter is refused
    assert any("compte SSH" in e for e in dialog.errors)
    assert any("« 1er-etage »" in e for e in dialog.errors)
    assert any("donné deux fois" in e for e in dialog.errors)
    assert answers["domaine"] == "mairie.fr"  # normalised as the profile does
    assert answers["services"] == ("nextcloud", "collabora", "jitsi")
    assert answers["ip_publique"] == "203.0.113.9"
    user = answers["utilisateurs"][0]
    assert (user["nom"], user["identifiant"], user["email"]) == (
        "Secrétariat de mairie", "secretariat", "mairie@mairie.fr")
    text = wizard.profile_text(answers, None)
    profile = wizard.check_text(text, "commune.yaml")
    assert profile.commune.nom == HOSTILE
    assert yaml.safe_load(text)["commune"]["nom"] == HOSTILE
    assert profile.utilisateurs[0].services_municipaux == ["accueil", "etage1"]


def test_every_key_is_commented_and_schema_path_resolves(tmp_path: Path) -> None:
    answers = wizard.collect(None, {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                                    "hote": "192.0.2.10", "hebergeur": "ovhcloud"})
    for folder in (EXAMPLES, tmp_path / "a" / "b"):
        ref = wizard.schema_reference(folder / "commune.yaml")
        assert ref is not None
        assert (folder / ref).resolve() == ROOT / "schema" / "profil.schema.json"
    assert wizard.schema_reference(EXAMPLES / "x.yaml") == "../schema/profil.schema.json"
    text = wizard.profile_text(answers, "../schema/profil.schema.json")
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=../schema/profil.schema.json"
    settings = lines[:lines.index("services_municipaux:") - 2]  # lists: one comment above
    keys = [i for i, line in enumerate(settings) if re.match(r"^\s+[a-z_]+: \S", line)]
    assert len(keys) >= 20
    for i in keys:
        assert lines[i - 1].lstrip().startswith("#"), f"no comment above: {lines[i]}"
    for block in ("services_municipaux:", "utilisateurs:"):
        assert lines[lines.index(block) - 1].startswith("#")


def test_without_questions_options_and_defaults(cli, tmp_path: Path) -> None:
    target = tmp_path / "commune.yaml"
    result = cli("init", target, "--non-interactif", "--nom", HOSTILE, "--domaine",
                 "saint-essai.fr", "--hote", "192.0.2.10", "--hebergeur", "ovhcloud",
                 "--services", "nextcloud,matrix,jitsi", "--services-municipaux",
                 "Accueil, État civil", "--admin-nom", "Marie Dupont")
    assert result.code == 0, result.text
    assert "Profil écrit" in result.out
    assert cli("validate", target).code == 0
    profile = load_profile(target)
    assert profile.commune.nom == HOSTILE
    assert profile.commune.email_contact == "mairie@saint-essai.fr"
    assert (profile.serveur.pays, profile.serveur.utilisateur) == ("FR", "root")
    assert not profile.services.nextcloud.collabora
    assert [(u.identifiant, u.role, u.services_municipaux) for u in profile.utilisateurs] == [
        ("mdupont", "administrateur", ["accueil", "etat-civil"])]
    assert "$HOME" in target.read_text(encoding="utf-8")


def test_missing_required_option_is_named(cli, tmp_path: Path) -> None:
    result = cli("init", tmp_path / "c.yaml", "--yes", "--nom", "Saint-Essai", "--domaine",
                 "saint-essai.fr", "--hote", "serveur.saint-essai.fr", "--hebergeur", "ovh")
    assert result.code == 2
    assert "--ip-publique" in result.err and "Traceback" not in result.text
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--domaine", "pas un domaine", "n'est pas un nom de domaine valide"),
    ("--email", "mairie", "n'est pas une adresse e-mail valide"),
    ("--pays", "USA", "code pays à deux lettres"),
    ("--pays", "CH", "ni dans l'Union européenne"),
    ("--services", "nextcloud,visio", "service « visio » inconnu"),
    ("--hote", "serveur_1", "ni une adresse IP ni un nom de serveur"),
    ("--admin-identifiant", "Marie", "un identifiant commence par une lettre minuscule"),
    ("--admin-identifiant", "admin", "réservé"),
    ("--services-municipaux", "1er", "id de service municipal"),
    ("--nom", "ligne\nsuivante", "caractère de contrôle"),
])
def test_invalid_option_exits_2_naming_it(cli, tmp_path: Path, option: str, value: str,
                                          said: str) -> None:
    args = {"--nom": "Saint-Essai", "--domaine": "saint-essai.fr", "--hote": "192.0.2.10",
            "--hebergeur": "ovhcloud", option: value}
    flat = [x for pair in args.items() for x in pair]
    for mode in ("--non-interactif", None):  # checked before any question is asked
        result = cli("init", tmp_path / "c.yaml", *flat, *([mode] if mode else []))
        assert result.code == 2, result.text
        assert f"{option} : " in result.err and said in result.err, result.err
        assert not (tmp_path / "c.yaml").exists()


def test_never_overwrites_without_force(cli, tmp_path: Path) -> None:
    target = tmp_path / "commune.yaml"
    target.write_text("# mon profil\n", encoding="utf-8")
    args = ["--yes", "--nom", "Saint-Essai", "--domaine", "saint-essai.fr", "--hote",
            "192.0.2.10", "--hebergeur", "ovhcloud"]
    result = cli("init", target, *args)
    assert result.code == 2
    assert "existe déjà" in result.err and "--force" in result.err
    assert target.read_text(encoding="utf-8") == "# mon profil\n"
    result = cli("init", target, *args, "--force")
    assert result.code == 0, result.text
    assert load_profile(target).commune.nom == "Saint-Essai"
    assert cli("init", tmp_path, *args).code == 2  # a folder is not a profile
    assert cli("init", tmp_path / "absent" / "c.yaml", *args).code == 2


def test_input_ending_early_is_an_input_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kit_collab", "init", "c.yaml"], cwd=tmp_path,
                          input="Saint-Essai\n", capture_output=True, text=True, timeout=60,
                          env=_env(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--non-interactif" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c.yaml").exists()


def test_option_keys_match_the_questions() -> None:
    assert wizard.option_keys() == [
        "nom", "domaine", "email", "services", "hote", "ip_publique", "utilisateur_ssh",
        "hebergeur", "pays", "services_municipaux", "admin_nom", "admin_identifiant",
        "admin_email"]
    with pytest.raises(InputError):
        wizard.check_options({"pays": "ZZZ"})


class ByQuestion(Scripted):
    """Answers chosen by a word of the question; Enter (the default) for the others."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__([])
        self.replies = replies

    def ask(self, text: str, default: str | None) -> str:
        self.asked.append((text, default))
        reply = next((r for word, r in self.replies.items() if word in text), "")
        return default if reply == "" and default is not None else reply

    def confirm(self, text: str, default: bool) -> bool:
        self.asked.append((text, default))
        return False


def test_www_domain_is_questioned_and_dropped_on_no() -> None:
    # Issue 15, item 3: "www.Saint-Etienne-du-Gres.fr is accepted silently (every address
    # becomes cloud.www.…, Matrix identifiers @x:www.… forever)".
    dialog = ByQuestion({"Nom de la commune": "Saint-Étienne-du-Grès",
                         "Domaine de la commune": "https://www.Saint-Etienne-du-Gres.fr/",
                         "www.": "non", "Adresse du serveur": "203.0.113.9",
                         "Hébergeur": "scaleway", "Nom de l": "Marie Dupont"})
    answers = wizard.collect(dialog)
    asked = [text for text, _default in dialog.asked]
    www = next(t for t in asked if "pour toujours" in t)
    assert "cloud.www.saint-etienne-du-gres.fr" in www
    assert answers["domaine"] == "saint-etienne-du-gres.fr"
    profile = wizard.check_text(wizard.profile_text(answers, None), "commune.yaml")
    assert profile.commune.domaine == "saint-etienne-du-gres.fr"
