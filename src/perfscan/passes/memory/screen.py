"""Memory in two steps: an untraced screen of every test, then a traced run of those that rose.

tracemalloc costs on every allocation, 3-9x a test's time on allocation-heavy code (more-itertools'
`DiscreteFourierTransformTests::test_roundtrip`: 1.2 s plain, 6.9 s under tracemalloc alone),
and that is the floor of a run that traces every test. Only a phase whose memory rose the floor
can hold a finding. So the first run traces nothing (probe/screen.py): each phase's rise is
estimated from the resident memory's high-water mark and the count of live small objects, and
the census and the growth repetitions are taken there. The tests with a phase that rose half
the floor or more then run traced (`--opt census=0`), alone and in the order they ran, the peak
hook armed where memory rises (`rises=1`) and each phase's first mark below its screened rise
(`marks=FILE`); their phases replace the screened ones. The others keep their estimate as their
peak and hold no lines, so no finding.

A traced run of a test alone does not have what earlier tests left behind (the catching and deep
runs are the same); where more than TRACE_MAX_IDS tests rose, the whole target runs traced, as
it did before the screen.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple

from perfscan.models import RunFacts
from perfscan.passes import PassContext
from perfscan.passes.memory.catch import merge_caught
from perfscan.passes.memory.records import MemoryRun, Phase
from perfscan.passes.memory.runs import probe_options, run_memory_probe, run_tests
from perfscan.passes.memory.spare import FORKED, Spare, by_spare
from perfscan.passes.memory.units import MIB, mib
from perfscan.passes.memory.workers import read_measured
from perfscan.probe.screen import BLOCK_BYTES

SCREEN_SHARE = 0.5  # of the floor: a phase whose estimated rise reaches it is traced
SCREEN_TIME_SHARE = 0.6  # of the pass's time: the screen's cap (it runs at the plain run's pace)
FIRST_MARK = 0.5  # of a phase's screened rise: its first mark in the traced run
TRACE_MAX_IDS = 300  # tests named on the traced run's command line; past it the whole target runs


def first_mark(phase: Phase) -> int:
    """Bytes above a screened phase's start for its first mark in the traced run: FIRST_MARK of
    the lesser of its two rises (the resident memory's rise holds what C code made too, and the
    count of live objects counts each as BLOCK_BYTES; traced peaks read 0.85-1.0 of the resident
    rise on the corpus, 0.54 where sqlite's own memory rose beside). A mark above the traced peak
    has the phase caught again (catch.py)."""
    return int(FIRST_MARK * min(phase.resident, phase.blocks * BLOCK_BYTES))


def _first_marks(ctx: PassContext, phases: Sequence[Phase]) -> Path:
    spec = ctx.workdir / "runs" / "memory-traced-marks.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"phases": [[p.test, p.phase, first_mark(p)] for p in phases]}), encoding="utf-8")
    return spec


def screen_possible() -> bool:
    """Whether the probe can screen on this machine: it resets the resident memory's high-water
    mark through /proc/self/clear_refs (Linux). Where it cannot, its first run traces every test
    and has the pass's whole time."""
    return sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK)


@dataclass(frozen=True)
class Traced:
    """The screen's run with the traced run's phases in place of the same tests' phases."""

    measured: MemoryRun  # the traced run's hook and timings, the screen's census and growth
    seconds: float  # the traced run's time (0: none ran)
    tests: int  # tests traced
    notes: Tuple[str, ...]
    outcomes: Mapping[str, Tuple[str, str]] = field(default_factory=dict)  # the traced run's

    def facts(self, screen: RunFacts) -> RunFacts:
        """The screen run's facts with the traced run's outcomes: a test that fails only under
        tracemalloc is named; a failure the screen saw stays (the traced run ran it alone)."""
        over = {k: v for k, v in self.outcomes.items() if screen.outcomes.get(k, ("passed",))[0] == "passed"}
        return replace(screen, outcomes={**screen.outcomes, **over})


def trace_screened(ctx: PassContext, screened: MemoryRun, left: float, spare: Optional[Spare] = None) -> Traced:
    """Trace the tests whose phases rose half the floor or more in the screen (by the screen's
    spare where it left one, spare.py)."""
    floor = ctx.settings.thresholds.floor("memory") * MIB
    # not a phase the screen's run was stopped in (a test that hangs would take the rest of the time)
    rose = [p for p in screened.phases if p.peak >= SCREEN_SHARE * floor and "interrupted" not in p.note]
    tests = list(dict.fromkeys(p.test for p in rose))
    total = len(dict.fromkeys(p.test for p in screened.phases))
    said = (
        "screened first, untraced: each test phase's rise estimated from the resident memory's high-water mark "
        f"and the count of live small objects; {len(rose)} phase(s) of {len(tests)} of {total} test(s) rose "
        f"{mib(SCREEN_SHARE * floor):.1f} MiB or more"
    )
    if not tests:
        return Traced(screened, 0.0, 0, (said + ": nothing else was traced, no test can hold a group at the floor",))
    options = probe_options(ctx)
    options["census"] = "0"
    options["rises"] = "1"
    options["marks"] = str(_first_marks(ctx, rose))
    whole = len(tests) > TRACE_MAX_IDS
    if whole:
        if ctx.inputs.workers > 1:
            options["workers"] = str(ctx.inputs.workers)
        run = run_memory_probe(ctx, "memory-traced", list(ctx.target.pytest_argv()), max(left, 1.0), options)
    else:
        run = run_tests(ctx, "memory-traced", tests, max(left, 1.0), options, spare)
    which = "the whole target" if whole else f"{len(tests)} test(s) alone" + (f", {FORKED}" if by_spare(run) else "")
    traced, worker_notes = read_measured(run, ctx.inputs.workers if whole else 1)
    outcomes = run.facts().outcomes
    if traced is None or not traced.phases:
        tail = run.child.tail(2).replace("\n", " | ")
        return Traced(
            screened,
            run.child.seconds,
            len(tests),
            (
                said
                + f"; the traced run of {which} {run.child.describe_exit()} and measured nothing"
                + (f" ({tail})" if tail else "")
                + ": their peaks are estimates, not what was alive at them",
            ),
            outcomes,
        )
    reached = len({p.test for p in traced.phases} & set(tests))
    notes = [said + f"; they ran again traced ({which}, {run.child.seconds:.1f} s)", *worker_notes]
    if reached < len(tests):
        why = "it stopped at the pass's time limit" if run.child.timed_out else run.child.describe_exit()
        notes.append(
            f"the traced run reached {reached} of {len(tests)} test(s) ({why}); the others' peaks are estimates"
        )
    overhead: Dict[str, object] = dict(traced.overhead)
    overhead["screen"] = {
        "seconds": round(float(screened.overhead.get("loop_seconds") or 0.0), 2),
        "phases": len(screened.phases),
        "traced_tests": len(tests),
        "traced_seconds": round(run.child.seconds, 2),
    }
    overhead["census_seconds"] = screened.overhead.get("census_seconds", 0.0)
    merged = replace(
        traced,
        phases=merge_caught(screened.phases, traced.phases),
        import_values=screened.import_values,
        growth=screened.growth,
        repeat=screened.repeat,
        overhead=overhead,
    )
    return Traced(merged, run.child.seconds, len(tests), tuple(notes), outcomes)
