"""From the probe's cProfile tables to project functions with own and attributable time.

- Only project code counts (sources.is_project_path): never tests, pytest, stdlib, site-packages,
  the probe.
- Generator expressions, comprehensions and lambdas are folded into the function that defines
  them, by source line range: their own time is the function's own time, their callees its callees.
- attributable = cumulative - cumulative of the project functions it calls directly, other than
  itself (recursive calls stay in). It is what changing this function's body can save.

Two engines feed it: cProfile's per-phase tables (`stats`), or the sampling engine's weighted
stacks (`samples`, turned into the same quantities by samples.py) with the compiled call counts
(`calls`). Either way the result is a `Profile` of `FunctionProfile`s.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from perfscan.passes.cpu.samples import aggregate
from perfscan.locate import Locator
from perfscan.sources import FunctionInfo

PHASES = ("setup", "call", "teardown")

FuncKey = Tuple[str, str]  # (relative file, qualname)


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
    tests: Dict[str, float] = field(default_factory=lambda: defaultdict(float))  # test node id -> attributable seconds
    counted: bool = True  # calls_total/calls_primitive are known (False: the function's calls were not counted)

    def attributable(self, phase: Optional[str] = None) -> float:
        phases = [phase] if phase else PHASES
        total = 0.0
        for p in phases:
            own = self.own.get(p, 0.0)
            total += max(own, self.cumulative.get(p, 0.0) - self.project_callees.get(p, 0.0))
        return total

    def own_total(self) -> float:
        return sum(self.own.values())

    def cumulative_total(self) -> float:
        return sum(self.cumulative.values())

    def main_phase(self) -> str:
        return max(PHASES, key=lambda p: self.attributable(p))


@dataclass(frozen=True)
class Profile:
    wall: Dict[str, float]
    functions: Dict[FuncKey, FunctionProfile]
    ran: frozenset  # "module:qualname" of every project function that ran
    engine: str = "cprofile"  # "cprofile" or "sample"
    engine_detail: str = "cProfile"  # for the report's CPU heading
    counting_seconds: float = 0.0  # the call counters' measured cost, taken out of the sampled times and the wall

    @property
    def total_wall(self) -> float:
        return sum(self.wall.values())


def build_profile(cpu_json: Dict[str, Any], root: Path, source_roots: Sequence[Path], exclude: Sequence[str] = ()) -> Profile:
    locator = Locator(root, source_roots, exclude)
    if isinstance(cpu_json.get("samples"), dict):
        return _from_samples(cpu_json, locator)
    functions: Dict[FuncKey, FunctionProfile] = {}
    wall: Dict[str, float] = {}
    totals: Dict[str, float] = {}  # every function's own time: more than the wall where threads ran side by side
    for phase, data in (cpu_json.get("phases") or {}).items():
        if phase not in PHASES or not isinstance(data, dict):
            continue
        wall[phase] = float(data.get("wall") or 0.0)
        totals[phase] = 0.0
        stats = data.get("stats") or []
        owners: List[Optional[FunctionProfile]] = []
        folded: List[bool] = []
        for entry in stats:
            file, line, name = entry[0], int(entry[1]), str(entry[2])
            where = locator.code_object(file, line, name)
            if where is None or where.function is None:
                owners.append(None)
                folded.append(False)
                continue
            rel, mod, info, tree = where.rel, where.module, where.function, where.tree
            key = (rel, info.qualname)
            fp = functions.get(key)
            if fp is None:
                fp = functions[key] = FunctionProfile(rel, info.qualname, mod, info, tree)
            owners.append(fp)
            folded.append(name != info.name)
        for i, entry in enumerate(stats):
            fp = owners[i]
            cc, nc, tt, ct = int(entry[3]), int(entry[4]), float(entry[5]), float(entry[6])
            totals[phase] += tt
            callers = entry[7] if len(entry) > 7 else []
            if fp is not None:
                fp.own[phase] += tt
                if not folded[i]:
                    fp.cumulative[phase] += ct
                    fp.calls_total += nc
                    fp.calls_primitive += cc
            for caller in callers:
                idx, _ccc, c_nc, _c_tt, c_ct = caller[0], caller[1], caller[2], caller[3], caller[4]
                if not (0 <= idx < len(owners)):
                    continue
                owner = owners[idx]
                if fp is not None and not folded[i]:
                    label = f"{owner.module}:{owner.qualname}" if owner is not None else _short(stats[idx])
                    if owner is not fp:
                        fp.callers[label] += int(c_nc)
                if owner is None:
                    continue
                if fp is not None and fp is not owner and not folded[i]:
                    owner.project_callees[phase] += float(c_ct)
                    owner.project_callee_by_name[fp.info.name] += float(c_ct)
                elif fp is None:
                    owner.callee_time[(str(entry[0]), str(entry[2]))] += float(c_ct)
    # a function with only folded entries (a generator consumed elsewhere) takes its own time as cumulative
    for fp in functions.values():
        for p in PHASES:
            if fp.cumulative.get(p, 0.0) < fp.own.get(p, 0.0):
                fp.cumulative[p] = fp.own[p]
    ran = frozenset(f"{fp.module}:{fp.qualname}" for fp in functions.values())
    return Profile(wall=_cover_threads(wall, totals), functions=functions, ran=ran, engine="cprofile",
                   engine_detail=engine_detail(cpu_json))


def _cover_threads(wall: Dict[str, float], profiled: Dict[str, float]) -> Dict[str, float]:
    """Threads running side by side hold more profiled time than the main thread's wall time (166
    threads read 1477% under cProfile): the denominator is then their total, and shares stay shares."""
    return {phase: max(seconds, profiled.get(phase, 0.0)) for phase, seconds in wall.items()}


def _short(entry: Sequence[Any]) -> str:
    file, line, name = str(entry[0]), entry[1], str(entry[2])
    if file == "~":
        return name
    return f"{os.path.basename(file)}:{line}({name})"


def engine_detail(cpu_json: Dict[str, Any]) -> str:
    """What measured, in words, e.g. "sampling (ITIMER_PROF, 1 ms; a sample per 4.0 ms of runnable time) + exact call counts"."""
    samples = cpu_json.get("samples")
    if not isinstance(samples, dict):
        engine = str(cpu_json.get("engine") or "cProfile")
        asked = cpu_json.get("engine_asked")
        return f"{engine} (sampling unavailable)" if asked in ("sample", "auto") else engine
    interval = float(samples.get("interval") or 0.0)
    mean = samples.get("mean_interval")
    timing = f"{samples.get('timer', 'ITIMER_PROF')}, {interval * 1000:g} ms"
    if isinstance(mean, (int, float)) and mean > 0:
        timing += f"; a sample per {mean * 1000:.1f} ms of {'runnable' if samples.get('clock') == 'runnable' else 'CPU'} time"
    counts = " + exact call counts" if isinstance(cpu_json.get("calls"), dict) else " (no call counts)"
    return f"sampling ({timing}){counts}"


def _from_samples(cpu_json: Dict[str, Any], locator: Locator) -> Profile:
    """The sampling engine: shares from the stacks (samples.py), call counts from the compiled counters."""
    samples = cpu_json["samples"]
    functions: Dict[FuncKey, FunctionProfile] = {}
    wall: Dict[str, float] = {}
    for phase, data in (cpu_json.get("phases") or {}).items():
        if phase in PHASES and isinstance(data, dict):
            wall[phase] = float(data.get("wall") or 0.0)

    def function_at(file: str, line: int, name: str) -> Optional[Tuple[FunctionProfile, bool]]:
        where = locator.code_object(file, line, name)
        if where is None or where.function is None:
            return None
        rel, mod, info, tree = where.rel, where.module, where.function, where.tree
        key = (rel, info.qualname)
        fp = functions.get(key)
        if fp is None:
            fp = functions[key] = FunctionProfile(rel, info.qualname, mod, info, tree, counted=False)
        return fp, name != info.name

    frames = samples.get("frames") or []
    owners: Dict[int, Optional[Tuple[FuncKey, bool]]] = {}

    def owner(fi: int) -> Optional[Tuple[FuncKey, bool]]:
        if fi not in owners:
            found = None
            if 0 <= fi < len(frames):
                f = frames[fi]
                hit = function_at(str(f[0]), int(f[1]), str(f[2]))
                if hit is not None:
                    found = ((hit[0].rel, hit[0].qualname), hit[1])
            owners[fi] = found
        return owners[fi]

    tests = [str(t) for t in samples.get("tests") or []]
    stacks = [e for e in samples.get("stacks") or [] if isinstance(e, list) and len(e) >= 4 and str(e[0]) in PHASES]
    sampled = aggregate(stacks, owner, frames, label=lambda k: f"{functions[k].module}:{functions[k].qualname}",
                        name=lambda k: functions[k].info.name)
    for key, sm in sampled.items():
        fp = functions[key]
        for p in PHASES:
            fp.own[p] += sm.own.get(p, 0.0)
            fp.cumulative[p] += sm.cumulative.get(p, 0.0)
            fp.project_callees[p] += sm.under_project_callees.get(p, 0.0)
        for attr in ("line_own", "callee_time", "project_callee_by_name", "caller_seconds"):
            target = getattr(fp, attr)
            for k, v in getattr(sm, attr).items():
                target[k] += v
        for ti, secs in sm.tests.items():
            if 0 <= ti < len(tests):
                fp.tests[tests[ti]] += secs
    calls = cpu_json.get("calls")
    counting = 0.0
    uncounted: Dict[str, float] = {}  # per phase: the counters' cost taken out of the sampled time
    if isinstance(calls, dict):
        table = calls.get("functions") or []
        cost = calls.get("cost_ns") if isinstance(calls.get("cost_ns"), dict) else {}
        for phase, rows in (calls.get("phases") or {}).items():
            if phase not in PHASES:
                continue
            spent_in_phase = 0.0
            for row in rows or []:
                i, n, nonprimitive = int(row[0]), int(row[1]), int(row[2])
                if not (0 <= i < len(table)) or n <= 0:
                    continue
                f = table[i]
                hit = function_at(str(f[0]), int(f[1]), str(f[2]))
                if hit is None:
                    continue
                fp = hit[0]
                fp.counted = True
                fp.calls_total += n
                fp.calls_primitive += n - nonprimitive
                spent = n * float(cost.get("depth" if (len(f) > 3 and f[3]) else "count") or 0.0) * 1e-9
                spent_in_phase += _uncount(fp, phase, spent)
            uncounted[phase] = spent_in_phase
            if phase in wall:
                counting += min(spent_in_phase, wall[phase] * 0.5)
                wall[phase] = max(wall[phase] - spent_in_phase, wall[phase] * 0.5)
    totals: Dict[str, float] = {}
    for entry in samples.get("stacks") or []:
        try:
            totals[str(entry[0])] = totals.get(str(entry[0]), 0.0) + float(entry[3])
        except (IndexError, TypeError, ValueError):
            continue
    totals = {phase: seconds - uncounted.get(phase, 0.0) for phase, seconds in totals.items()}
    ran = frozenset(f"{fp.module}:{fp.qualname}" for fp in functions.values())
    return Profile(wall=_cover_threads(wall, totals), functions=functions, ran=ran, engine="sample",
                   engine_detail=engine_detail(cpu_json), counting_seconds=counting)


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
        for line in list(fp.line_own):
            fp.line_own[line] *= scale
    return taken
