#!/usr/bin/python3
"""kce2e stand-in (substitut) for the Nextcloud image's /entrypoint.sh.

What it reproduces, from nextcloud/docker at 34.0.2 (34/apache/entrypoint.sh, Dockerfile,
upgrade.exclude), because kit-collab's deployment depends on it:
- image version (/usr/src/nextcloud/version.php) against the volume's (/var/www/html/version.php):
  data newer than the image -> "Can't start Nextcloud because the version of the data ... is
  higher than the docker image version ... and downgrading is not supported", exit 1; more than
  one major ahead -> refused too;
- image newer: rsync of /usr/src/nextcloud into the volume (owner www-data), with --delete and
  upgrade.exclude (config/, data/, custom_apps/, themes/, version.php kept); each of config/,
  data/, custom_apps/, themes/ seeded from the image only when missing or EMPTY; version.php last;
- first start with NEXTCLOUD_ADMIN_USER/PASSWORD and POSTGRES_DB/USER/PASSWORD/HOST: hooks
  pre-installation, `php occ maintenance:install` as www-data (retried 10 times, 10 s apart, while
  it exits non-zero; "Cannot write into config directory" exits 0 and counts as done), trusted
  domains from NEXTCLOUD_TRUSTED_DOMAINS, hooks post-installation;
- later image: hooks pre-upgrade, `php occ upgrade` as www-data, hooks post-upgrade;
- hooks before-starting at every start; hooks are /docker-entrypoint-hooks.d/<stage>/*.sh, in
  order, run as www-data, skipped when not executable, a failing one stops the container;
- the whole initialisation only when the command is apache* (or NEXTCLOUD_UPDATE=1): /cron.sh
  (nextcloud-cron) has its own entrypoint and never initialises.
Then it execs the command (the stand-in's apache2-foreground).
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

SRC = Path("/usr/src/nextcloud")
HTML = Path("/var/www/html")
HOOKS = Path("/docker-entrypoint-hooks.d")
EXCLUDE = ("config", "data", "custom_apps", "themes", "version.php", "nextcloud-init-sync.lock")
SEEDED = ("config", "data", "custom_apps", "themes")
WWW = ("www-data", 33)
ZERO = (0, 0, 0, 0)


def say(text: str) -> None:
    print(text, flush=True)


def version_of(path: Path) -> tuple[int, ...]:
    """$OC_Version = array(34,0,2,0); of a version.php, (0,0,0,0) when there is none."""
    if not path.is_file():
        return ZERO
    found = re.search(r"\$OC_Version\s*=\s*array\(([\d,\s]+)\)", path.read_text())
    return tuple(int(x) for x in found[1].split(",")) if found else ZERO


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in version)


def chown_www(path: Path) -> None:
    if os.getuid() == 0:
        os.lchown(path, WWW[1], WWW[1])


def copy_entry(src: Path, dest: Path) -> None:
    if src.is_dir() and not src.is_symlink():
        dest.mkdir(exist_ok=True)
        chown_www(dest)
        for child in src.iterdir():
            copy_entry(child, dest / child.name)
    else:
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        shutil.copy2(src, dest, follow_symlinks=False)
        chown_www(dest)


def empty(path: Path) -> bool:
    return not path.is_dir() or not any(path.iterdir())


def sync() -> None:
    """rsync -rlDog --chown www-data --delete --exclude-from=/upgrade.exclude, then the seeded
    folders (only when missing or empty), then version.php."""
    for child in HTML.iterdir():
        if child.name not in EXCLUDE and not (SRC / child.name).exists():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for child in SRC.iterdir():
        if child.name not in EXCLUDE:
            copy_entry(child, HTML / child.name)
    for name in SEEDED:
        if empty(HTML / name):
            copy_entry(SRC / name, HTML / name)
    copy_entry(SRC / "version.php", HTML / "version.php")


def run_as(command: list[str]) -> int:
    """As the entrypoint's run_as: su -p www-data when root (the environment kept)."""
    if os.getuid() == 0:
        line = shlex.join(command)
        return subprocess.run(["su", "-p", WWW[0], "-s", "/bin/sh", "-c", line]).returncode
    return subprocess.run(command).returncode


def run_path(stage: str) -> None:
    folder = HOOKS / stage
    say(f'=> Searching for hook scripts (*.sh) to run, located in the folder "{folder}"')
    scripts = sorted(p for p in folder.glob("*.sh") if p.is_file()) if folder.is_dir() else []
    if not scripts:
        say(f'==> Skipped: the "{stage}" folder is empty (or does not exist)')
        return
    for script in scripts:
        if not os.access(script, os.X_OK):
            say(f'==> The script "{script}" was skipped, because it lacks the executable flag')
            continue
        say(f'==> Running the script (cwd: {os.getcwd()}): "{script}"')
        code = run_as([str(script)])
        if code != 0:
            say(f'==> Failed at executing script "{script}". Exit code: {code}')
            sys.exit(1)
        say(f'==> Finished executing the script: "{script}"')


