"""The Nextcloud and Collabora stand-ins (tests/e2e/images/standin) behave as the upstream
images do where the deployment depends on it (tests/e2e/README.md, "Stand-ins"): built here
under per-run tags from the e2e bed's base image, run next to the bed's real PostgreSQL and
Redis images, each behaviour asserted. The kce2e base images come from the e2e session
(build_images.py, through the ``e2e_images`` fixture); marked e2e (about a minute), run by
CI with the rest of tests/e2e."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit_collab.bundle.make import make_bundle
from kit_collab.bundle.secrets import SYSTEM
from kit_collab.profile.model import Profile
from kit_collab.recipes.load import load_recipes
from tests.conftest import RUN_ID, base_profile

pytestmark = pytest.mark.e2e

STANDIN = Path(__file__).parent / "images" / "standin"
REDIS = Path(__file__).parent / "images" / "redis"
PREFIX = f"kctest-{RUN_ID}"
HEALTH: list[str] = []  # the rendered nextcloud healthcheck
PASSWORDS = {"db": "DbPass1234567890", "admin": "AdminPass1234567", "redis": "RedisPass1234567"}


def docker(*args: str, check: bool = True,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=timeout)


def build(tag: str, context: Path, dockerfile: str, **args: str) -> str:
    extra = [x for k, v in args.items() for x in ("--build-arg", f"{k}={v}")]
    docker("build", "-q", "-t", tag, "-f", str(context / dockerfile), *extra, str(context))
    return tag


@pytest.fixture(scope="module")
def standins(e2e_images: None,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    for base in ("kce2e/rootfs-base", "kce2e/postgres"):  # built by the e2e_images fixture
        assert docker("image", "inspect", base, check=False).returncode == 0, base
    images = {
        "nc34": build(f"{PREFIX}-nextcloud:34", STANDIN, "Dockerfile.nextcloud",
                      NEXTCLOUD_VERSION="34.0.2"),
        "nc35": build(f"{PREFIX}-nextcloud:35", STANDIN, "Dockerfile.nextcloud",
                      NEXTCLOUD_VERSION="35.0.0"),
        "nc36": build(f"{PREFIX}-nextcloud:37", STANDIN, "Dockerfile.nextcloud",
                      NEXTCLOUD_VERSION="37.0.0"),
        "code": build(f"{PREFIX}-collabora:1", STANDIN, "Dockerfile.collabora"),
        "redis": build(f"{PREFIX}-redis:1", REDIS, "Dockerfile"),
    }
    network = f"{PREFIX}-nc"
    docker("network", "create", network)
    state: dict[str, Any] = {"images": images, "network": network, "containers": [],
                             "volumes": [], "tmp": tmp_path_factory.mktemp("standin")}
    try:
        files = rendered_nextcloud(state["tmp"])
        state["files"] = files
        run(state, "db", "kce2e/postgres", env={"POSTGRES_DB": "nextcloud",
                                                "POSTGRES_USER": "nextcloud",
                                                "POSTGRES_PASSWORD": PASSWORDS["db"]})
        run(state, "redis", images["redis"], "/usr/local/etc/redis/redis.conf",
            volumes=[f"{files['redis.conf']}:/usr/local/etc/redis/redis.conf:ro"])
        yield state
    finally:
        for cid in state["containers"]:
            docker("rm", "-f", cid, check=False)
        for vol in state["volumes"]:
            docker("volume", "rm", "-f", vol, check=False)
        docker("network", "rm", network, check=False)
        for tag in images.values():
            docker("rmi", "-f", tag, check=False)


def rendered_nextcloud(tmp: Path) -> dict[str, str]:
    """The recipe's hook, config and redis.conf, rendered and written as the server has them."""
    bundle = make_bundle(Profile.model_validate(base_profile()), load_recipes(), draw=SYSTEM,
                         secrets={"nextcloud": {"db_password": PASSWORDS["db"],
                                                "admin_password": PASSWORDS["admin"],
                                                "redis_password": PASSWORDS["redis"]}}).bundle
    compose = yaml.safe_load(bundle.file(f"{bundle.release_dir}/nextcloud/compose.yaml").content)
    test = compose["services"]["nextcloud"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    HEALTH[:] = [test[1].replace("$$", "$")]
    out = {}
    for name in ("kit-collab-config.sh", "kit-collab.config.php", "redis.conf"):
        spec = bundle.file(f"{bundle.release_dir}/nextcloud/{name}")
        path = tmp / name
        path.write_bytes(spec.content)
        path.chmod(spec.mode)
        if spec.owner:
            uid, _, gid = spec.owner.partition(":")
            os.chown(path, int(uid), int(gid or uid))
        out[name] = str(path)
    return out


def run(state: dict[str, Any], name: str, image: str, *command: str,
        env: dict[str, str] | None = None, volumes: list[str] | None = None) -> str:
    args = ["run", "-d", "--name", f"{PREFIX}-{name}", "--network", state["network"],
            "--network-alias", name]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    for vol in volumes or []:
        args += ["-v", vol]
    cid = docker(*args, image, *command).stdout.strip()
    state["containers"].append(cid)
    return cid


def remove(state: dict[str, Any], cid: str) -> None:
    docker("rm", "-f", cid, check=False)
    state["containers"].remove(cid)


def nextcloud_env() -> dict[str, str]:
    return {"POSTGRES_HOST": "db", "POSTGRES_DB": "nextcloud", "POSTGRES_USER": "nextcloud",
            "POSTGRES_PASSWORD": PASSWORDS["db"], "NEXTCLOUD_ADMIN_USER": "admin",
            "NEXTCLOUD_ADMIN_PASSWORD": PASSWORDS["admin"], "REDIS_HOST": "redis",
            "REDIS_HOST_PASSWORD": PASSWORDS["redis"],
            "NEXTCLOUD_TRUSTED_DOMAINS": "cloud.saint-essai.fr", "KCE2E_INSTALL_SECONDS": "5"}


def nextcloud(state: dict[str, Any], name: str, image: str, volume: str,
              extra: list[str] | None = None, hook: bool = True) -> str:
    if volume not in state["volumes"]:
        state["volumes"].append(volume)
    files = state["files"]
    volumes = [f"{volume}:/var/www/html", *(extra or [])]
    if hook:
        volumes += [f"{files['kit-collab.config.php']}:/usr/local/share/kit-collab/"
                    "kit-collab.config.php:ro",
                    f"{files['kit-collab-config.sh']}:/docker-entrypoint-hooks.d/before-starting/"
                    "10-kit-collab-config.sh:ro"]
    return run(state, name, state["images"][image], env=nextcloud_env(), volumes=volumes)


def logs(cid: str) -> str:
    result = docker("logs", cid, check=False)
    return result.stdout + result.stderr


def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


def sh(cid: str, script: str, user: str = "0") -> subprocess.CompletedProcess[str]:
    return docker("exec", "-u", user, cid, "sh", "-c", script, check=False)


def healthy(cid: str) -> bool:
    """The recipe's own healthcheck command (CMD-SHELL), run in the container."""
    return sh(cid, HEALTH[0]).returncode == 0


def test_nextcloud_standin_installs_upgrades_and_refuses_older_images(standins) -> None:
    volume = f"{PREFIX}-html"
    cid = nextcloud(standins, "nc-a", "nc34", volume)
    # During the install (as www-data, KCE2E_INSTALL_SECONDS), occ is not available.
    wait_for(lambda: "Starting nextcloud installation" in logs(cid), 60, "install started")
    during = sh(cid, "php occ status", user="33")
    assert during.returncode == 1 and "not installed" in during.stdout
    assert not healthy(cid)
    wait_for(lambda: healthy(cid), 90, "installed and healthy")
    text = logs(cid)
    assert "New nextcloud instance" in text and "Setting trusted domains" in text
    assert "10-kit-collab-config.sh" in text and "Finished executing the script" in text
    # config/ seeded from the image (it was empty), plus the hook's copy, owned by www-data.
    listing = sh(cid, "stat -c '%u %n' /var/www/html/config/*").stdout
    for name in ("redis.config.php", "reverse-proxy.config.php", "apps.config.php",
                 "config.php", "kit-collab.config.php"):
        assert f"33 /var/www/html/config/{name}" in listing, listing
    same = sh(cid, "cmp /usr/local/share/kit-collab/kit-collab.config.php "
                   "/var/www/html/config/kit-collab.config.php")
    assert same.returncode == 0
    assert sh(cid, "php occ app:list --output=json", user="33").returncode == 0
    remove(standins, cid)
    # A newer image on the same volume: rsync, `occ upgrade`, the data keeps its config.
    cid = nextcloud(standins, "nc-b", "nc35", volume)
    wait_for(lambda: healthy(cid), 60, "upgraded and healthy")
    assert "Upgrading nextcloud from 34.0.2.0" in logs(cid)
    status = sh(cid, "php occ status", user="33").stdout
    assert '"version": "35.0.0.0"' in status and '"needsDbUpgrade": false' in status
    assert "35.0.0" in sh(cid, "cat /var/www/html/core/kce2e.txt").stdout
    remove(standins, cid)
    # An older image on newer data: refused, the container exits 1.
    cid = nextcloud(standins, "nc-c", "nc34", volume)
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()
             == "exited", 30, "older image stopped")
    assert docker("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() == "1"
    assert "downgrading is not supported" in logs(cid)
    remove(standins, cid)
    # Two majors ahead: refused as well.
    cid = nextcloud(standins, "nc-d", "nc36", volume)
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()
             == "exited", 30, "two majors ahead stopped")
    assert "is not supported" in logs(cid)


