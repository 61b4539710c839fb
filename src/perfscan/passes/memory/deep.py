"""The deep run: more frames per allocation, only where libraries hold a megabyte at a test's peak.

The measured run traces 1 frame per allocation (cheap), so bytes allocated inside a library have
no project frame. When a phase's peak holds the floor or more in library frames that it made
itself (not alive at an earlier phase's last snapshot: modules an earlier test imported stay
alive, and a run of this test alone would not make them), another run
traces 10 frames during those phases only, and attributes those bytes to the project function
that called the library; the phases that still hold the floor in library frames (a library
deeper than 10 frames) run once more at 25 frames, in what is left of the same time cap.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from perfscan.passes import PassContext
from perfscan.passes.memory.records import MemoryRun, Phase
from perfscan.passes.memory.runs import probe_options, run_memory_probe, run_tests
from perfscan.passes.memory.spare import FORKED, Spare, by_spare
from perfscan.passes.memory.units import MIB, mib
from perfscan.probe_host import ProbeRun
from perfscan.sources import functions_in, parse_source

FIRST_FRAMES = 10  # enough for most libraries below a project call, at a fraction of 25's cost
DEEP_FRAMES = 25
DEEP_SECOND_MIN_SECONDS = 5.0  # time left in the cap below which the 25-frame run is not started
DEEP_MAX_PHASES = 8
DEEP_MIN_SECONDS = 10.0  # time left below which the deep run is not started
DEEP_CAP_MIN_SECONDS = 20.0  # the deep run may always take this long, and as long as the measured run
# A step's phases take about this share of their time in the run before it, or more.
# tracemalloc's cost grows with the frames it reads at every allocation (from 10 to 25 frames:
# 2.7x on cli_logstats' test, 3.3x-5.5x on a Markdown test), but the run before the 10-frame
# step had the peak hook's snapshots in it too (cli_logstats' test: 6.2 s at 1 frame with 5
# snapshots, 4.2 s at 10 with one): the low end, so that a step is skipped only where it would
# not finish
FRAME_COST = {FIRST_FRAMES: 0.5, DEEP_FRAMES: 3.0}


@dataclass(frozen=True)
class DeepRun:
    """What the deep run did, for the section's overhead figures."""

    phases: int
    attributed_mib: float
    seconds: float
    overhead: Dict[str, Any]
    stopped: bool  # it reached its cap

    def to_json(self) -> Dict[str, Any]:
        return {
            "phases": self.phases,
            "attributed_mib": self.attributed_mib,
            "seconds": self.seconds,
            "overhead": dict(self.overhead),
            "stopped": self.stopped,
        }


@dataclass(frozen=True)
class Refined:
    phases: Tuple[Phase, ...]  # the measured phases, with the deep run's attributions added
    run: Optional[DeepRun]  # None: no deep run, or it gave nothing
    notes: Tuple[str, ...]


def deep_candidates(phases: Sequence[Phase], floor_mib: float) -> List[Phase]:
    # lib_lines cover every library byte at the peak, earlier tests' too, which libs_new has left out
    made = {p.key: min(p.libs - import_time_bytes(p), p.fresh_libs) for p in phases if p.fresh_libs >= floor_mib * MIB}
    picked = [p for p in phases if made.get(p.key, 0) >= floor_mib * MIB]
    picked.sort(key=lambda p: made[p.key], reverse=True)
    return picked[:DEEP_MAX_PHASES]


def import_time_bytes(phase: Phase) -> int:
    """Of a phase's library bytes, those made by a library module's top level (a line outside
    every function: the module was imported during the phase and its code run by the import). A
    deeper trace of them leads to an import statement, so they ask for no deep run. On Markdown's
    suite a test's entry-point lookup imports email, socket and other modules: their top level
    held 0.11 MiB of the 1.04 MiB in libraries that started a 5-6 s deep run attributing 0.1-0.2
    MiB (a frozen module's lines, such as abc's class creation, cannot be told apart)."""
    total = 0
    for file, line, size in phase.lib_lines:
        spans = _function_spans(file)
        if spans is not None and not any(first <= line <= end for first, end in spans):
            total += size
    return total


@functools.lru_cache(maxsize=1024)
def _function_spans(file: str) -> Optional[Tuple[Tuple[int, int], ...]]:
    """The line spans of a library file's functions; None when it cannot be read (a frozen
    module, a file this Python cannot parse): its bytes then count as a call's."""
    if not file.endswith(".py") or not os.path.isabs(file):
        return None
    parsed = parse_source(Path(file))
    if parsed.tree is None:
        return None
    spans = [(f.first_line, f.end_lineno) for f in functions_in(parsed.tree)]
    # a lambda's body runs when it is called, not by the import
    spans += [
        (n.lineno, getattr(n, "end_lineno", None) or n.lineno)
        for n in ast.walk(parsed.tree)
        if isinstance(n, ast.Lambda)
    ]
    return tuple(spans)


