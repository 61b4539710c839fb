"""CPU pass: the target tests under a CPU engine (in the probe), ranked by attributable share.

The denominator of every share is the wall time of all profiled phases (setup, call, teardown)
measured on the main thread. Reported: project functions whose attributable share is above 2%.

Engines (`--cpu-engine`, `[tool.perfscan] cpu-engine`, or the PERFSCAN_CPU_ENGINE environment variable):
- cprofile: deterministic; exact call counts and callee times, but slow on call-heavy code
  and biased: it inflates functions that make many Python calls and deflates time in C.
- sample: CPU-time samples of every thread's stack for the shares, with exact call counts
  compiled into the project's functions (the probe's sampler.py and calls.py). Callee time of
  a C function (list.pop, sorted), which has no frame, is the function's own samples at the
  lines that call it.
- auto (default): sample where the probe can sample (POSIX, SIGPROF free), else cprofile.
"""
from __future__ import annotations

import ast
import marshal
import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from perfscan.astutil import package_of
from perfscan.locate import is_harness
from perfscan.models import Artifact, Finding, Metric, PassResult
from perfscan.passes import PassContext
from perfscan.passes.cpu.patterns import choose
from perfscan.passes.cpu.patterns.astkit import module_aliases
from perfscan.passes.cpu.patterns.base import CalleeTest, FunctionFacts
from perfscan.passes.cpu.profile import FunctionProfile, Profile, build_profile
from perfscan.passes.cpu.samples import c_call_names
from perfscan.probe_host import run_target
from perfscan.safetext import clean_text

MIN_SAMPLED_SECONDS = 4.0  # pooled phase time a sampled profile should cover
MAX_SAMPLED_RUNS = 4


def _phase_wall(data: dict) -> float:
    return sum(float((p or {}).get("wall") or 0.0) for p in (data.get("phases") or {}).values())


def merge_sampled_runs(a: dict, b: dict) -> dict:
    """Pool two sampled runs of the same tests: walls and CPU add, stacks are re-indexed into one
    frames table and one tests list."""
    sa, sb = dict(a.get("samples") or {}), b.get("samples") or {}
    frames = [list(f) for f in sa.get("frames") or []]
    fidx = {tuple(f): i for i, f in enumerate(frames)}
    tests = list(sa.get("tests") or [])
    tidx = {t: i for i, t in enumerate(tests)}
    stacks = [list(x) for x in sa.get("stacks") or []]
    bframes, btests = sb.get("frames") or [], sb.get("tests") or []
    for phase, test, encoded, seconds, count in sb.get("stacks") or []:
        ti = test
        if isinstance(test, int) and 0 <= test < len(btests):
            name = btests[test]
            if name not in tidx:
                tidx[name] = len(tests)
                tests.append(name)
            ti = tidx[name]
        enc = []
        for fi, line in encoded:
            key = tuple(bframes[fi])
            if key not in fidx:
                fidx[key] = len(frames)
                frames.append(list(key))
            enc.append([fidx[key], line])
        stacks.append([phase, ti, enc, seconds, count])
    for key in ("samples", "sampled_seconds", "handler_seconds"):
        sa[key] = (sa.get(key) or 0) + (sb.get(key) or 0)
    sa.update(frames=frames, tests=tests, stacks=stacks)
    phases = {}
    for name in set(a.get("phases") or {}) | set(b.get("phases") or {}):
        pa, pb = (a.get("phases") or {}).get(name) or {}, (b.get("phases") or {}).get(name) or {}
        phases[name] = dict(pa, wall=float(pa.get("wall") or 0) + float(pb.get("wall") or 0),
                            cpu=float(pa.get("cpu") or 0) + float(pb.get("cpu") or 0), stats=[])
    errors = list(a.get("errors") or []) + [e for e in b.get("errors") or [] if e not in (a.get("errors") or [])]
    return dict(a, samples=sa, phases=phases, errors=errors)
ENGINES = ("cprofile", "sample", "auto")
DEFAULT_ENGINE = "auto"
ENGINE_ENV = "PERFSCAN_CPU_ENGINE"


def cpu_engine(ctx: PassContext) -> Tuple[str, str]:
    """The engine asked for (settings' cpu_engine, else $PERFSCAN_CPU_ENGINE, else the default), and a note when it is not valid."""
    asked = getattr(ctx.settings, "cpu_engine", None) or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE
    engine = str(asked).strip().lower()
    if engine not in ENGINES:
        return DEFAULT_ENGINE, f"unknown CPU engine {asked!r} (use one of {', '.join(ENGINES)}); used {DEFAULT_ENGINE}"
    return engine, ""