def test_nextcloud_standin_config_mounted_into_the_volume_never_installs(standins) -> None:
    """Issue 14 item 1, reproduced: a file bind-mounted into config/ makes it root-owned and
    non-empty; the image's config is never seeded and occ exits 0 after "Cannot write into
    config directory", so the install "succeeds" and Nextcloud stays uninstalled."""
    volume = f"{PREFIX}-html-mounted"
    cid = nextcloud(standins, "nc-m", "nc34", volume, hook=False, extra=[
        f"{standins['files']['kit-collab.config.php']}:/var/www/html/config/kit-collab.config.php:ro"])
    wait_for(lambda: "Initializing finished" in logs(cid), 60, "entrypoint done")
    text = logs(cid)
    assert 'Cannot write into "config" directory!' in text
    assert "Installing of nextcloud failed" not in text  # exit 0: the entrypoint went on
    assert sh(cid, "test -e /var/www/html/config/redis.config.php").returncode != 0
    assert not healthy(cid)
    assert sh(cid, "php occ app:list", user="33").returncode == 0  # "succeeds", does nothing


def test_collabora_standin_serves_discovery_after_its_start_delay(standins) -> None:
    import re

    compose = (Path(__file__).parents[2] / "recipes" / "collabora" / "templates" /
               "compose.yaml.j2").read_text()
    script = re.search(r'"bash", "-c", "(.*)"\]', compose)
    assert script
    check = script[1].encode().decode("unicode_escape")
    cid = run(standins, "code", standins["images"]["code"],
              env={"server_name": "office.saint-essai.fr", "KCE2E_COLLABORA_START_SECONDS": "4"})
    start = time.monotonic()

    def ok() -> bool:
        return docker("exec", cid, "bash", "-c", check, check=False).returncode == 0

    assert not ok()
    wait_for(ok, 30, "discovery served")
    assert time.monotonic() - start >= 3
    whoami = docker("exec", cid, "id", "-u").stdout.strip()
    assert whoami == "1001"