def deep_tests(phases: Sequence[Phase], candidates: Sequence[Phase]) -> List[str]:
    """The deep run's tests: only those of the candidate phases, in the order they ran (the other
    tests of a suite of thousands cost minutes and are not traced anyway)."""
    wanted = {p.test for p in candidates}
    return list(dict.fromkeys(p.test for p in phases if p.test in wanted))


def merge_deep(phases: Sequence[Phase], deep: Sequence[Phase]) -> Tuple[Tuple[Phase, ...], int]:
    """The measured phases with the deep run's attributions added, and the bytes attributed."""
    out = list(phases)
    index = {p.key: i for i, p in enumerate(out)}
    moved = 0
    for dp in deep:
        i = index.get(dp.key)
        if i is None:
            continue
        rows = dp.lines
        target = out[i]
        attributed = sum(r.bytes for r in rows)
        # never move more than the measured run saw in libraries at that peak
        room = target.libs
        if attributed > room > 0:
            scale = room / attributed
            rows = tuple(replace(r, bytes=int(r.bytes * scale)) for r in rows)
            attributed = room
        fresh = None if target.libs_new is None else max(0, target.libs_new - attributed)
        if dp.snapshots:
            # the test run alone made no more than this in libraries beyond these frames: the rest
            # of the measured run's were earlier tests' (with no snapshot between to tell them
            # apart), and a deeper run would attribute nothing of them
            fresh = dp.libs if fresh is None else min(fresh, dp.libs)
        if not rows and fresh == target.libs_new:
            continue
        out[i] = replace(target, lines=target.lines + rows, libs=max(0, room - attributed), libs_new=fresh)
        moved += attributed
    return tuple(out), moved


def refine_library_peaks(
    ctx: PassContext,
    phases: Tuple[Phase, ...],
    measured_seconds: float,
    deadline: float,
    startup: float = 0.0,
    spare: Optional[Spare] = None,
) -> Refined:
    """Run the deep run where it is needed and there is time, and merge what it attributes.

    In two steps: FIRST_FRAMES first, then DEEP_FRAMES for the phases that still hold the floor
    in library frames. tracemalloc's cost grows with the frames it captures, and under pytest a
    test's stack is deep, so 25 frames capture 25 at every allocation: one cli_logstats test took
    13.6 s at 25 frames, 5.0 s at 10, which attributed the same 5.4 MiB. A step whose phases
    cannot finish in what is left of the cap (their time in the run before, times FRAME_COST,
    plus the run's start-up) is not started."""
    floor = ctx.settings.thresholds.floor("memory")
    candidates = deep_candidates(phases, floor)
    if not candidates:
        return Refined(phases, None, ())
    left = deadline - time.monotonic()
    if left < DEEP_MIN_SECONDS:
        return Refined(
            phases,
            None,
            (f"{len(candidates)} test peak(s) hold 1 MiB or more in library frames; no time left to attribute them",),
        )
    # 25 frames under the peak hook cost 15-40x a heavy test's time (Markdown's 7 phases: 134 s
    # after a 40 s measured run): a refinement may take as long as the measured run, not the pass
    cap = min(left, max(DEEP_CAP_MIN_SECONDS, measured_seconds))
    ends = time.monotonic() + cap
    runs: List[DeepRun] = []
    notes: List[str] = []
    seconds = {p.key: p.seconds for p in phases}  # each phase's time in the run before the step
    for frames in (FIRST_FRAMES, DEEP_FRAMES):
        budget = ends - time.monotonic()
        if runs and (not candidates or budget < DEEP_SECOND_MIN_SECONDS):
            if candidates:
                notes.append(
                    f"{len(candidates)} test peak(s) still hold 1 MiB or more in library frames after the "
                    f"{FIRST_FRAMES}-frame run; no time left for a {DEEP_FRAMES}-frame run"
                )
            break
        too_long = cannot_finish(frames, candidates, seconds, startup, budget, bool(runs))
        if too_long:
            notes.append(too_long)
            break
        # 25 frames reach the runner's frames below the loop, whose line tables only a process
        # started with the profile function in place has (give_line_tables): not by the spare
        step = _deep_run(ctx, phases, candidates, frames, budget, cap, spare if frames == FIRST_FRAMES else None)
        if step is None:
            notes.append(
                f"the {frames}-frame run for library allocations did not finish; those bytes stay unattributed"
            )
            break
        phases, info, note, seconds = step
        runs.append(info)
        notes.append(note)
        if info.stopped:
            break
        ran = {c.key for c in candidates}
        candidates = deep_candidates([p for p in phases if p.key in ran], floor)
    if not runs:
        return Refined(phases, None, tuple(notes))
    run = DeepRun(
        phases=runs[0].phases,
        attributed_mib=round(sum(r.attributed_mib for r in runs), 1),
        seconds=round(sum(r.seconds for r in runs), 2),
        overhead=runs[-1].overhead,
        stopped=runs[-1].stopped,
    )
    return Refined(phases, run, tuple(notes))