def amdahl(share_pct: float) -> float:
    """At most this speed-up of the profiled tests from removing this share entirely."""
    p = min(max(share_pct / 100.0, 0.0), 0.999)
    return 1.0 / (1.0 - p)


def run_cpu_pass(ctx: PassContext) -> PassResult:
    """The section's `ran` holds every project function that ran (the async pass wants it).

    `ctx.inputs.plain_counts`: exact call counts taken in the plain run of the same tests; with
    them the sampled run carries no counters (their cost would sit inside the shares)."""
    start = time.monotonic()
    counts = dict(ctx.inputs.plain_counts) if ctx.inputs.plain_counts is not None else None
    engine, engine_note = cpu_engine(ctx)
    options = {"engine": engine}
    if counts is not None and engine != "cprofile":
        options["count"] = "0"
    run = run_target("cpu", ctx, options=options)
    data = run.read("cpu.json")
    fallback_note = ""
    if (data is None and engine != "cprofile" and run.child.signal_name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL")
            and time.monotonic() - start + run.child.seconds * 2 < ctx.timeout):
        # the sampler reads other threads from a signal handler: if the process died of a crash
        # during the sampled run, the deterministic profiler still gives the pass its profile
        fallback_note = (f"the sampled run was {run.child.describe_exit()}; the profile comes from cProfile instead "
                         "(shares inflated for call-heavy code)")
        engine, options = "cprofile", {"engine": "cprofile"}
        run = run_target("cpu", ctx, options=options, name="cpu-cprofile")
        data = run.read("cpu.json")
    runs = 1
    # A short run gives few samples (one per ~4 ms of CPU): sample it again, within the pass's
    # time, until the pooled phases cover MIN_SAMPLED_SECONDS, so a share near a threshold is not
    # decided by a handful of ticks.
    while (data is not None and data.get("engine") == "sample" and counts is not None and runs < MAX_SAMPLED_RUNS
           and _phase_wall(data) < MIN_SAMPLED_SECONDS and run.child.returncode in (0, 1)
           and time.monotonic() - start + run.child.seconds * 1.5 < ctx.timeout * 0.8):
        again = run_target("cpu", ctx, options=options, name=f"cpu-{runs + 1}")
        more = again.read("cpu.json")
        if more is None or more.get("engine") != "sample":
            break
        data = merge_sampled_runs(data, more)
        runs += 1
    if runs > 1:
        data = dict(data, pooled_runs=runs)
    if data is not None and counts is not None and data.get("engine") == "sample" and not data.get("calls"):
        # counted in another run: nothing of the counters' cost to take out of this one
        data = dict(data, calls=dict(counts, cost_ns={}, method="compiled counters, in the plain run"))
    failure = run.failure_note(bool(ctx.target.exec_command), "profiled", "what ran until then is still in the profile")
    notes: List[str] = [n for n in (engine_note, fallback_note, failure) if n]
    if data is None:
        status = "timed-out" if run.child.timed_out else "failed"
        error = f"the profiled test run {run.child.describe_exit()} and wrote no profile"
        tail = run.child.tail(6)
        return PassResult("cpu", status, time.monotonic() - start, error + (f": {tail}" if tail else ""), notes=tuple(notes))
    for err in data.get("errors") or []:
        notes.append(f"profiler: {err}")
    profile = build_profile(data, ctx.project.root, ctx.project.source_roots, ctx.settings.exclude)
    harness = () if ctx.target.mode == "exec" else ctx.project.pytest_plugins
    findings = _findings(profile, "run" if ctx.target.mode == "exec" else "tests", runs, ctx.settings.thresholds.floor("cpu"),
                         harness)
    if harness:
        notes.append(f"the project's own pytest plugin ({', '.join(harness)}) runs the tests: its functions are "
                     "not reported as hotspots")
    artifacts = []
    pstats_path = _write_pstats(data, ctx.out_dir)
    if pstats_path is not None:
        artifacts.append(Artifact(pstats_path, "CPU profile of the profiled tests (pstats)",
                                  f"python -m pstats {pstats_path.name}  (or: snakeviz {pstats_path.name})"))
    collapsed = _write_collapsed(data, ctx.out_dir)
    if collapsed is not None:
        artifacts.append(Artifact(collapsed, "CPU samples of the profiled tests as collapsed stacks (microseconds)",
                                  f"flamegraph.pl {collapsed.name} > cpu.svg  (or open it in speedscope.app)"))
    status = "ok"
    error = ""
    if run.child.timed_out:
        status, error = "timed-out", f"the profiled test run timed out after {run.child.seconds:.0f} s; the profile covers the tests that ran"
    elif run.child.returncode not in (0, 1) and not failure:
        error = f"the profiled test run {run.child.describe_exit()}"
        status = "failed" if not profile.functions else "ok"
    threads = data.get("threads")
    section = {
        "engine": profile.engine_detail + (f"; {runs} runs pooled" if runs > 1 else ""),
        "engine_id": profile.engine,
        "engine_asked": engine,
        # seconds are per run of the tests (pooled runs divided back), so two scans compare
        "wall_seconds": profile.total_wall / runs,
        "phase_seconds": {k: v / runs for k, v in profile.wall.items()},
        "threads": threads,
        "counting_seconds": round(profile.counting_seconds, 6),  # the call counters' cost, taken out of the shares
        "functions_seen": len(profile.functions),
        "ran": profile.ran,  # for the async pass; not written to the JSON report
        "top": _top_table(profile),
        # every project function's attributable seconds: `perfscan diff` compares absolute time, since
        # shares shift when another function gets faster
        "functions": {f"{f.module}:{f.qualname}": round(f.attributable() / runs, 6)
                      for f in sorted(profile.functions.values(), key=lambda f: f.attributable(), reverse=True)[:2000]},
    }
    return PassResult("cpu", status, time.monotonic() - start, error, tuple(findings), tuple(artifacts), tuple(notes), section)


