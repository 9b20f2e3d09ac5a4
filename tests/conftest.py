"""Shared fixtures: the CLI run in-process, profile builders, external validators."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# One id per test run: every Docker name, compose project, loopback address and system user
# the tests create carries it, so that two runs on one machine never meet (see dockerbed.py).
# In the environment, so that the kit-collab processes the tests start see the same one.
RUN_ID = os.environ.setdefault("KIT_COLLAB_TEST_RUN", uuid.uuid4().hex[:8])
if not re.fullmatch(r"[0-9a-f]{1,8}", RUN_ID):
    raise RuntimeError(f"KIT_COLLAB_TEST_RUN={RUN_ID!r}: expected 1 to 8 hexadecimal digits")


def _loopback(run: str) -> str:
    """127.a.b.c from the run id: Linux routes all of 127/8 to the loopback interface."""
    digest = hashlib.sha256(run.encode()).digest()
    return f"127.{20 + digest[0] % 200}.{digest[1]}.{1 + digest[2] % 254}"


# This run's own loopback address: what the tests publish on fixed ports (the proxy's 80/443,
# coturn's 3478) listens there, so that another run's listeners never take them.
RUN_HOST = _loopback(RUN_ID)

BASE_PROFILE: dict[str, Any] = {
    "commune": {"nom": "Saint-Essai", "domaine": "saint-essai.fr",
                "email_contact": "mairie@saint-essai.fr"},
    "serveur": {"hote": "192.0.2.10", "hebergeur": "ovhcloud", "pays": "FR"},
    "services": {"nextcloud": {"actif": True}, "matrix": {"actif": True},
                 "jitsi": {"actif": True}},
    "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
    "utilisateurs": [{"identifiant": "mdupont", "nom": "Marie Dupont",
                      "email": "marie@saint-essai.fr", "role": "administrateur",
                      "services_municipaux": ["accueil"]}],
}


@pytest.fixture(autouse=True, scope="session")
def _own_config_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """kit-collab's own known_hosts and logs land in the test session's directories, never in
    the home of whoever runs the tests (a test that needs its own sets them again)."""
    base = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(base / "config"))
        patch.setenv("XDG_STATE_HOME", str(base / "state"))
        yield


def base_profile() -> dict[str, Any]:
    return copy.deepcopy(BASE_PROFILE)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Callable[..., Result]:
    """Run the CLI in this process; returns exit code and captured output."""
    from kit_collab.cli.app import run

    monkeypatch.setenv("KIT_COLLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("KIT_COLLAB_LANG", raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[..., Path]:
    """Write a profile (dict or raw text) to a file and return its path."""

    def write(data: dict[str, Any] | str | bytes, name: str = "commune.yaml") -> Path:
        path = tmp_path / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                            encoding="utf-8")
        return path

    return write


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return path
