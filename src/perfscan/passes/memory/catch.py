"""The peak-catching run: the return hook and its snapshots, for the tests whose peak it missed.

The first run of every test traces with tracemalloc at 1 frame and catches each phase's peak
with a check at function returns (peakhook.py). That check costs 2x and more on iterator-heavy
code (every generator step is a return), so the probe weighs it (memory.py, `_weigh_hook`): once
its cost in phases that did not need it (their peak stayed under the floor) passes a fifth of
the loop's time and another run's start-up, it no longer runs from every phase's start: the
garbage collector's runs and a tick of CPU time arm it where a phase's traced memory gets
halfway to its next mark (peakhook.arm_where_memory_rises). A rise made in one C call can pass a
mark before the hook is armed; `reset_peak` at each phase's start (and each snapshot) shows it.
This run then repeats, under the hook from their start, only the tests with such a phase (or
the one under way when the hook was turned off) whose peak rose the floor or more above its
start, largest first (CATCH_MAX_TESTS at most): the other tests can hold no group at the
floor. The hook runs only in those phases, its first high-water mark at 80% of the rise the
first run measured (the snapshots below it would be replaced by the last). On Python 3.8 (no `reset_peak`) the hook is
turned off instead, the unhooked peaks are not per phase, and every unhooked test runs again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from perfscan.passes import PassContext
from perfscan.passes.memory.records import MemoryRun, Phase
from perfscan.passes.memory.runs import probe_options, run_tests
from perfscan.passes.memory.spare import Spare
from perfscan.passes.memory.units import MIB

CATCH_MAX_TESTS = 40  # tests repeated under the hook, largest peak first
CATCH_MIN_SECONDS = 10.0  # the catching run may always take this long
CATCH_CAP_RATIO = 2.0  # and this many times the first run


@dataclass(frozen=True)
class Caught:
    """The first run's phases with the catching run's in place of the same tests' phases."""

    phases: Tuple[Phase, ...]
    run: Optional[MemoryRun]  # the catching run's record; None when it did not run or wrote nothing
    tests: int  # tests asked of the catching run
    seconds: float
    timed_out: bool
    notes: Tuple[str, ...]

    def overhead(self) -> Dict[str, object]:
        out: Dict[str, object] = {"tests": self.tests, "seconds": round(self.seconds, 2), "stopped": self.timed_out}
        if self.run is not None:
            out.update({"hook": self.run.hook, "snapshots": self.run.overhead.get("snapshots", 0)})
        return out


def catch_candidates(phases: Sequence[Phase], floor_mib: float, limit: int = CATCH_MAX_TESTS) -> List[Phase]:
    """The phases whose peak rose the floor or more above their start, of the tests with the
    largest rise (`limit` tests at most)."""
    picked = [p for p in phases if not p.hooked and p.peak - p.start >= floor_mib * MIB]
    rise: Dict[str, int] = {}
    for p in picked:
        rise[p.test] = max(rise.get(p.test, 0), p.peak - p.start)
    tests = set(sorted(rise, key=lambda t: rise[t], reverse=True)[:limit])
    return [p for p in picked if p.test in tests]


def catch_reason(hook_off: str, phases: Sequence[Phase], peaks_ok: bool = True, rises: bool = False) -> str:
    """Why the tests of these phases ran again."""
    tests = len(dict.fromkeys(p.test for p in phases))
    if rises:
        return (
            "the traced run armed the peak hook only where memory rose (where a garbage collection or a tick "
            "of CPU time saw a phase's traced memory halfway to its next mark), its first mark below the rise "
            f"the screen saw: {tests} test(s) whose peak rose the floor unseen (a mark passed before the hook "
            "was armed, or a peak below that first mark) ran again under it"
        )
    if not peaks_ok:
        return (
            f"the peak hook cost more than a fifth of the measured run's time and was turned off after "
            f"{hook_off or 'the start'}: {tests} test(s) ran again under it"
        )
    again = (
        f"{tests} test(s) whose peak rose the floor unseen ran again under it"
        if tests
        else "every peak that rose the floor was seen in that run"
    )
    return (
        f"the peak hook cost more than a fifth of the measured run's time: after {hook_off or 'the start'} it ran "
        "only where memory rose: where a garbage collection or a tick of CPU time saw a phase's traced memory "
        f"halfway to its next mark; {again}"
    )


def merge_caught(first: Sequence[Phase], caught: Sequence[Phase]) -> Tuple[Phase, ...]:
    """The first run's phases, each replaced by the catching run's phase of the same test and phase."""
    by_key = {p.key: p for p in caught}
    out = [by_key.pop(p.key, p) for p in first]
    return tuple(out) + tuple(by_key.values())


def catch_peaks(
    ctx: PassContext, first: MemoryRun, first_seconds: float, left: float, spare: Optional[Spare] = None
) -> Caught:
    """Run the tests whose peak matters under the hook (by the screen's spare where it left one),
    and put their snapshots in place."""
    if first.peaks_ok:
        phases = catch_candidates(first.phases, ctx.settings.thresholds.floor("memory"))
        why = ""
    else:  # the peaks are not per phase: every unhooked phase, its first mark at the floor
        phases = [replace(p, peak=p.start) for p in first.phases if not p.hooked]
        why = "; this Python has no tracemalloc.reset_peak (3.9+), so every test it missed ran again"
    tests = list(dict.fromkeys(p.test for p in phases))
    options = probe_options(ctx)
    spec = ctx.workdir / "runs" / "memory-catch-phases.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"phases": [[p.test, p.phase, p.peak - p.start] for p in phases]}), encoding="utf-8")
    options["catch"] = str(spec)
    if not tests:
        said = (catch_reason(first.hook_off, ()),) if first.hook_off and first.peaks_ok else ()
        return Caught(first.phases, None, 0, 0.0, False, said)
    why = catch_reason(first.hook_off, phases, first.peaks_ok, first.rises) + why
    # the hook costs 1.5-4x a test's time, and the tests that peak are often the heaviest: the
    # run may take CATCH_CAP_RATIO times the first run; what it reached is kept
    cap = min(left, max(CATCH_MIN_SECONDS, CATCH_CAP_RATIO * first_seconds))
    if cap <= 0:
        return Caught(
            first.phases, None, len(tests), 0.0, True, (f"no time left to catch the peaks of {len(tests)} test(s)",)
        )
    ordered = [t for t in dict.fromkeys(p.test for p in first.phases) if t in set(tests)]
    run = run_tests(ctx, "memory-catch", ordered, cap, options, spare)
    raw = run.read("memory.json")
    notes = [why]
    if raw is None:
        notes.append(
            f"the run catching the peaks of {len(tests)} test(s) {run.child.describe_exit()}; "
            "their peaks are known, not what was alive at them"
        )
        return Caught(first.phases, None, len(tests), run.child.seconds, run.child.timed_out, tuple(notes))
    caught = MemoryRun.from_json(raw)
    if not caught.phases:
        tail = run.child.tail(2).replace("\n", " | ")
        notes.append(
            f"the run catching the peaks of {len(tests)} test(s) ran none of them"
            + (f" ({tail})" if tail else "")
            + ": their peaks are known, not what was alive at them"
        )
    if run.child.timed_out:
        notes.append(
            f"the run catching the peaks of {len(tests)} test(s) stopped at its cap of {cap:.0f} s "
            f"({CATCH_CAP_RATIO:g}x the first run): {len({p.test for p in caught.phases})} reached"
        )
    return Caught(
        merge_caught(first.phases, caught.phases),
        caught,
        len(tests),
        run.child.seconds,
        run.child.timed_out,
        tuple(notes),
    )