def _top_table(profile: Profile, limit: int = 12) -> List[Dict[str, object]]:
    wall = profile.total_wall or 1e-9
    rows = sorted(profile.functions.values(), key=lambda f: f.attributable(), reverse=True)[:limit]
    return [{"function": f"{f.module}:{f.qualname}", "file": f.rel, "line": f.info.lineno,
             "attributable_pct": round(100 * f.attributable() / wall, 1), "own_pct": round(100 * f.own_total() / wall, 1),
             "cumulative_pct": round(100 * f.cumulative_total() / wall, 1), "calls": f.calls_total if f.counted else None,
             "primitive_calls": f.calls_primitive if f.counted else None} for f in rows]


def _class_of(tree: ast.Module, qualname: str) -> Optional[ast.ClassDef]:
    parts = qualname.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == parts[-2]:
            return node
    return None


def _findings(profile: Profile, what: str = "tests", runs: int = 1, floor: float = 2.0,
              harness: Tuple[str, ...] = ()) -> List[Finding]:
    # `what`: "tests", or "run" for the command of `perfscan exec`; `harness`: the project's own
    # pytest plugins, which run the tests (an event loop, fixtures) and are no product hotspot
    wall = profile.total_wall
    if wall <= 0:
        return []
    out = []
    aliases_cache: Dict[str, dict] = {}
    for fp in profile.functions.values():
        if harness and is_harness(fp.module, harness):
            continue
        attributable = fp.attributable()
        share = round(100.0 * attributable / wall, 1)
        if share <= floor:
            continue
        tree = fp.tree
        if fp.rel not in aliases_cache:
            package = package_of(fp.module, fp.rel.endswith("__init__.py"))
            aliases_cache[fp.rel] = module_aliases(tree, package) if tree is not None else {}
        class_node = _class_of(tree, fp.qualname) if tree is not None else None
        if profile.engine == "sample":
            facts = _sampled_facts(fp, class_node, aliases_cache[fp.rel], attributable)
        else:
            def callee_seconds(test: CalleeTest, fp=fp) -> float:
                return sum(t for (file, name), t in fp.callee_time.items() if test(file, name))

            facts = FunctionFacts(node=fp.info.node, class_node=class_node,
                                  aliases=aliases_cache[fp.rel], own_seconds=fp.own_total(), attributable_seconds=attributable,
                                  calls_total=fp.calls_total, calls_primitive=fp.calls_primitive,
                                  callee_seconds=callee_seconds,
                                  project_callee_seconds=lambda name, fp=fp: fp.project_callee_by_name.get(name, 0.0))
        match = choose(facts)
        pattern = match.pattern if match else "none"
        line = match.line if match else fp.info.lineno
        evidence = (match.evidence + "; " if match else "") + _calls_text(fp)
        callers = _callers_text(fp)
        if callers:
            evidence += "; called from " + callers
        phase = fp.main_phase()
        speedup = amdahl(share)
        details = {"def_line": fp.info.lineno, "own_pct": round(100 * fp.own_total() / wall, 1),
                   "cumulative_pct": round(100 * fp.cumulative_total() / wall, 1),
                   "calls": fp.calls_total if fp.counted else None,
                   "primitive_calls": fp.calls_primitive if fp.counted else None, "callers": _top_callers(fp),
                   "attributable_seconds": round(attributable / runs, 6),
                   "phase_seconds": {p: round(fp.attributable(p) / runs, 6) for p in ("setup", "call", "teardown")}}
        if fp.tests:
            details["tests"] = [t for t, _ in sorted(fp.tests.items(), key=lambda kv: kv[1], reverse=True)[:3]]
        out.append(Finding(
            domain="cpu", symbol=fp.info.name, qualname=f"{fp.module}:{fp.qualname}", module=fp.module, file=fp.rel,
            line=line, metric=Metric(round(share, 1), "%", f"{round(share, 1):.0f}% of profiled {what[:-1] if what == 'tests' else what} time" if share >= 10
                                                else f"{share:.1f}% of profiled {what[:-1] if what == 'tests' else what} time"),
            pattern=pattern, evidence=evidence,
            estimated_impact=f"up to {speedup:.2f}x on the profiled {what} (Amdahl: {share:.1f}% removed)",
            phase=phase,
            details=details,
        ))
    return out


