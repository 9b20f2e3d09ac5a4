"""The recipes' post-install tasks, run in their containers, and which of them failed."""

from __future__ import annotations

from collections.abc import Iterable

from kit_collab.apply.scripts.common import compose, q
from kit_collab.bundle.render import Task


def tasks_script(root: str, slug: str,
                 tasks: Iterable[tuple[Task, dict[str, str]]]) -> str:
    """Run the post-install tasks in their containers. A task's secret values are set in the
    environment of its own `docker compose exec` (this script travels on stdin, never on a
    command line) and passed on with `-e NAME`, so they never appear in an argument list."""
    lines = ["set -u", "failed=0", 'out="$(mktemp)"']
    for i, (task, env) in enumerate(tasks):
        if not all(name.isidentifier() for name in env):
            raise ValueError(f"task {i}: environment names must be identifiers")
        user = ["-u", q(task.user)] if task.user else []
        names = [x for name in sorted(env) for x in ("-e", q(name))]
        assign = " ".join(f"{name}={q(value)}" for name, value in sorted(env.items()))
        cmd = compose(root, slug, "exec", "-T", *user, *names, q(task.service),
                      *[q(a) for a in task.argv])
        # </dev/null: this script is read from stdin, which exec must not swallow.
        lines.append(f'if {assign + " " if assign else ""}{cmd} </dev/null >"$out" 2>&1; then '
                     f'echo "task {i} ok"; else echo "task {i} failed"; tail -n 5 "$out"; '
                     "failed=1; fi")
    lines += ['rm -f "$out"', 'exit "$failed"']
    return "\n".join(lines) + "\n"


def failed_tasks(output: str) -> list[int]:
    """The index of each task the script reported failed."""
    out = []
    for line in output.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "task" and words[2] == "failed" and \
                words[1].isdigit():
            out.append(int(words[1]))
    return out
