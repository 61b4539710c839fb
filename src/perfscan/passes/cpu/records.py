"""The probe's `cpu.json` as typed records, validated and defaulted once, as it is read.

Shape (the probe's cpu.py, sampler.py and calls.py write it; the probe's contract.py documents it):
- engine ("cProfile" or "sample"), engine_asked (a fallback says what was asked), python, threads
- phases: {setup|call|teardown: {"wall": s, "cpu": s, "stats": [entry]}}, entry =
  [file, line, name, cc, nc, tt, ct, [[caller index, cc, nc, tt, ct], ...]] (cProfile engine)
- samples (sampling engine): timer, interval, mean_interval, samples, sampled_seconds,
  handler_seconds, clock, thread_cpu, tests [node id], frames [[file, first line, name]],
  stacks [[phase, test index, [[frame index, line], ...outermost first], seconds, samples]],
  walls and waits (waitrecords.py)
- queries: the statements the tests ran (waitrecords.py)
- calls (compiled counters): functions [[file, first line, name, depth?]],
  phases {phase: [[function index, calls, recursive calls]]}, cost_ns {"count": ns, "depth": ns},
  loops [[file, line, column, iterations]] (the plain run's loop counters)
- errors [str]

What does not fit the shape (a wrong type, an index out of range) is left out rather than
raised: a profile with a broken entry still reports everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from perfscan.passes.cpu.waitrecords import (
    Queries,
    Waits,
    WaitStack,
    pool_waits,
    reindex_test,
    walls_from_json,
)

PHASES = ("setup", "call", "teardown")


def _float(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    value = float(value)
    return value if math.isfinite(value) else default


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value) if math.isfinite(value) else default


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _dict(value: Any) -> Dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _key(value: Any) -> Optional[Tuple[str, int, str]]:
    """(file, first line, name) of a code object, from [file, line, name, ...]."""
    if not isinstance(value, (list, tuple)) or len(value) < 3 or not isinstance(value[1], (int, float)):
        return None
    return str(value[0]), _int(value[1]), str(value[2])


@dataclass(frozen=True)
class CallerEdge:
    """One caller of a cProfile entry: the caller's index in the same phase's table and the edge's figures."""

    index: int
    cc: int
    nc: int
    tt: float
    ct: float


@dataclass(frozen=True)
class StatsEntry:
    """One row of cProfile's table for a phase."""

    file: str
    line: int
    name: str
    cc: int  # primitive calls
    nc: int  # all calls
    tt: float  # own seconds
    ct: float  # cumulative seconds
    callers: Tuple[CallerEdge, ...] = ()

    @property
    def key(self) -> Tuple[str, int, str]:
        return self.file, self.line, self.name

    @classmethod
    def from_json(cls, raw: Any, size: int) -> Optional[StatsEntry]:
        """`size`: the phase table's length, which every caller index must fall inside."""
        key = _key(raw)
        if key is None or len(raw) < 7:
            return None
        callers = []
        for c in _list(raw[7]) if len(raw) > 7 else []:
            if isinstance(c, (list, tuple)) and len(c) >= 5 and isinstance(c[0], int) and 0 <= c[0] < size:
                callers.append(CallerEdge(c[0], _int(c[1]), _int(c[2]), _float(c[3]), _float(c[4])))
        return cls(*key, _int(raw[3]), _int(raw[4]), _float(raw[5]), _float(raw[6]), tuple(callers))


@dataclass(frozen=True)
class Phase:
    wall: float = 0.0  # main-thread wall seconds: what every share divides by
    cpu: float = 0.0  # process CPU seconds
    stats: Tuple[StatsEntry, ...] = ()  # cProfile engine only

    @classmethod
    def from_json(cls, raw: Any) -> Phase:
        raw = raw if isinstance(raw, dict) else {}
        rows = _list(raw.get("stats"))
        entries = [StatsEntry.from_json(r, len(rows)) for r in rows]
        if any(e is None for e in entries):
            # a dropped row would shift every caller index after it: keep the table only when whole
            entries = []
        return cls(_float(raw.get("wall")), _float(raw.get("cpu")), tuple(e for e in entries if e is not None))