def _sampled_facts(fp: FunctionProfile, class_node: Optional[ast.ClassDef], aliases: dict, attributable: float) -> FunctionFacts:
    """Pattern facts from samples.

    A C callee has no frame: its time is the function's own samples at the lines that call it
    (`line_own`, matched against cProfile-style names of the calls on each line). The same
    samples must not back a structural pattern too, as cProfile's tottime (which excludes C
    callees) would not: a first round of the patterns finds which call lines back a call
    pattern, and the own time that structural patterns see is the own time at the other lines.
    """
    c_names = c_call_names(fp.info.node, aliases)

    def python_callees(test: CalleeTest) -> float:
        return sum(t for (file, name), t in fp.callee_time.items() if file != "~" and test(file, name))

    def c_lines(test: CalleeTest) -> List[int]:
        return [line for line, names in c_names.items() if fp.line_own.get(line, 0.0) > 0 and any(test("~", n) for n in names)]

    def callee_seconds(test: CalleeTest) -> float:
        return python_callees(test) + sum(fp.line_own[line] for line in c_lines(test))

    claimed: set = set()

    def claiming(test: CalleeTest) -> float:
        lines = c_lines(test)
        claimed.update(lines)
        return python_callees(test) + sum(fp.line_own[line] for line in lines)

    def facts(own: float, callees: Callable[[CalleeTest], float]) -> FunctionFacts:
        return FunctionFacts(node=fp.info.node, class_node=class_node, aliases=aliases, own_seconds=own,
                             attributable_seconds=attributable, calls_total=fp.calls_total if fp.counted else 0,
                             calls_primitive=fp.calls_primitive if fp.counted else 0, callee_seconds=callees,
                             project_callee_seconds=lambda name: fp.project_callee_by_name.get(name, 0.0))

    choose(facts(fp.own_total(), claiming))
    structural_own = max(fp.own_total() - sum(fp.line_own.get(line, 0.0) for line in claimed), 0.0)
    return facts(structural_own, callee_seconds)


def _calls_text(fp: FunctionProfile) -> str:
    if not fp.counted:
        return "calls not counted"
    return (f"{fp.calls_total:,} call{'' if fp.calls_total == 1 else 's'}"
            + (f" ({fp.calls_primitive:,} primitive)" if fp.calls_primitive != fp.calls_total else ""))


def _top_callers(fp: FunctionProfile) -> List[str]:
    table = fp.callers if fp.callers else fp.caller_seconds
    return [c for c, _ in sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:3]]


def _callers_text(fp: FunctionProfile) -> str:
    if fp.callers:  # cProfile: call counts per caller
        top = sorted(fp.callers.items(), key=lambda kv: kv[1], reverse=True)[:3]
        return ", ".join(f"{c} ({n:,}x)" for c, n in top)
    total = sum(fp.caller_seconds.values())
    if total <= 0:
        return ""
    top = sorted(fp.caller_seconds.items(), key=lambda kv: kv[1], reverse=True)[:3]
    return ", ".join(f"{c} ({100 * t / total:.0f}% of its samples)" for c, t in top)