def cannot_finish(
    frames: int,
    candidates: Sequence[Phase],
    seconds: Dict[Tuple[str, str], float],
    startup: float,
    budget: float,
    after_first: bool,
) -> str:
    """Why a step at `frames` is not started (its phases' time in the run before, times
    FRAME_COST, and the run's start-up pass the budget), or "" when it may finish."""
    expected = startup + FRAME_COST[frames] * sum(seconds.get(c.key, 0.0) for c in candidates)
    if expected <= budget:
        return ""
    after = f" after the {FIRST_FRAMES}-frame run" if after_first else ""
    return (
        f"{len(candidates)} test peak(s) hold 1 MiB or more in library frames{after}; a {frames}-frame run "
        f"of them would take {expected:.1f} s or more, past the {budget:.1f} s left of its cap (as long "
        "as the measured run): those bytes stay unattributed"
    )


def _deep_run(
    ctx: PassContext,
    phases: Tuple[Phase, ...],
    candidates: Sequence[Phase],
    frames: int,
    budget: float,
    cap: float,
    spare: Optional[Spare],
) -> Optional[Tuple[Tuple[Phase, ...], DeepRun, str, Dict[Tuple[str, str], float]]]:
    """One deep run at `frames` over the candidates' phases: the phases with its attributions,
    what it did, its note, and each phase's time in it; None when it wrote nothing.

    A phase the run's hook missed, armed where memory rises (a library's buffer made in one call
    and returned at once, with no collection or tick between), runs once more with the hook from
    its start, in what is left of the budget."""
    start = time.monotonic()
    found = _one_deep_run(ctx, phases, candidates, frames, budget, spare, "")
    if found is None:
        return None
    run, deep = found
    missed = {p.key for p in deep.phases if not p.hooked}
    left = budget - (time.monotonic() - start)
    if missed and not run.child.timed_out and left > 1.0:
        again = [replace(c, full=True) for c in candidates if c.key in missed]
        more = _one_deep_run(ctx, phases, again, frames, left, spare, "-again")
        if more is not None:
            caught = {p.key: p for p in more[1].phases if p.hooked}
            deep = replace(deep, phases=tuple(caught.get(p.key, p) for p in deep.phases))
    merged, moved = merge_deep(phases, deep.phases)
    info = DeepRun(
        len(candidates), round(mib(moved), 1), round(time.monotonic() - start, 2), deep.overhead, run.child.timed_out
    )
    note = (
        f"a {frames}-frame run of {len(candidates)} test phase(s) attributed "
        f"{mib(moved):.1f} MiB allocated inside libraries to the project functions that called them"
        + (f" ({FORKED})" if by_spare(run) else "")
        + (
            f" (stopped at its cap of {cap:.0f} s, as long as the measured run: the phases it did "
            "not reach stay unattributed)"
            if run.child.timed_out
            else ""
        )
    )
    return merged, info, note, {p.key: p.seconds for p in deep.phases}


def _one_deep_run(
    ctx: PassContext,
    phases: Tuple[Phase, ...],
    candidates: Sequence[Phase],
    frames: int,
    budget: float,
    spare: Optional[Spare],
    suffix: str,
) -> Optional[Tuple[ProbeRun, MemoryRun]]:
    spec = ctx.workdir / "runs" / f"memory-deep-{frames}{suffix}-phases.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    # the target is the level of the kept snapshot: the deep run's hook checks at the same returns
    spec.write_text(
        json.dumps({"phases": [[p.test, p.phase, max(0, p.snapshot - p.start), int(p.full)] for p in candidates]}),
        encoding="utf-8",
    )
    options = probe_options(ctx, frames=frames)
    options["deep"] = str(spec)
    name = f"memory-deep-{frames}{suffix}"
    if ctx.target.exec_command:
        run = run_memory_probe(ctx, name, [], budget, options)
    else:
        run = run_tests(ctx, name, deep_tests(phases, candidates), budget, options, spare)
    raw = run.read("memory.json")
    if raw is None:
        return None
    return run, MemoryRun.from_json(raw)