@dataclass(frozen=True)
class Frame:
    file: str
    line: int  # the code object's first line
    name: str


@dataclass(frozen=True)
class Stack:
    """Samples of one (phase, test, stack): `frames` is ((frame index, line), ...), outermost first."""

    phase: str
    test: int  # index into Samples.tests
    frames: Tuple[Tuple[int, int], ...]
    seconds: float
    count: int = 1


@dataclass(frozen=True)
class Samples:
    """The sampling engine's weighted stacks."""

    timer: str = "ITIMER_PROF"
    interval: float = 0.0
    mean_interval: Optional[float] = None
    samples: int = 0
    sampled_seconds: float = 0.0
    handler_seconds: float = 0.0
    clock: Optional[str] = None  # "runnable" or a CPU clock
    thread_cpu: bool = False
    tests: Tuple[str, ...] = ()
    frames: Tuple[Frame, ...] = ()
    stacks: Tuple[Stack, ...] = ()
    walls: Tuple[Tuple[str, int, float], ...] = ()  # (phase, test index, main-thread wall seconds)
    waits: Optional[Waits] = None  # the waiting sampler's stacks

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Samples:
        frames = tuple(Frame(*k) for k in (_key(f) for f in _list(raw.get("frames"))) if k is not None)
        if len(frames) != len(_list(raw.get("frames"))):
            frames = ()  # indexes into a table with holes would name the wrong code
        stacks = []
        for entry in _list(raw.get("stacks")):
            stack = _stack(entry, len(frames))
            if stack is not None:
                stacks.append(stack)
        mean = raw.get("mean_interval")
        return cls(
            timer=str(raw.get("timer") or "ITIMER_PROF"),
            interval=_float(raw.get("interval")),
            mean_interval=_float(mean) if isinstance(mean, (int, float)) and not isinstance(mean, bool) else None,
            samples=_int(raw.get("samples")),
            sampled_seconds=_float(raw.get("sampled_seconds")),
            handler_seconds=_float(raw.get("handler_seconds")),
            clock=str(raw["clock"]) if raw.get("clock") is not None else None,
            thread_cpu=bool(raw.get("thread_cpu")),
            tests=tuple(str(t) for t in _list(raw.get("tests"))),
            frames=frames,
            stacks=tuple(stacks),
            walls=walls_from_json(raw.get("walls")),
            waits=Waits.from_json(raw.get("waits"), len(frames)),
        )


def _stack(entry: Any, frames: int) -> Optional[Stack]:
    if not isinstance(entry, (list, tuple)) or len(entry) < 4 or str(entry[0]) not in PHASES:
        return None
    if not isinstance(entry[1], int) or isinstance(entry[1], bool):
        return None
    steps = []
    for step in _list(entry[2]):
        if not (
            isinstance(step, (list, tuple)) and len(step) >= 2 and isinstance(step[0], int) and 0 <= step[0] < frames
        ):
            return None
        steps.append((step[0], _int(step[1])))  # the line is None where the interpreter knows none
    return Stack(str(entry[0]), entry[1], tuple(steps), _float(entry[3]), _int(entry[4], 1) if len(entry) > 4 else 1)


@dataclass(frozen=True)
class CountedFunction:
    file: str
    line: int  # first line (decorators included), as code objects report it
    name: str
    depth: bool = False  # counted with a depth counter (a recursive function): the dearer counter


@dataclass(frozen=True)
class CountedLoop:
    """A loop's exact iterations over the run (counted in the plain run only; docs/design.md "The passes", CPU)."""

    file: str
    line: int  # where the loop's target is (a while loop: its test)
    column: int
    iterations: int