def _write_pstats(data: dict, out_dir: Path) -> Optional[Path]:
    """All phases merged into a pstats file (snakeviz, tuna, `python -m pstats`)."""
    merged: Dict[tuple, list] = _pstats_of_samples(data) if isinstance(data.get("samples"), dict) else {}
    for phase in (data.get("phases") or {}).values():
        stats = phase.get("stats") or []
        keys = [(str(e[0]), int(e[1]), str(e[2])) for e in stats]
        for key, e in zip(keys, stats):
            cur = merged.setdefault(key, [0, 0, 0.0, 0.0, {}])
            cur[0] += int(e[3]); cur[1] += int(e[4]); cur[2] += float(e[5]); cur[3] += float(e[6])
            for c in e[7] if len(e) > 7 else []:
                ckey = keys[c[0]]
                prev = cur[4].get(ckey, (0, 0, 0.0, 0.0))
                cur[4][ckey] = (prev[0] + c[1], prev[1] + c[2], prev[2] + c[3], prev[3] + c[4])
    if not merged:
        return None
    stats = {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in merged.items()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "cpu.pstats"
        tmp = out_dir / f".cpu.pstats.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            marshal.dump(stats, fh)
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def _write_collapsed(data: dict, out_dir: Path) -> Optional[Path]:
    """The samples as collapsed stacks ("a;b;c <microseconds>", outermost first, by phase)."""
    samples = data.get("samples")
    if not isinstance(samples, dict) or not samples.get("stacks"):
        return None
    frames = samples.get("frames") or []
    names = [f"{os.path.basename(str(f[0]))}:{f[2]}" if len(f) >= 3 else "?" for f in frames]
    totals: Dict[str, float] = {}
    for entry in samples["stacks"]:
        try:
            parts = [str(entry[0])] + [names[fi] for fi, _line in entry[2]]
        except (IndexError, TypeError, ValueError):
            continue
        key = ";".join(p.replace(";", ",").replace(" ", "_") for p in parts)
        totals[key] = totals.get(key, 0.0) + float(entry[3])
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "cpu.collapsed"
        tmp = out_dir / f".cpu.collapsed.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for key, secs in sorted(totals.items()):
                micros = int(round(secs * 1e6))
                if micros > 0:
                    fh.write(f"{clean_text(key)} {micros}\n")
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def _pstats_of_samples(data: dict) -> Dict[tuple, list]:
    """The samples in pstats' shape, so the same viewers (and the HTML report's chart) read them.

    tottime: samples whose innermost frame is the function; cumtime: samples with it on the
    stack (once per sample); caller edges: samples under that caller -> callee step. Call counts
    are the exact counts where the probe counted them, else 0 (unknown). C functions, which
    have no frames, are absent: their time is their caller's tottime.
    """
    samples = data["samples"]
    frames = samples.get("frames") or []
    keys = [(str(f[0]), int(f[1]), str(f[2])) for f in frames]
    merged: Dict[tuple, list] = {}
    for entry in samples.get("stacks") or []:
        try:
            stack = [keys[fi] for fi, _line in entry[2]]
            weight = float(entry[3])
        except (IndexError, TypeError, ValueError):
            continue
        if not stack:
            continue
        for key in set(stack):
            merged.setdefault(key, [0, 0, 0.0, 0.0, {}])[3] += weight
        merged[stack[-1]][2] += weight
        edges = set(zip(stack, stack[1:]))
        for caller, callee in edges:
            if caller == callee:
                continue
            callers = merged[callee][4]
            prev = callers.get(caller, (0, 0, 0.0, 0.0))
            own = weight if callee == stack[-1] else 0.0
            callers[caller] = (0, 0, prev[2] + own, prev[3] + weight)
    calls = data.get("calls")
    if isinstance(calls, dict):
        table = calls.get("functions") or []
        for rows in (calls.get("phases") or {}).values():
            for row in rows or []:
                try:
                    f = table[int(row[0])]
                    key = (str(f[0]), int(f[1]), str(f[2]))
                except (IndexError, TypeError, ValueError):
                    continue
                if key in merged:
                    merged[key][0] += int(row[1]) - int(row[2])
                    merged[key][1] += int(row[1])
    return merged
