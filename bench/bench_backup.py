"""Backups of a commune's data with restic, against a plain ``tar | gzip``: figures printed.

    python3 bench/bench_backup.py [--taille-mo 2048] [--messages 10000] [--dossier /var/tmp]

What is measured, on this machine (root not needed), with its own restic (Debian 12: 0.14;
the servers run 0.16 or 0.18) and a repository on the local disk, as the nightly backup
takes it (``--host <slug>``, the contract's tags):
- the commune's data generated once: files like a town hall's (office documents and text,
  compressible; photos and scanned PDFs, random bytes: incompressible), ``--taille-mo`` in
  all, and a PostgreSQL dump of ``--messages`` Matrix messages (plain SQL as ``pg_dump``
  writes Synapse's ``events``/``event_json`` tables: generated here, not read from a running
  Synapse; the real path is exercised by tests/e2e/test_restore.py);
- first backup, second backup with nothing changed, a backup after 1 % of the files changed
  (and the dump rewritten with 1 % more messages), a full restore into an empty folder:
  time, bytes added to the repository, repository size;
- ``tar -c | gzip`` of the same data (what an unchanged day costs without deduplication):
  time and bytes, and the ratios.
Aim (issue 16): the unchanged second backup adds under 1 % of the first one's bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SLUG = "banc-sauvegarde"
WORDS = ("conseil", "municipal", "délibération", "budget", "voirie", "école", "cantine",
         "état", "civil", "urbanisme", "permis", "de", "construire", "arrêté", "du", "maire",
         "subvention", "association", "salle", "des", "fêtes", "L'Haÿ-sur-Mer", "compte",
         "rendu", "séance", "ordre", "jour")


def _text(rng: random.Random, size: int) -> bytes:
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + ".\n"
        out.append(line)
        total += len(line.encode())
    return "".join(out).encode()[:size]


def generate(folder: Path, megabytes: int, seed: int = 16) -> list[Path]:
    """About ``megabytes`` MiB of files: 40 % text (documents), 60 % random (media)."""
    rng = random.Random(seed)  # noqa: S311 (generated data, not secrets)
    files, total, n = [], 0, 0
    target = megabytes * 1024 * 1024
    while total < target:
        media = rng.random() < 0.6
        size = rng.randint(200_000, 4_000_000) if media else rng.randint(5_000, 400_000)
        path = folder / "volumes" / f"{SLUG}_nextcloud_html" / "_data" / "data" / (
            f"agent{n % 12}") / ("photos" if media else "documents") / (
            f"f{n:06d}.{'jpg' if media else 'odt'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size) if media else _text(rng, size))
        files.append(path)
        total, n = total + size, n + 1
    return files


def dump(folder: Path, messages: int, seed: int = 10) -> Path:
    """A plain-SQL dump of ``messages`` Matrix messages, shaped as pg_dump writes Synapse's
    ``events`` and ``event_json`` tables (COPY ... FROM stdin blocks)."""
    rng = random.Random(seed)  # noqa: S311 (generated data, not secrets)
    path = folder / "staging" / "postgres" / "matrix-db.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write("COPY public.events (stream_ordering, event_id, type, room_id, sender) "
                  "FROM stdin;\n")
        for i in range(messages):
            out.write(f"{i}\t$ev{i:08d}\tm.room.message\t!conseil:{SLUG}\t@agent{i % 12}:{SLUG}\n")
        out.write("\\.\n\nCOPY public.event_json (event_id, room_id, json) FROM stdin;\n")
        for i in range(messages):
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
            event = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body},
                     "sender": f"@agent{i % 12}:{SLUG}", "origin_server_ts": 1_760_000_000_000 + i}
            out.write(f"$ev{i:08d}\t!conseil:{SLUG}\t{json.dumps(event, ensure_ascii=False)}\n")
        out.write("\\.\n")
    return path


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def restic(env: dict[str, str], *args: str) -> float:
    started = time.monotonic()
    subprocess.run(["restic", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def backup(env: dict[str, str], data: Path) -> float:
    return restic(env, "backup", "--quiet", "--host", SLUG, "--tag", "kit-collab", "--tag",
                  f"commune={SLUG}", "--tag", "release=banc", str(data))


def change_one_percent(files: list[Path], folder: Path, messages: int) -> None:
    rng = random.Random(99)  # noqa: S311 (generated data, not secrets)
    for path in rng.sample(files, max(1, len(files) // 100)):
        data = bytearray(path.read_bytes())
        data[: min(4096, len(data))] = rng.randbytes(min(4096, len(data)))
        path.write_bytes(bytes(data))
    dump(folder, messages + max(1, messages // 100))


def tar_gzip(data: Path, out: Path) -> float:
    started = time.monotonic()
    with out.open("wb") as target:
        tar = subprocess.Popen(["tar", "-C", str(data), "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(["gzip", "-6"], stdin=tar.stdout, stdout=target, check=True)
        assert tar.wait() == 0
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taille-mo", type=int, default=2048)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--dossier", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    if shutil.which("restic") is None:
        print("restic est absent (paquet Debian restic)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="kc-bench-sauvegarde-", dir=args.dossier))
    try:
        return run(work, args.taille_mo, args.messages)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, megabytes: int, messages: int) -> int:
    data, repo = work / "donnees", work / "depot"
    started = time.monotonic()
    files = generate(data, megabytes)
    dump(data, messages)
    print(f"données générées : {du(data) / 2**20:.0f} Mio, {len(files)} fichiers, "
          f"{messages} messages Matrix (vidage SQL) en {time.monotonic() - started:.0f} s")
    (work / "pass").write_text("banc-de-sauvegarde-0123456789abcdef\n")
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo),
           "RESTIC_PASSWORD_FILE": str(work / "pass"), "RESTIC_CACHE_DIR": str(work / "cache")}
    restic(env, "init", "--quiet")
    rows: list[tuple[str, float, int, int]] = []
    for name, before in (("1re sauvegarde", None), ("2e, rien de changé", None),
                         ("après 1 % de changements", "change")):
        if before:
            change_one_percent(files, data, messages)
        size = du(repo)
        seconds = backup(env, data)
        rows.append((name, seconds, du(repo) - size, du(repo)))
    target = work / "restauration"
    seconds = restic(env, "restore", "latest", "--host", SLUG, "--target", str(target))
    restored = du(target)
    tar_seconds = tar_gzip(data, work / "donnees.tar.gz")
    tar_bytes = (work / "donnees.tar.gz").stat().st_size
    print(f"\n{'étape':<28}{'durée':>9}{'octets ajoutés':>18}{'taille du dépôt':>18}")
    for name, secs, added, total in rows:
        print(f"{name:<28}{secs:>8.1f}s{added / 2**20:>15.1f} Mio{total / 2**20:>15.1f} Mio")
    print(f"{'restauration complète':<28}{seconds:>8.1f}s{restored / 2**20:>15.1f} Mio (lus)")
    print(f"{'tar | gzip (même données)':<28}{tar_seconds:>8.1f}s{tar_bytes / 2**20:>15.1f} Mio")
    first, second = rows[0], rows[1]
    print(f"\n2e sauvegarde : {second[2]} octets ajoutés (métadonnées du cliché), soit "
          f"{100 * second[2] / max(first[2], 1):.5f} % de la 1re (objectif < 1 %)")
    print(f"2e sauvegarde / tar|gzip : {second[1] / tar_seconds:.4f}× le temps, "
          f"{100 * second[2] / tar_bytes:.5f} % des octets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
