"""From the probe's cProfile tables to project functions with own and attributable time.

- Only project code counts (sources.is_project_path): never tests, pytest, stdlib, site-packages,
  the probe.
- Generator expressions, comprehensions and lambdas are folded into the function that defines
  them, by source line range: their own time is the function's own time, their callees its callees.
- attributable = cumulative - cumulative of the project functions it calls directly, other than
  itself (recursive calls stay in). It is what changing this function's body can save.

Two engines feed it: cProfile's per-phase tables (`stats`), or the sampling engine's weighted
stacks (`samples`, turned into the same quantities by samples.py) with the compiled call counts
(`calls`). Either way the result is a `Profile` of `FunctionProfile`s. The sampling engine also
measures waiting (waited.py): a function's wall time is its attributable CPU time plus the time
it waited, in calls and for the GIL.

Threads side by side: a test phase's sampled time (CPU of every thread, waiting counted) may
exceed its main-thread wall time; its samples are then scaled to that wall time, so every share
is a share of the profiled wall time and a threaded test weighs what it lasted.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, cast

from perfscan.locate import Locator
from perfscan.passes.cpu.records import PHASES, CountedLoop, CpuRun, Samples, Stack, StatsEntry
from perfscan.passes.cpu.samples import aggregate
from perfscan.passes.cpu.waited import aggregate_waits, counted_by_test, harness_seconds, place
from perfscan.passes.cpu.waitfacts import Statements, statements_by_function
from perfscan.passes.cpu.waitrecords import walls_by_test
from perfscan.sources import FunctionInfo

FuncKey = Tuple[str, str]  # (relative file, qualname)
PROBE_PATH = "/perfscan_probe/"  # the probe's package as the scan installs it


@dataclass
class FunctionProfile:
    rel: str
    qualname: str
    module: str
    info: FunctionInfo
    tree: Any  # the module's ast, for the pattern checks
    own: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cumulative: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    project_callees: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls_total: int = 0
    calls_primitive: int = 0
    callers: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    callee_time: Dict[Tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))  # (file, name) -> s
    project_callee_by_name: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # sampling engine only
    line_own: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # own seconds by source line
    caller_seconds: Dict[str, float] = field(default_factory=lambda: defaultdict(float))  # caller -> sampled seconds
    tests: Dict[str, float] = field(default_factory=lambda: defaultdict(float))  # test node id -> wall seconds
    line_seconds: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # attributable seconds by line
    callee_lines: Dict[Tuple[int, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )  # (calling line, project callee's name) -> seconds under it
    loop_trips: Dict[Tuple[int, int], int] = field(default_factory=dict)  # loop position -> exact iterations
    # (direct project caller, its line) -> phase -> attributable seconds reached from that call site
    via: Dict[Tuple[str, int], Dict[str, float]] = field(default_factory=dict)
    # attributable seconds moved in (+) or out (-) by phase: a loop-invariant call's time goes to its caller
    moved: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (caller, its line, seconds) whose loop-invariant call's time moved to that caller
    hoisted: List[Tuple[str, int, float]] = field(default_factory=list)
    counted: bool = True  # calls_total/calls_primitive are known (False: the function's calls were not counted)
    # waiting (sampling engine): by phase, in calls and for the GIL; by call site line
    wait: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    gil: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    wait_lines: Dict[int, float] = field(default_factory=lambda: defaultdict(float))
    gil_lines: Dict[int, float] = field(default_factory=lambda: defaultdict(float))
    wait_via: Dict[int, Dict[Tuple[str, str], float]] = field(default_factory=dict)  # line -> library callee -> s
    statements: List[Statements] = field(default_factory=list)  # database statements it ran, by line and shape
    # calls that can wait, by (line, callee name), in one run
    site_counts: Dict[Tuple[int, str], int] = field(default_factory=dict)
    source: str = ""  # the module's source text (the scanned file), for the finding's hot lines

    def attributable(self, phase: Optional[str] = None) -> float:
        """Attributable CPU seconds (the CPU engines' figure; waiting is apart)."""
        phases = [phase] if phase else PHASES
        total = 0.0
        for p in phases:
            own = self.own.get(p, 0.0)
            total += max(own, self.cumulative.get(p, 0.0) - self.project_callees.get(p, 0.0)) + self.moved.get(p, 0.0)
        return total

    def waited(self, phase: Optional[str] = None) -> float:
        """Waiting seconds, in calls and for the GIL."""
        phases = [phase] if phase else PHASES
        return sum(self.wait.get(p, 0.0) + self.gil.get(p, 0.0) for p in phases)

    def wall(self, phase: Optional[str] = None) -> float:
        """Wall seconds: attributable CPU plus waiting."""
        return self.attributable(phase) + self.waited(phase)

    def own_total(self) -> float:
        return sum(self.own.values())

    def cumulative_total(self) -> float:
        return sum(self.cumulative.values())

    def main_phase(self) -> str:
        return max(PHASES, key=lambda p: self.wall(p))


@dataclass(frozen=True)
class Profile:
    wall: Dict[str, float]
    functions: Dict[FuncKey, FunctionProfile]
    ran: FrozenSet[str]  # "module:qualname" of every project function that ran
    engine: str = "cprofile"  # "cprofile" or "sample"
    engine_detail: str = "cProfile"  # for the report's CPU heading
    counting_seconds: float = 0.0  # the call counters' measured cost, taken out of the sampled times and the wall
    waits_measured: bool = False  # the sampling engine measured waiting beside CPU time
    harness_wait: float = 0.0  # main-thread waiting in no project function (tests' own waits, idle event loops)
    wait_interval: float = 0.0  # the waiting sampler's period

    @property
    def total_wall(self) -> float:
        return sum(self.wall.values())


def build_profile(run: CpuRun, root: Path, source_roots: Sequence[Path], exclude: Sequence[str] = ()) -> Profile:
    locator = Locator(root, source_roots, exclude)
    profile = _from_samples(run, run.samples, locator) if run.samples is not None else _from_stats(run, locator)
    for key, rows in statements_by_function(run.statements, locator).items():
        fp = profile.functions.get(key)
        if fp is not None:
            fp.statements = rows
    for (file, line, name), n in (run.calls.sites if run.calls is not None else {}).items():
        where = locator.function_at(file, line)
        if where is not None and where.function is not None:
            fp = profile.functions.get((where.rel, where.function.qualname))
            if fp is not None:
                fp.site_counts[(line, name)] = fp.site_counts.get((line, name), 0) + n
    return profile


def _from_stats(run: CpuRun, locator: Locator) -> Profile:
    functions: Dict[FuncKey, FunctionProfile] = {}
    wall: Dict[str, float] = {}
    totals: Dict[str, float] = {}  # every function's own time: more than the wall where threads ran side by side
    for phase, data in run.phases.items():
        wall[phase] = data.wall
        totals[phase] = 0.0
        stats = data.stats
        owners: List[Optional[FunctionProfile]] = []
        folded: List[bool] = []
        for entry in stats:
            where = locator.code_object(entry.file, entry.line, entry.name)
            if where is None or where.function is None:
                owners.append(None)
                folded.append(False)
                continue
            rel, mod, info, tree = where.rel, where.module, where.function, where.tree
            key = (rel, info.qualname)
            fp = functions.get(key)
            if fp is None:
                fp = functions[key] = FunctionProfile(rel, info.qualname, mod, info, tree, source=where.source.text)
            owners.append(fp)
            folded.append(entry.name != info.name)
        for i, entry in enumerate(stats):
            fp = owners[i]
            totals[phase] += entry.tt
            if fp is not None:
                fp.own[phase] += entry.tt
                if not folded[i]:
                    fp.cumulative[phase] += entry.ct
                    fp.calls_total += entry.nc
                    fp.calls_primitive += entry.cc
            for caller in entry.callers:
                owner = owners[caller.index]
                if fp is not None and not folded[i]:
                    label = f"{owner.module}:{owner.qualname}" if owner is not None else _short(stats[caller.index])
                    if owner is not fp:
                        fp.callers[label] += caller.nc
                if owner is None:
                    continue
                if fp is not None and fp is not owner and not folded[i]:
                    owner.project_callees[phase] += caller.ct
                    owner.project_callee_by_name[fp.info.name] += caller.ct
                elif fp is None:
                    owner.callee_time[(entry.file, entry.name)] += caller.ct
    # a function with only folded entries (a generator consumed elsewhere) takes its own time as cumulative
    for fp in functions.values():
        for p in PHASES:
            if fp.cumulative.get(p, 0.0) < fp.own.get(p, 0.0):
                fp.cumulative[p] = fp.own[p]
    ran = frozenset(f"{fp.module}:{fp.qualname}" for fp in functions.values())
    return Profile(
        wall=_cover_threads(wall, totals),
        functions=functions,
        ran=ran,
        engine="cprofile",
        engine_detail=engine_detail(run),
    )


def _cover_threads(wall: Dict[str, float], profiled: Dict[str, float]) -> Dict[str, float]:
    """Threads running side by side hold more profiled time than the main thread's wall time (166
    threads read 1477% under cProfile): the denominator is then their total, and shares stay shares."""
    return {phase: max(seconds, profiled.get(phase, 0.0)) for phase, seconds in wall.items()}


def _short(entry: StatsEntry) -> str:
    if entry.file == "~":
        return entry.name
    return f"{os.path.basename(entry.file)}:{entry.line}({entry.name})"


def engine_detail(run: CpuRun) -> str:
    """What measured, in words, e.g. "sampling (ITIMER_PROF, 1 ms; a sample per 4.0 ms of runnable time) + exact call counts"."""
    samples = run.samples
    if samples is None:
        return f"{run.engine} (sampling unavailable)" if run.engine_asked in ("sample", "auto") else run.engine
    timing = f"{samples.timer}, {samples.interval * 1000:g} ms"
    mean = samples.mean_interval
    if mean is not None and mean > 0:
        timing += f"; a sample per {mean * 1000:.1f} ms of {'runnable' if samples.clock == 'runnable' else 'CPU'} time"
    counts = " + exact call counts" if run.calls is not None else " (no call counts)"
    waits = samples.waits
    waiting = f" + waiting on the wall clock ({waits.interval * 1000:g} ms)" if waits is not None else ""
    return f"sampling ({timing}){counts}{waiting}"


def _from_samples(run: CpuRun, samples: Samples, locator: Locator) -> Profile:
    """The sampling engine: shares from the stacks (samples.py), call counts from the compiled counters."""
    functions: Dict[FuncKey, FunctionProfile] = {}
    wall: Dict[str, float] = {phase: data.wall for phase, data in run.phases.items()}
    statements = run.statements
    samples, probe_time = _without_probe(samples, statements.spent if statements is not None else {})
    for phase, seconds in probe_time.items():
        if phase in wall:
            wall[phase] = max(wall[phase] - seconds, 0.0)

    def function_at(file: str, line: int, name: str) -> Optional[Tuple[FunctionProfile, bool]]:
        where = locator.code_object(file, line, name)
        if where is None or where.function is None:
            return None
        rel, mod, info, tree = where.rel, where.module, where.function, where.tree
        key = (rel, info.qualname)
        fp = functions.get(key)
        if fp is None:
            fp = functions[key] = FunctionProfile(
                rel, info.qualname, mod, info, tree, counted=False, source=where.source.text
            )
        return fp, name != info.name

    frames = samples.frames
    owners: Dict[int, Optional[Tuple[FuncKey, bool]]] = {}

    def owner(fi: int) -> Optional[Tuple[FuncKey, bool]]:
        if fi not in owners:
            found = None
            if 0 <= fi < len(frames):
                f = frames[fi]
                hit = function_at(f.file, f.line, f.name)
                if hit is not None:
                    found = ((hit[0].rel, hit[0].qualname), hit[1])
            owners[fi] = found
        return owners[fi]

    tests = samples.tests
    placed = [place(w, owner, frames) for w in samples.waits.stacks] if samples.waits is not None else []
    scale = _scales(samples, placed)
    stacks = samples.stacks
    if scale:
        stacks = tuple(replace(st, seconds=st.seconds * scale.get((st.phase, st.test), 1.0)) for st in stacks)
    sampled = aggregate(
        stacks,
        owner,
        frames,
        label=lambda k: f"{functions[k].module}:{functions[k].qualname}",
        name=lambda k: functions[k].info.name,
    )
    for key, sm in sampled.items():
        fp = functions[key]
        for p in PHASES:
            fp.own[p] += sm.own.get(p, 0.0)
            fp.cumulative[p] += sm.cumulative.get(p, 0.0)
            fp.project_callees[p] += sm.under_project_callees.get(p, 0.0)
        for attr in (
            "line_own",
            "callee_time",
            "project_callee_by_name",
            "caller_seconds",
            "line_seconds",
            "callee_lines",
        ):
            target = getattr(fp, attr)
            for k, v in getattr(sm, attr).items():
                target[k] += v
        for site, by_phase in sm.via.items():
            mine = fp.via.setdefault(site, {})
            for p, secs in by_phase.items():
                mine[p] = mine.get(p, 0.0) + secs
        for ti, secs in sm.tests.items():
            if 0 <= ti < len(tests):
                fp.tests[tests[ti]] += secs
    for wkey, w in aggregate_waits(placed, lambda phase, test: scale.get((phase, test), 1.0)).items():
        fp = functions[cast(FuncKey, wkey)]
        for p in PHASES:
            fp.wait[p] += w.wait.get(p, 0.0)
            fp.gil[p] += w.gil.get(p, 0.0)
        for line, secs in w.lines.items():
            fp.wait_lines[line] += secs
        for line, secs in w.gil_lines.items():
            fp.gil_lines[line] += secs
        for line, callees in w.via.items():
            into = fp.wait_via.setdefault(line, defaultdict(float))
            for callee, secs in callees.items():
                into[callee] += secs
        for ti, secs in w.tests.items():
            if 0 <= ti < len(tests):
                fp.tests[tests[ti]] += secs
    counting = 0.0
    uncounted: Dict[str, float] = {}  # per phase: the counters' cost taken out of the sampled time
    calls = run.calls
    if calls is not None:
        table = calls.functions
        for phase, rows in calls.phases.items():
            spent_in_phase = 0.0
            for i, n, nonprimitive in rows:
                if n <= 0:
                    continue
                f = table[i]
                hit = function_at(f.file, f.line, f.name)
                if hit is None:
                    continue
                fp = hit[0]
                fp.counted = True
                fp.calls_total += n
                fp.calls_primitive += n - nonprimitive
                spent = n * (calls.cost_ns.get("depth" if f.depth else "count") or 0.0) * 1e-9
                spent_in_phase += _uncount(fp, phase, spent)
            uncounted[phase] = spent_in_phase
            if phase in wall:
                counting += min(spent_in_phase, wall[phase] * 0.5)
                wall[phase] = max(wall[phase] - spent_in_phase, wall[phase] * 0.5)
        _attach_loops(calls.loops, locator, functions)
    totals: Dict[str, float] = {}
    for stack in stacks:
        totals[stack.phase] = totals.get(stack.phase, 0.0) + stack.seconds
    totals = {phase: seconds - uncounted.get(phase, 0.0) for phase, seconds in totals.items()}
    ran = frozenset(f"{fp.module}:{fp.qualname}" for fp in functions.values())
    waits = samples.waits
    return Profile(
        # scaled test phases fit their wall time already; without per-test walls, the phase's rule
        wall=wall if samples.walls else _cover_threads(wall, totals),
        functions=functions,
        ran=ran,
        engine="sample",
        engine_detail=engine_detail(run),
        counting_seconds=counting,
        waits_measured=waits is not None,
        harness_wait=harness_seconds(placed),
        wait_interval=waits.interval if waits is not None else 0.0,
    )


def _without_probe(samples: Samples, traced: Mapping[str, float]) -> Tuple[Samples, Dict[str, float]]:
    """The samples without those the probe's own code took, and that time by phase: it comes out
    of the wall time, as the counters' cost does.

    The statement counter's callback (probe/queries.py) is the exception: sqlite calls it as a
    statement starts, so a signal that arrived during sqlite's own work is handled at the
    callback's first instruction. Its samples are the probe's only up to the time the callback
    measured itself (`traced`, per phase); the rest is the statement's and goes to the caller."""
    probe = {i for i, f in enumerate(samples.frames) if PROBE_PATH in f.file.replace("\\", "/")}
    if not probe:
        return samples, {}
    trace = {i for i in probe if samples.frames[i].file.replace("\\", "/").endswith("/queries.py")}
    in_trace: Dict[str, float] = defaultdict(float)
    for st in samples.stacks:
        if st.frames and st.frames[-1][0] in trace:
            in_trace[st.phase] += st.seconds
    keep = {phase: max(secs - traced.get(phase, 0.0), 0.0) / secs for phase, secs in in_trace.items() if secs > 0}
    kept: List[Stack] = []
    by_phase: Dict[str, float] = defaultdict(float)
    by_test: Dict[Tuple[str, int], float] = defaultdict(float)
    for st in samples.stacks:
        if not st.frames or st.frames[-1][0] not in probe:
            kept.append(st)
            continue
        share = keep.get(st.phase, 0.0) if st.frames[-1][0] in trace else 0.0
        caller = st.frames
        while caller and caller[-1][0] in probe:
            caller = caller[:-1]
        if not caller:
            share = 0.0
        if share > 0:
            kept.append(replace(st, frames=caller, seconds=st.seconds * share))
        taken = st.seconds * (1.0 - share)
        by_phase[st.phase] += taken
        by_test[(st.phase, st.test)] += taken
    if not by_phase and len(kept) == len(samples.stacks):
        return samples, {}
    walls = tuple((p, t, max(w - by_test.get((p, t), 0.0), 0.0)) for p, t, w in samples.walls)
    return replace(samples, stacks=tuple(kept), walls=walls), dict(by_phase)


def _scales(samples: Samples, placed: List[Any]) -> Dict[Tuple[str, int], float]:
    """(phase, test) -> the factor that fits a test phase's sampled time into its wall time, where below 1.

    Sampled time: every thread's CPU samples plus the waiting that is part of the tests' time
    (waited.py): more than the main thread's wall time only where threads ran side by side."""
    walls = walls_by_test(samples.walls)
    if not walls:
        return {}
    totals: Dict[Tuple[str, int], float] = defaultdict(float)
    for st in samples.stacks:
        totals[(st.phase, st.test)] += st.seconds
    for key, secs in counted_by_test(placed).items():
        totals[key] += secs
    out = {}
    for key, total in totals.items():
        wall = walls.get(key, 0.0)
        if wall > 0 and total > wall:
            out[key] = wall / total
    return out


def _uncount(fp: FunctionProfile, phase: str, spent: float) -> float:
    """Take the call counter's own cost out of the function's sampled time; returns what was taken.

    The counter runs in the function's frame, so its cost was sampled as the function's own
    time; the probe measured it per call (cost_ns), and counts are exact. Never more than the
    samples hold: what was not sampled was not measured.
    """
    own = fp.own.get(phase, 0.0)
    taken = min(spent, own)
    if taken <= 0:
        return 0.0
    fp.own[phase] = own - taken
    fp.cumulative[phase] = max(fp.cumulative.get(phase, 0.0) - taken, fp.own[phase])
    if fp.line_own:
        # the prologue has the line of the body's first statement, or skids to the next check
        scale = 1.0 - taken / own
        total = sum(fp.line_own.values())
        for line in list(fp.line_own):
            if line in fp.line_seconds and total > 0:
                fp.line_seconds[line] = max(fp.line_seconds[line] - taken * fp.line_own[line] / total, 0.0)
            fp.line_own[line] *= scale
    return taken


def _attach_loops(loops: Sequence[CountedLoop], locator: Locator, functions: Dict[FuncKey, FunctionProfile]) -> None:
    """Exact loop iterations (the plain run's loop counters) onto the functions that ran."""
    for loop in loops:
        where = locator.function_at(loop.file, loop.line)
        if where is None or where.function is None:
            continue
        fp = functions.get((where.rel, where.function.qualname))
        if fp is not None:
            fp.loop_trips[(loop.line, loop.column)] = fp.loop_trips.get((loop.line, loop.column), 0) + loop.iterations