def install() -> None:
    say("New nextcloud instance")
    env = os.environ
    needed = ("NEXTCLOUD_ADMIN_USER", "NEXTCLOUD_ADMIN_PASSWORD", "POSTGRES_DB", "POSTGRES_USER",
              "POSTGRES_PASSWORD", "POSTGRES_HOST")
    if not all(name in env for name in needed):
        say("Next step: Access your instance to finish the web-based installation!")
        return
    say("Installing with PostgreSQL database")
    run_path("pre-installation")
    say("Starting nextcloud installation")
    # The passwords reach the stand-in occ through the environment (su -p keeps it).
    for attempt in range(11):
        if run_as(["php", "/var/www/html/occ", "maintenance:install", "-n",
                   "--database", "pgsql"]) == 0:
            break
        say("Retrying install...")
        if attempt == 10:
            say("Installing of nextcloud failed!")
            sys.exit(1)
        time.sleep(float(env.get("KCE2E_INSTALL_RETRY_SECONDS", "10")))
    if "NEXTCLOUD_TRUSTED_DOMAINS" in env:
        say("Setting trusted domains…")
        for index, domain in enumerate(env["NEXTCLOUD_TRUSTED_DOMAINS"].split(), start=1):
            run_as(["php", "/var/www/html/occ", "config:system:set", "trusted_domains",
                    str(index), f"--value={domain}"])
    run_path("post-installation")


def initialise() -> None:
    with open(HTML / "nextcloud-init-sync.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed, image = version_of(HTML / "version.php"), version_of(SRC / "version.php")
        if installed > image:
            say(f"Can't start Nextcloud because the version of the data ({dotted(installed)}) is "
                f"higher than the docker image version ({dotted(image)}) and downgrading is not "
                "supported. Are you sure you have pulled the newest image version?")
            sys.exit(1)
        if image > installed:
            say(f"Initializing nextcloud {dotted(image)} ...")
            if installed != ZERO:
                if image[0] > installed[0] + 1:
                    say(f"Can't start Nextcloud because upgrading from {dotted(installed)} to "
                        f"{dotted(image)} is not supported.")
                    say("It is only possible to upgrade one major version at a time. For "
                        "example, if you want to upgrade from version 14 to 16, you will have "
                        "to upgrade from version 14 to 15, then from 15 to 16.")
                    sys.exit(1)
                say(f"Upgrading nextcloud from {dotted(installed)} ...")
            sync()
            if installed == ZERO:
                install()
            else:
                run_path("pre-upgrade")
                run_as(["php", "/var/www/html/occ", "upgrade"])
                run_path("post-upgrade")
            say("Initializing finished")


def seed(version: str) -> None:
    """At build: the image's /usr/src/nextcloud (what matters of it here): version.php, the
    image's own config/*.config.php (stand-in contents, upstream names), empty data/,
    custom_apps/, themes/, and code folders that an upgrade replaces."""
    numbers = [int(x) for x in version.split(".")] + [0] * 4
    for folder in ("config", "data", "custom_apps", "themes", "apps/files", "core", "lib"):
        (SRC / folder).mkdir(parents=True, exist_ok=True)
    (SRC / "version.php").write_text(
        "<?php\n$OC_Version = array({});\n$OC_VersionString = '{}';\n".format(
            ",".join(str(x) for x in numbers[:4]), version))
    for name in ("apcu", "apps", "autoconfig", "redis", "reverse-proxy", "s3", "smtp", "swift",
                 "upgrade-disable-web", "apache-pretty-urls"):
        file = "autoconfig.php" if name == "autoconfig" else f"{name}.config.php"
        (SRC / "config" / file).write_text(f"<?php\n// kce2e substitut: config/{file} of the "
                                           f"image, seeded into an empty config/ only\n")
    for code in ("core/kce2e.txt", "lib/kce2e.txt", "apps/files/kce2e.txt"):
        (SRC / code).write_text(f"kce2e substitut: Nextcloud {version} code\n")
    (SRC / "occ").write_text("<?php // kce2e substitut: run with `php occ`\n")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--seed"]:
        seed(argv[1])
        return
    command = argv or ["apache2-foreground"]
    if command[0].startswith("apache") or os.environ.get("NEXTCLOUD_UPDATE") == "1":
        initialise()
        run_path("before-starting")
    os.execvp(command[0], command)  # noqa: S606 (the image's command, as exec "$@")


if __name__ == "__main__":
    main(sys.argv[1:])
