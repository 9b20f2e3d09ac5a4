"""The timing of each phase of the end-to-end run, printed as it ends and summed up at the
end of the session."""

from __future__ import annotations

PHASES: list[tuple[str, float, str]] = []  # (phase, seconds, result)


def record(phase: str, seconds: float, result: str = "ok") -> None:
    PHASES.append((phase, seconds, result))
    print(f"\n[kce2e] ⏱  {phase}: {seconds:.1f} s ({result})", flush=True)


def summary() -> None:
    if not PHASES:
        return
    width = max(len(p) for p, _s, _r in PHASES)
    print("\n[kce2e] ===== timings =====")
    for phase, seconds, result in PHASES:
        print(f"[kce2e]   {phase:<{width}}  {seconds:7.1f} s  {result}")
    print(f"[kce2e]   {'total':<{width}}  {sum(s for _p, s, _r in PHASES):7.1f} s", flush=True)
