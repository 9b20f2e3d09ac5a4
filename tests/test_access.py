"""``kit-collab acces`` (issue 15, "first contact with a server") against a real OpenSSH server
on loopback that accepts a password, as a hosting provider hands a server over: the key made
on this machine, the host key confirmed and recorded, the key installed for an account
kit-collab creates with passwordless sudo, key login proven by a new connection, then password
login closed and refused by that sshd; the password in no output, log file or process command
line; a configuration ``sshd -t`` rejects leaves password login as it was."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from kit_collab.apply import first_contact as fc
from kit_collab.apply.hostkeys import read_known
from kit_collab.apply.scripts.first_contact import DROPIN
from kit_collab.apply.transport import connect
from kit_collab.errors import DeployError
from kit_collab.operations import access
from kit_collab.profile.load import load_profile

from .sshd import ProviderServer, provider_server

SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with provider_server() as srv:
        yield srv


class CommandLines(threading.Thread):
    """Every distinct process command line of this machine, read from /proc every few ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.sweeps = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                        self.seen.add(f.read())
            self.sweeps += 1
            time.sleep(0.002)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(SRC)}
    full.pop("SSH_AUTH_SOCK", None)
    return subprocess.run([sys.executable, "-m", "kit_collab", *args], env=full, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def _profile(tmp_path: Path, srv: ProviderServer, env: dict[str, str]) -> Path:
    """The profile as ``kit-collab init`` writes it (with its comments), for this sshd."""
    path = tmp_path / "commune.yaml"
    done = _cli(["init", str(path), "--non-interactif", "--nom", "Saint-Essai",
                 "--domaine", "saint-essai.fr", "--hote", srv.sshd.host, "--hebergeur", "test",
                 "--utilisateur-ssh", srv.agent], env)
    assert done.returncode == 0, done.stdout + done.stderr
    text = path.read_text("utf-8")
    assert "  port_ssh: 22\n" in text and "  # cle_ssh: ~/.ssh/id_ed25519\n" in text
    path.write_text(text.replace("  port_ssh: 22\n", f"  port_ssh: {srv.sshd.port}\n"), "utf-8")
    return path


def _env(tmp_path: Path, srv: ProviderServer) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "KIT_COLLAB_KNOWN_HOSTS": str(tmp_path / "known_hosts"),
            "KIT_COLLAB_LOG_DIR": str(tmp_path / "logs"), "KIT_COLLAB_LANG": "fr",
            access.SSHD_CONFIG_ENV: str(srv.config), "XDG_STATE_HOME": str(tmp_path / "state")}


