"""The Nextcloud recipe against what the pinned image does (nextcloud/docker 34.0.2,
34/apache/entrypoint.sh and Dockerfile; redis 7.4 docker-entrypoint.sh): each break found on a
real server (issue 14 items 1, 3, 6, 7, 9; issue 13 item 11) pinned by a test named after it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit_collab.bundle import render

from .conftest import base_profile
from .test_recipe_jitsi import load_kit_recipes, read_env, recipe_file, render_into, render_only
from .validators import caddy_adapt, compose_config

HOOKS = "/docker-entrypoint-hooks.d/before-starting/"
HTML = "/var/www/html"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[render.Bundle, Path]:
    recipes = load_kit_recipes(tmp_path_factory)
    out = tmp_path_factory.mktemp("nextcloud")
    return render_into(recipes, base_profile(), out), out


def services(rendered: tuple[render.Bundle, Path]) -> dict[str, Any]:
    bundle, out = rendered
    return compose_config(out / bundle.release_dir / "compose.yaml")["services"]


def volumes(service: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service.get("volumes", []))


def test_config_is_never_mounted_into_the_html_volume(rendered) -> None:
    """Docker made config/ root-owned and non-empty before the entrypoint, which then never
    seeded it: Nextcloud never installed on a fresh volume (nextcloud/docker #957)."""
    for name, svc in services(rendered).items():
        for vol in volumes(svc):
            target = vol["target"]
            assert target == HTML or not target.startswith(HTML + "/"), (name, target)


def test_before_starting_hook_copies_the_config_into_config_dir(rendered) -> None:
    bundle, _ = rendered
    nextcloud = services(rendered)["nextcloud"]
    binds = {v["target"]: v for v in volumes(nextcloud) if v["type"] == "bind"}
    hooks = [t for t in binds if t.startswith(HOOKS)]
    assert len(hooks) == 1 and hooks[0].endswith(".sh")  # run_path: *.sh, executable
    hook_file = next(f for f in bundle.files if f.path.endswith("/nextcloud/kit-collab-config.sh"))
    assert hook_file.mode == 0o755
    script = hook_file.content.decode()
    source = next(t for t in binds if t.endswith("/kit-collab.config.php"))
    assert not source.startswith(HTML) and binds[source].get("read_only")
    assert f"src={source}\n" in script
    assert f"dest={HTML}/config/kit-collab.config.php\n" in script


def test_before_starting_hook_runs_and_replaces_the_file(rendered, tmp_path: Path) -> None:
    """The rendered hook, run with its two paths moved under a temporary folder."""
    bundle, _ = rendered
    script = recipe_file(bundle, "nextcloud", "kit-collab-config.sh")
    src, config = tmp_path / "src.php", tmp_path / "config"
    config.mkdir()
    src.write_text("<?php $CONFIG = array();\n")
    (config / "kit-collab.config.php").write_text("old")
    script = re.sub(r"^src=.*$", f"src={src}", script, flags=re.M)
    script = re.sub(r"^dest=/var/www/html/config", f"dest={config}", script, flags=re.M)
    subprocess.run(["sh", "-c", script], check=True, capture_output=True, timeout=10)
    assert (config / "kit-collab.config.php").read_text() == src.read_text()
    assert sorted(p.name for p in config.iterdir()) == ["kit-collab.config.php"]


def _health(test: list[str], status: str, tmp_path: Path) -> int:
    """Run a healthcheck's shell command with a fake curl printing ``status``."""
    assert test[0] == "CMD-SHELL"
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "curl").write_text(f"#!/bin/sh\ncat <<'EOF'\n{status}\nEOF\n")
    (fake / "curl").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    return subprocess.run(["sh", "-c", test[1]], env=env, timeout=10).returncode


def test_nextcloud_has_a_healthcheck_installed_and_not_in_maintenance(rendered,
                                                                     tmp_path: Path) -> None:
    """Without it, `up --wait` returned while the entrypoint was still installing and the tasks
    ran against a half-installed Nextcloud."""
    check = services(rendered)["nextcloud"]["healthcheck"]
    assert "curl" in check["test"][1] and "/status.php" in check["test"][1]
    real = ('{"installed":true,"maintenance":false,"needsDbUpgrade":false,'
            '"version":"34.0.2.0","versionstring":"34.0.2"}')
    assert _health(check["test"], real, tmp_path) == 0
    assert _health(check["test"], '{"installed": true, "maintenance": false}', tmp_path) == 0
    assert _health(check["test"], '{"installed":false,"maintenance":false}', tmp_path) != 0
    assert _health(check["test"], '{"installed":true,"maintenance":true}', tmp_path) != 0
    # A small server copies and installs for minutes: failures then do not count.
    start = check["start_period"]
    assert start in ("15m0s", "15m") or start == 900_000_000_000


def test_cron_starts_only_once_nextcloud_is_healthy(rendered) -> None:
    cron = services(rendered)["nextcloud-cron"]
    assert cron["depends_on"]["nextcloud"]["condition"] == "service_healthy"
    assert cron["entrypoint"] == ["/cron.sh"]


