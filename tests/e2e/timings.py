"""The timing of each phase of the end-to-end run, printed as it ends and summed up at the
end of the session, with the run's total (wall clock, from the session's start: what CI
pays, the image build included)."""

from __future__ import annotations

import time

PHASES: list[tuple[str, float, str]] = []  # (phase, seconds, result)
STARTED = time.monotonic()  # when the e2e session imported this module


def record(phase: str, seconds: float, result: str = "ok") -> None:
    PHASES.append((phase, seconds, result))
    print(f"\n[kce2e] ⏱  {phase}: {seconds:.1f} s ({result})", flush=True)


def summary() -> None:
    if not PHASES:
        return
    width = max(len(p) for p, _s, _r in [*PHASES, ("e2e total (wall clock)", 0.0, "")])
    print("\n[kce2e] ===== timings =====")
    for phase, seconds, result in PHASES:
        print(f"[kce2e]   {phase:<{width}}  {seconds:7.1f} s  {result}")
    print(f"[kce2e]   {'sum of the phases':<{width}}  "
          f"{sum(s for _p, s, _r in PHASES):7.1f} s")
    wall = time.monotonic() - STARTED
    print(f"[kce2e]   {'e2e total (wall clock)':<{width}}  {wall:7.1f} s  "
          f"({wall / 60:.1f} min)", flush=True)
