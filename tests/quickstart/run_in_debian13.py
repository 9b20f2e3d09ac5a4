#!/usr/bin/env python3
"""Run README.md's quick start, literally, on a fresh Debian 13 as a non-root user.

    python3 tests/quickstart/run_in_debian13.py [--keep]

The commands are read from the ```bash block under "## Démarrage rapide" at run time (never
copied here), so the README cannot drift from what is tested. The machine is a Debian 13
(trixie) root filesystem made by mmdebstrap from this machine's own Debian sources, holding
only git, python3, sudo and ca-certificates (what `apt install git python3` leaves on a fresh
server: ca-certificates comes with git), cached as an image by the hash of its inputs (the e2e
bed's builder, tests/e2e/build_images.py). A user ``contributrice`` with sudo (no password,
no tty: CI) clones this repository (``git clone`` of a bundle of HEAD) into her home and runs
each command there, from that folder, through a login shell. Exit status: 0 when every
command succeeds, the failing command's status otherwise. Prints the time of each step.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Démarrage rapide"
USER = "contributrice"
HOME = f"/home/{USER}"
CHECKOUT = f"{HOME}/kit-collab"
# The fresh machine: what a contributor has before the quick start (and nothing else).
PACKAGES = ["git", "python3", "sudo", "ca-certificates"]
ROOTFS_NAME = "quickstart"  # image kce2e/rootfs-quickstart, cached like the e2e bed's


def quick_start(text: str, heading: str = HEADING) -> list[str]:
    """The non-empty lines of the first ```bash block under ``heading``."""
    if heading not in text:
        raise ValueError(f"no section {heading!r} in README.md")
    section = text.split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    if block is None:
        raise ValueError(f"no ```bash block under {heading!r}")
    return [line for line in block.group(1).splitlines() if line.strip()]


def say(text: str) -> None:
    print(f"[quickstart] {text}", flush=True)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result


def image() -> str:
    """The fresh Debian 13 image, built once by the e2e bed's builder and cached."""
    sys.path.insert(0, str(ROOT))
    from tests.e2e import build_images as bed

    bed.SUITES[ROOTFS_NAME] = "trixie"
    bed.ROOTFS[ROOTFS_NAME] = PACKAGES
    bed.CUSTOMIZE[ROOTFS_NAME] = []
    bed.build_rootfs(ROOTFS_NAME, force=False)
    return f"{bed.PREFIX}rootfs-{ROOTFS_NAME}"


def as_root(container: str, script: str) -> None:
    docker("exec", container, "bash", "-euc", script)


def prepare(container: str, bundle: Path) -> None:
    """The contributor's account (sudo, as on a rented server) and the clone in her home."""
    as_root(container, f"useradd -m -s /bin/bash {USER} && "
            f"echo '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{USER} && "
            f"chmod 0440 /etc/sudoers.d/{USER}")
    # This machine's own certificate authorities (an intercepting proxy, if any) are
    # trusted inside too, as a CI machine's would be; none on an ordinary machine.
    for ca in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        docker("cp", str(ca), f"{container}:/usr/local/share/ca-certificates/{ca.name}")
    as_root(container, "update-ca-certificates >/dev/null")
    docker("cp", str(bundle), f"{container}:/tmp/kit-collab.bundle")
    as_root(container, "chmod 0644 /tmp/kit-collab.bundle")
    run_as_user(container, f"git clone -q /tmp/kit-collab.bundle {CHECKOUT}", HOME)


def run_as_user(container: str, command: str, workdir: str = CHECKOUT) -> int:
    """``command`` as the contributor, in a login shell, output shown as it comes."""
    env = ["-e", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"]  # pip: the system's CAs
    argv = ["docker", "exec", "-u", USER, "-w", workdir, *env, container,
            "bash", "-lc", command]
    return subprocess.run(argv, timeout=3600).returncode


def bundle_of_head(folder: Path) -> Path:
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout
    if dirty.strip():
        say("warning: uncommitted changes are not in the clone (HEAD is)")
    bundle = folder / "kit-collab.bundle"
    subprocess.run(["git", "-C", str(ROOT), "bundle", "create", "-q", str(bundle), "HEAD"],
                   check=True)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    args = parser.parse_args(argv)
    commands = quick_start((ROOT / "README.md").read_text(encoding="utf-8"))
    started = time.monotonic()
    tag = image()
    say(f"image {tag}: {time.monotonic() - started:.0f} s")
    name = f"kcqs-{uuid.uuid4().hex[:10]}"
    container = docker("run", "-d", "--name", name, tag, "sleep", "infinity").stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="kcqs-") as tmp:
            prepare(container, bundle_of_head(Path(tmp)))
        for number, command in enumerate(commands, 1):
            say(f"command {number} as {USER}: {command}")
            began = time.monotonic()
            code = run_as_user(container, command)
            say(f"command {number}: exit {code}, {time.monotonic() - began:.0f} s")
            if code != 0:
                return code
        say(f"quick start passed in {time.monotonic() - started:.0f} s")
        return 0
    finally:
        if args.keep:
            say(f"container kept: {name}")
        else:
            docker("rm", "-f", container, check=False)


if __name__ == "__main__":
    sys.exit(main())