@dataclass(frozen=True)
class CallCounts:
    """Exact call counts compiled into the project's functions."""

    functions: Tuple[CountedFunction, ...] = ()
    phases: Mapping[str, Tuple[Tuple[int, int, int], ...]] = field(
        default_factory=dict
    )  # (function index, calls, recursive)
    cost_ns: Mapping[str, float] = field(default_factory=dict)  # a counter's cost per call: "count", "depth"
    method: str = "compiled counters"
    # calls that can wait, counted per call site: (file, line, callee name) -> calls in the profiled phases
    sites: Mapping[Tuple[str, int, str], int] = field(default_factory=dict)
    queries: Optional[Queries] = None  # the database statements the counted run ran
    loops: Tuple[CountedLoop, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CallCounts:
        functions = []
        for f in _list(raw.get("functions")):
            key = _key(f)
            functions.append(
                CountedFunction(*key, bool(f[3]) if len(f) > 3 else False)
                if key is not None
                else CountedFunction("", 0, "")
            )  # keeps the indexes of the rows after it
        phases: Dict[str, Tuple[Tuple[int, int, int], ...]] = {}
        for phase, rows in _dict(raw.get("phases")).items():
            if phase in PHASES:
                phases[phase] = tuple(
                    (r[0], _int(r[1]), _int(r[2]))
                    for r in _list(rows)
                    if isinstance(r, (list, tuple))
                    and len(r) >= 3
                    and isinstance(r[0], int)
                    and 0 <= r[0] < len(functions)
                )
        loops = tuple(
            CountedLoop(str(r[0]), _int(r[1]), _int(r[2]), _int(r[3]))
            for r in _list(raw.get("loops"))
            if isinstance(r, (list, tuple)) and len(r) >= 4 and _int(r[3]) > 0
        )
        return cls(
            tuple(functions),
            phases,
            {str(k): _float(v) for k, v in _dict(raw.get("cost_ns")).items()},
            str(raw.get("method") or "compiled counters"),
            _sites(_dict(raw.get("sites"))),
            Queries.from_json(raw.get("queries")),
            loops,
        )


def _sites(raw: Mapping[str, Any]) -> Dict[Tuple[str, int, str], int]:
    table = [_key(s) for s in _list(raw.get("sites"))]
    out: Dict[Tuple[str, int, str], int] = {}
    for phase, rows in _dict(raw.get("phases")).items():
        if phase not in PHASES:
            continue
        for r in _list(rows):
            if isinstance(r, (list, tuple)) and len(r) >= 2 and isinstance(r[0], int) and 0 <= r[0] < len(table):
                key = table[r[0]]
                if key is not None:
                    out[key] = out.get(key, 0) + _int(r[1])
    return out


@dataclass(frozen=True)
class CpuRun:
    """One `cpu.json`, or several sampled runs of the same tests pooled by `combine`."""

    engine: str = "cProfile"  # "cProfile" or "sample"
    engine_asked: Optional[str] = None  # set when the probe fell back from the engine asked
    python: str = ""
    threads: Union[int, str, None] = None  # how threads were covered, in words (or a count)
    phases: Mapping[str, Phase] = field(default_factory=dict)
    samples: Optional[Samples] = None  # the sampling engine's stacks
    calls: Optional[CallCounts] = None
    queries: Optional[Queries] = None  # the cProfile engine's statements (the counters' are in `calls`)
    errors: Tuple[str, ...] = ()
    runs: int = 1  # sampled runs pooled into this one

    @property
    def wall(self) -> float:
        return sum(p.wall for p in self.phases.values())

    @property
    def statements(self) -> Optional[Queries]:
        """The statements of one run: counted with the calls, or by the cProfile engine."""
        if self.calls is not None and self.calls.queries is not None:
            return self.calls.queries
        return self.queries

    @classmethod
    def from_json(cls, raw: Any) -> CpuRun:
        raw = raw if isinstance(raw, dict) else {}
        raw_phases = raw.get("phases") if isinstance(raw.get("phases"), dict) else {}
        phases = {name: Phase.from_json(p) for name, p in raw_phases.items() if name in PHASES and isinstance(p, dict)}
        samples = Samples.from_json(raw["samples"]) if isinstance(raw.get("samples"), dict) else None
        calls = CallCounts.from_json(raw["calls"]) if isinstance(raw.get("calls"), dict) and raw["calls"] else None
        threads = raw.get("threads")
        return cls(
            engine=str(raw.get("engine") or "cProfile"),
            engine_asked=str(raw["engine_asked"]) if raw.get("engine_asked") is not None else None,
            python=str(raw.get("python") or ""),
            threads=threads if isinstance(threads, (int, str)) and not isinstance(threads, bool) else None,
            phases=phases,
            samples=samples,
            calls=calls,
            queries=Queries.from_json(raw.get("queries")),
            errors=tuple(str(e) for e in _list(raw.get("errors"))),
        )


def combine(a: CpuRun, b: CpuRun) -> CpuRun:
    """Pool two sampled runs of the same tests: walls, CPU and sample counts add; b's stacks are
    re-indexed into a's frames table and tests list. The rest (engine, calls, threads) is a's."""
    phases = {
        name: Phase(
            wall=a.phases.get(name, Phase()).wall + b.phases.get(name, Phase()).wall,
            cpu=a.phases.get(name, Phase()).cpu + b.phases.get(name, Phase()).cpu,
        )
        for name in list(a.phases) + [n for n in b.phases if n not in a.phases]
    }
    errors = a.errors + tuple(e for e in b.errors if e not in a.errors)
    return replace(
        a,
        phases=phases,
        samples=_pool(a.samples, b.samples),
        errors=errors,
        runs=a.runs + b.runs,
    )


def merge_workers(parts: Sequence[Optional[CpuRun]]) -> Optional[CpuRun]:
    """The sampled runs of pytest-xdist workers, each over its share of the tests, as one run:
    walls, CPU and samples add (the shares divide by every worker's test time), still one run."""
    found = [p for p in parts if p is not None]
    if not found or len(found) != len(parts):
        return None  # a worker that wrote nothing: its tests would be missing from the shares
    merged = found[0]
    for more in found[1:]:
        merged = combine(merged, more)
    return replace(merged, runs=found[0].runs)


def _pool(a: Optional[Samples], b: Optional[Samples]) -> Optional[Samples]:
    if a is None or b is None:
        return a or b
    frames = list(a.frames)
    frame_index = {f: i for i, f in enumerate(frames)}
    tests = list(a.tests)
    test_index = {t: i for i, t in enumerate(tests)}

    def steps_of(old: Tuple[Tuple[int, int], ...]) -> Tuple[Tuple[int, int], ...]:
        steps = []
        for fi, line in old:
            frame = b.frames[fi]
            if frame not in frame_index:
                frame_index[frame] = len(frames)
                frames.append(frame)
            steps.append((frame_index[frame], line))
        return tuple(steps)

    def move(s: WaitStack) -> WaitStack:
        return replace(s, test=reindex_test(s.test, b.tests, tests, test_index), frames=steps_of(s.frames))

    stacks = list(a.stacks)
    for s in b.stacks:
        stacks.append(replace(s, test=reindex_test(s.test, b.tests, tests, test_index), frames=steps_of(s.frames)))
    walls = a.walls + tuple((p, reindex_test(t, b.tests, tests, test_index), w) for p, t, w in b.walls)
    waits = pool_waits(a.waits, b.waits, move)
    return replace(
        a,
        samples=a.samples + b.samples,
        sampled_seconds=a.sampled_seconds + b.sampled_seconds,
        handler_seconds=a.handler_seconds + b.handler_seconds,
        tests=tuple(tests),
        frames=tuple(frames),
        stacks=tuple(stacks),
        walls=walls,
        waits=waits,
    )


def with_counts(run: CpuRun, counts: Mapping[str, Any], same_run: bool = False) -> CpuRun:
    """A sampled run with the exact counts of the plain run of the same tests. Taken in another
    run, the counters' cost is not in this run's samples: no cost to take out. Taken in this very
    run (the timing run sampled too, docs/design.md "One run, two jobs"), their measured cost per
    call stays, and the profile takes it out of the samples of that run (pooled runs have none)."""
    if same_run:
        raw = dict(counts, method="compiled counters, in the sampled plain run")
    else:
        raw = dict(counts, cost_ns={}, method="compiled counters, in the plain run")
    return replace(run, calls=CallCounts.from_json(raw))