def test_redis_runs_through_its_own_entrypoint_not_sh_c(rendered) -> None:
    """`sh -c` as command kept redis-server as root: the image's docker-entrypoint.sh drops to
    the redis user only for redis-server (a first argument ending in .conf becomes one)."""
    redis = services(rendered)["nextcloud-redis"]
    assert not redis.get("entrypoint")
    command = redis["command"]
    assert command[0].endswith(".conf") and "sh" not in command
    conf = {v["target"]: v for v in volumes(redis)}[command[0]]
    assert conf["read_only"]


def test_redis_password_never_on_a_command_line(rendered) -> None:
    """`redis-cli -a <password>` every 5 s was readable by any account in /proc."""
    bundle, _ = rendered
    redis = services(rendered)["nextcloud-redis"]
    password = read_env(recipe_file(bundle, "nextcloud", "nextcloud.env"))["REDIS_HOST_PASSWORD"]
    words = [*redis["command"], *redis["healthcheck"]["test"]]
    assert not any(password in w for w in words)
    assert not any(re.search(r"(^|\s)-a(\s|$)", w) for w in words)
    assert redis["environment"] == {"REDISCLI_AUTH": password}
    conf = recipe_file(bundle, "nextcloud", "redis.conf")
    assert f"requirepass {password}\n" in conf
    spec = next(f for f in bundle.files if f.path.endswith("/nextcloud/redis.conf"))
    assert spec.mode == 0o640 and spec.owner == "0:999"  # the image's redis group


def test_each_service_gets_only_its_own_secrets(rendered) -> None:
    bundle, _ = rendered
    env = read_env(recipe_file(bundle, "nextcloud", "nextcloud.env"))
    svc = services(rendered)
    assert set(svc["nextcloud-redis"]["environment"]) == {"REDISCLI_AUTH"}
    assert set(svc["nextcloud-db"]["environment"]) == {
        "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
    cron = svc["nextcloud-cron"]["environment"]
    assert cron["REDIS_HOST_PASSWORD"] == env["REDIS_HOST_PASSWORD"]
    assert not {"POSTGRES_PASSWORD", "NEXTCLOUD_ADMIN_PASSWORD"} & set(cron)
    for name in ("nextcloud.env", "nextcloud-cron.env", "postgres.env", "redis.env"):
        spec = next(f for f in bundle.files if f.path.endswith(f"/nextcloud/{name}"))
        assert spec.mode == 0o600, name


def _bytes(text: str) -> int:
    """PHP shorthand (10G), Caddy sizes (10GiB, 10GB) or a plain number, in bytes."""
    m = re.fullmatch(r"(\d+)\s*([KMG]?)(i?B)?", text.strip())
    assert m, text
    number, unit, suffix = int(m[1]), m[2], m[3]
    base = 1000 if suffix == "B" and unit else 1024
    return number * base ** " KMG".index(unit or " ")


def _max_size(adapted: Any) -> list[int]:
    found: list[int] = []
    if isinstance(adapted, dict):
        if adapted.get("handler") == "request_body" and "max_size" in adapted:
            found.append(int(adapted["max_size"]))
        for v in adapted.values():
            found += _max_size(v)
    elif isinstance(adapted, list):
        for v in adapted:
            found += _max_size(v)
    return found


@pytest.mark.validators
def test_uploads_over_1_gib_are_not_cut_by_apache(rendered) -> None:
    """APACHE_BODY_LIMIT defaults to 1 GiB in the image while PHP and the proxy allowed 10:
    the three limits are one number."""
    bundle, out = rendered
    env = services(rendered)["nextcloud"]["environment"]
    php = _bytes(env["PHP_UPLOAD_LIMIT"])
    assert php >= 10 * 1024**3
    assert int(env["APACHE_BODY_LIMIT"]) == php
    cloud = bundle.hosts["nextcloud"]["cloud"]
    routes = [r for s in caddy_adapt(out)["apps"]["http"]["servers"].values()
              for r in s.get("routes", [])
              if any(cloud in m.get("host", []) for m in r.get("match", []))]
    assert set(_max_size(routes)) == {php}


def test_calendar_contacts_and_deck_are_installed_by_tasks() -> None:
    """The agents' sheets promise calendars and contacts; the server does not ship them."""
    data = base_profile()
    tasks = {t.name: t for t in render_only(_recipes(), data).tasks if t.recipe == "nextcloud"}
    for name, app in (("agendas", "calendar"), ("contacts", "contacts"), ("deck", "deck")):
        task = tasks[name]
        assert task.service == "nextcloud" and task.user == "33"
        assert task.argv == ("sh", "-c", f"php occ app:install {app} || php occ app:enable {app}")


def test_app_tasks_are_idempotent_and_fail_when_the_store_is_unreachable(
        tmp_path: Path) -> None:
    task = next(t for t in render_only(_recipes(), base_profile()).tasks if t.name == "agendas")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "php").write_text('#!/bin/sh\ncase "$2" in app:install) exit "$I";; '
                              'app:enable) exit "$E";; esac\n')
    (fake / "php").chmod(0o755)

    def run(install: int, enable: int) -> int:
        env = {"PATH": f"{fake}:/usr/bin:/bin", "I": str(install), "E": str(enable)}
        return subprocess.run(list(task.argv), env=env, timeout=10).returncode

    assert run(0, 1) == 0 and run(1, 0) == 0 and run(1, 1) != 0


_CACHE: list[Any] = []


def _recipes() -> Any:
    if not _CACHE:
        from kit_collab.recipes.load import load_recipes

        _CACHE.append(load_recipes())
    return _CACHE[0]