def _password_login(srv: ProviderServer) -> str:
    """What the sshd answers to the provider's password now, from a new connection."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 (test probe)
    try:
        client.connect(srv.sshd.host, port=srv.sshd.port, username=srv.user,
                       password=srv.password, allow_agent=False, look_for_keys=False,
                       timeout=10)
    except paramiko.BadAuthenticationType as exc:
        return "refused, methods: " + ",".join(exc.allowed_types)
    except paramiko.AuthenticationException:
        return "refused"
    finally:
        client.close()
    return "accepted"


def test_first_contact_from_a_provider_password_to_key_only_login(
        server: ProviderServer, tmp_path: Path) -> None:
    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    assert _password_login(server) == "accepted"
    watch = CommandLines()
    watch.start()
    try:
        done = _cli(["--verbose", "acces", str(path), "--compte", server.user,
                     "--creer-compte", "--mot-de-passe-stdin", "--accept-host-key",
                     server.sshd.fingerprint], env, stdin=server.password + "\n")
    finally:
        watch.stop()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # 1. the key, made on this machine, 0600, named in the profile (comments kept)
    key = Path(env["HOME"]) / ".ssh" / "id_ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = path.read_text("utf-8")
    assert "\n  cle_ssh: ~/.ssh/id_ed25519\n" in text and "# cle_ssh:" not in text
    assert "# Compte SSH" in text or "#" in text.split("serveur:")[1].split("cle_ssh")[0]
    # 2. the host key recorded: known_hosts and pinned in the profile
    profile = load_profile(path)
    assert profile.serveur.empreinte_hote == server.sshd.fingerprint
    known = read_known(Path(env["KIT_COLLAB_KNOWN_HOSTS"]), f"[127.0.0.1]:{server.sshd.port}"
                       if server.sshd.host == "127.0.0.1" else
                       f"[{server.sshd.host}]:{server.sshd.port}")
    assert len(known) == 1
    # 3. the account created with passwordless sudo, the key installed once
    home = Path(f"/home/{server.agent}")
    authorized = (home / ".ssh" / "authorized_keys").read_text()
    assert authorized.count(key.with_name("id_ed25519.pub").read_text().split()[1]) == 1
    assert Path(f"/etc/sudoers.d/kit-collab-{server.agent}").exists()
    # 4. password login closed: the drop-in read before cloud-init's, the sshd refuses
    assert (server.dropins / DROPIN).read_text().startswith("# kit-collab")
    assert _password_login(server) == "refused, methods: publickey"
    # the key works, as root through sudo, for every later command
    keyed = profile.serveur.model_copy(update={"cle_ssh": str(key)})
    with connect(keyed, known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"])) as transport:
        assert transport.run("id -u").stdout.strip() == b"0"
    for said in ("Clé SSH créée", "Compte « " + server.agent, "Connexion par clé vérifiée",
                 "Connexion par mot de passe fermée"):
        assert said in output, output
    # the password: in no output, log file or command line (and the poller did look)
    assert watch.sweeps > 20
    secret = server.password.encode()
    assert not [line for line in watch.seen if secret in line]
    assert "DEBUG:paramiko" in output  # --verbose: paramiko's own log lines were shown
    assert server.password not in output
    for folder in (tmp_path / "logs", tmp_path / "state", server.sshd.root):
        for file in folder.rglob("*") if folder.exists() else ():
            if file.is_file():
                assert secret not in file.read_bytes(), file


def test_runs_again_install_the_key_once_then_say_password_login_is_already_closed(
        server: ProviderServer, tmp_path: Path) -> None:
    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    args = ["acces", str(path), "--compte", server.user, "--creer-compte",
            "--mot-de-passe-stdin", "--accept-host-key", server.sshd.fingerprint]
    first = _cli([*args, "--garder-mot-de-passe"], env, stdin=server.password + "\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "reste ouverte" in first.stdout and _password_login(server) == "accepted"
    second = _cli(args, env, stdin=server.password + "\n")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Clé SSH utilisée" in second.stdout and "déjà installée" in second.stdout
    authorized = Path(f"/home/{server.agent}/.ssh/authorized_keys").read_text()
    assert len(authorized.splitlines()) == 1
    third = _cli(args, env, stdin=server.password + "\n")
    assert third.returncode == 3, third.stdout + third.stderr
    assert "n'accepte pas de mot de passe" in third.stderr
    assert "déjà fermée" in third.stderr and server.password not in third.stderr


class _Answers:
    """The questions answered as a script would, the steps kept."""

    host_key = None

    def __init__(self, password: str) -> None:
        self._password = password
        self.told: list[str] = []

    def password(self, question: str) -> fc.Password:
        return fc.Password(self._password)

    def confirm(self, question: str, default: bool) -> bool:
        return True

    def tell(self, text: str) -> None:
        self.told.append(text)


def test_a_configuration_sshd_rejects_keeps_password_login_and_the_key(
        server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The server's own configuration is already broken (sshd keeps running on the old one):
    # a reload would stop sshd, so nothing may be reloaded and password login must stay.
    (server.dropins / "60-casse.conf").write_text("OptionInconnue oui\n")
    opts = access.Options(account=server.user, create_account=True,
                          accept_host_key=server.sshd.fingerprint,
                          known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"]),
                          sshd_config=str(server.config))
    answers = _Answers(server.password)
    with pytest.raises(DeployError) as caught:
        access.first_contact(path, answers, opts)
    message = caught.value.message
    assert "sshd -t" in message and "configuration SSH existante" in message
    assert "la connexion par mot de passe reste ouverte" in message
    assert server.password not in message + (caught.value.hint or "")
    assert not (server.dropins / DROPIN).exists()
    assert _password_login(server) == "accepted"
    keyed = load_profile(path).serveur
    with connect(keyed, known_hosts_file=opts.known_hosts_file) as transport:
        assert transport.run("true").ok
    assert server.sshd.proc is not None and server.sshd.proc.poll() is None


def test_a_setting_read_before_the_drop_in_is_reported_and_undone(
        server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A main configuration that sets the value before its Include: the first value wins.
    server.config.write_text("PasswordAuthentication yes\n" + server.config.read_text())
    opts = access.Options(account=server.user, create_account=True,
                          accept_host_key=server.sshd.fingerprint,
                          known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"]),
                          sshd_config=str(server.config))
    with pytest.raises(DeployError) as caught:
        access.first_contact(path, _Answers(server.password), opts)
    assert "un autre réglage l'emporte" in caught.value.message
    assert "passwordauthentication yes" in caught.value.message
    assert not (server.dropins / DROPIN).exists()
    assert _password_login(server) == "accepted"


def test_every_question_is_asked_on_the_terminal_and_the_password_is_not_echoed(
        server: ProviderServer, tmp_path: Path) -> None:
    """The secretary's way, on a terminal: the host key shown and confirmed with « o », the
    password typed without echo (getpass), the account created after a question, password
    login closed after another. (``init`` offers this same command at its end:
    tests/test_init.py answers its question.)"""
    from .test_init import Terminal

    env = {**os.environ, **_env(tmp_path, server), "PYTHONPATH": str(SRC), "NO_COLOR": "1",
           "TERM": "xterm", "COLUMNS": "200", "LANG": "C.UTF-8"}
    env.pop("SSH_AUTH_SOCK", None)
    env.pop("CI", None)
    path = _profile(tmp_path, server, env)
    term = Terminal([sys.executable, "-m", "kit_collab", "acces", str(path), "--compte",
                     server.user], tmp_path, env)
    try:
        term.expect(server.sshd.fingerprint)
        term.answer("Faire confiance à cette clé ?", "o")
        term.answer(f"Mot de passe du compte « {server.user} »", server.password)
        term.answer(f"Le compte « {server.agent} » n'existe pas", "o")
        term.answer("Fermer la connexion SSH par mot de passe", "o")
        term.expect("Connexion par mot de passe fermée")
    finally:
        code = term.finish(timeout=60 if sys.exc_info()[0] is None else 0)
    assert code == 0, term.text
    assert server.password not in term.text  # typed without echo
    assert _password_login(server) == "refused, methods: publickey"
    assert load_profile(path).serveur.empreinte_hote == server.sshd.fingerprint


def test_when_the_key_stops_working_after_the_reload_password_login_comes_back(
        server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never lock the user out: a setting the running sshd has not read yet (key login off)
    takes effect with the reload; the key no longer gets in, so kit-collab reopens password
    login through the session it kept open."""
    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (server.dropins / "01-plus-de-cle.conf").write_text("PubkeyAuthentication no\n")
    opts = access.Options(account=server.user, create_account=True,
                          accept_host_key=server.sshd.fingerprint,
                          known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"]),
                          sshd_config=str(server.config))
    with pytest.raises(DeployError) as caught:
        access.first_contact(path, _Answers(server.password), opts)
    assert "la clé n'entrait plus" in caught.value.message
    assert "la connexion par mot de passe a été rouverte" in caught.value.message
    assert not (server.dropins / DROPIN).exists()
    assert _password_login(server) == "accepted"


def test_an_existing_account_without_passwordless_sudo_is_given_it_when_asked(
        server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .sshd import ensure_user

    env = _env(tmp_path, server)
    path = _profile(tmp_path, server, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ensure_user(server.agent)  # removed by the fixture, with the rule kit-collab adds
    opts = access.Options(account=server.user, accept_host_key=server.sshd.fingerprint,
                          known_hosts_file=Path(env["KIT_COLLAB_KNOWN_HOSTS"]),
                          sshd_config=str(server.config))
    answers = _Answers(server.password)
    access.first_contact(path, answers, opts)
    assert f"sudo sans mot de passe donné au compte « {server.agent} »" in answers.told
    assert Path(f"/etc/sudoers.d/kit-collab-{server.agent}").exists()
    assert any(t.startswith("Connexion par clé vérifiée (") for t in answers.told)
