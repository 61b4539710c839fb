"""CPU pass: the target tests under cProfile (in the probe), ranked by attributable share.

The denominator of every share is the wall time of all profiled phases (setup, call, teardown)
measured on the main thread. Reported: project functions whose attributable share is above 2%.
"""
from __future__ import annotations

import ast
import marshal
import os
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from perfscan.models import Artifact, Finding, Metric, PassResult
from perfscan.passes import PassContext
from perfscan.passes.cpu.patterns import choose
from perfscan.passes.cpu.patterns.astkit import module_aliases
from perfscan.passes.cpu.patterns.base import CalleeTest, FunctionFacts
from perfscan.passes.cpu.profile import Profile, build_profile
from perfscan.probe_host import run_target

REPORT_SHARE = 2.0  # percent


def amdahl(share_pct: float) -> float:
    """At most this speed-up of the profiled tests from removing this share entirely."""
    p = min(max(share_pct / 100.0, 0.0), 0.999)
    return 1.0 / (1.0 - p)


def run_cpu_pass(ctx: PassContext) -> Tuple[PassResult, Profile]:
    """Returns the pass result and the profile (the async pass wants the set of functions that ran)."""
    start = time.monotonic()
    empty = Profile(wall={}, functions={}, ran=frozenset())
    run = run_target("cpu", ctx)
    data = run.read("cpu.json")
    notes: List[str] = []
    failed = run.failed_tests()
    if failed:
        notes.append(f"{len(failed)} profiled test(s) failed; their profile is still used: "
                     + "; ".join(f"{nid} ({msg})" if msg else nid for nid, msg in failed[:5]))
    if data is None:
        status = "timed-out" if run.child.timed_out else "failed"
        error = f"the profiled test run {run.child.describe_exit()} and wrote no profile"
        tail = run.child.tail(6)
        return PassResult("cpu", status, time.monotonic() - start, error + (f": {tail}" if tail else ""), notes=tuple(notes)), empty
    for err in data.get("errors") or []:
        notes.append(f"profiler: {err}")
    profile = build_profile(data, ctx.project.root, ctx.project.source_roots, ctx.settings.exclude)
    findings = _findings(profile)
    artifacts = []
    pstats_path = _write_pstats(data, ctx.out_dir)
    if pstats_path is not None:
        artifacts.append(Artifact(pstats_path, "CPU profile of the profiled tests (pstats)",
                                  f"python -m pstats {pstats_path.name}  (or: snakeviz {pstats_path.name})"))
    status = "ok"
    error = ""
    if run.child.timed_out:
        status, error = "timed-out", f"the profiled test run timed out after {run.child.seconds:.0f} s; the profile covers the tests that ran"
    elif run.child.returncode not in (0, 1) and not failed:
        error = f"the profiled test run {run.child.describe_exit()}"
        status = "failed" if not profile.functions else "ok"
    threads = data.get("threads")
    section = {
        "engine": str(data.get("engine", "cProfile")),
        "wall_seconds": profile.total_wall,
        "phase_seconds": dict(profile.wall),
        "threads": threads,
        "functions_seen": len(profile.functions),
        "top": _top_table(profile),
        # every project function's attributable seconds: `perfscan diff` compares absolute time, since
        # shares shift when another function gets faster
        "functions": {f"{f.module}:{f.qualname}": round(f.attributable(), 6)
                      for f in sorted(profile.functions.values(), key=lambda f: f.attributable(), reverse=True)[:2000]},
    }
    return PassResult("cpu", status, time.monotonic() - start, error, tuple(findings), tuple(artifacts), tuple(notes), section), profile


def _top_table(profile: Profile, limit: int = 12) -> List[Dict[str, object]]:
    wall = profile.total_wall or 1e-9
    rows = sorted(profile.functions.values(), key=lambda f: f.attributable(), reverse=True)[:limit]
    return [{"function": f"{f.module}:{f.qualname}", "file": f.rel, "line": f.info.lineno,
             "attributable_pct": round(100 * f.attributable() / wall, 1), "own_pct": round(100 * f.own_total() / wall, 1),
             "cumulative_pct": round(100 * f.cumulative_total() / wall, 1), "calls": f.calls_total,
             "primitive_calls": f.calls_primitive} for f in rows]


def _class_of(tree: ast.Module, qualname: str) -> Optional[ast.ClassDef]:
    parts = qualname.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == parts[-2]:
            return node
    return None


def _findings(profile: Profile) -> List[Finding]:
    wall = profile.total_wall
    if wall <= 0:
        return []
    out = []
    aliases_cache: Dict[str, dict] = {}
    for fp in profile.functions.values():
        attributable = fp.attributable()
        share = round(100.0 * attributable / wall, 1)
        if share <= REPORT_SHARE:
            continue
        tree = fp.tree
        if fp.rel not in aliases_cache:
            aliases_cache[fp.rel] = module_aliases(tree) if tree is not None else {}

        def callee_seconds(test: CalleeTest, fp=fp) -> float:
            return sum(t for (file, name), t in fp.callee_time.items() if test(file, name))

        facts = FunctionFacts(node=fp.info.node, class_node=_class_of(tree, fp.qualname) if tree is not None else None,
                              aliases=aliases_cache[fp.rel], own_seconds=fp.own_total(), attributable_seconds=attributable,
                              calls_total=fp.calls_total, calls_primitive=fp.calls_primitive,
                              callee_seconds=callee_seconds,
                              project_callee_seconds=lambda name, fp=fp: fp.project_callee_by_name.get(name, 0.0))
        match = choose(facts)
        pattern = match.pattern if match else "none"
        line = match.line if match else fp.info.lineno
        top_callers = sorted(fp.callers.items(), key=lambda kv: kv[1], reverse=True)[:3]
        calls = f"{fp.calls_total:,} calls" + (f" ({fp.calls_primitive:,} primitive)" if fp.calls_primitive != fp.calls_total else "")
        evidence = (match.evidence + "; " if match else "") + calls
        if top_callers:
            evidence += "; called from " + ", ".join(f"{c} ({n:,}x)" for c, n in top_callers)
        phase = fp.main_phase()
        speedup = amdahl(share)
        out.append(Finding(
            domain="cpu", symbol=fp.info.name, qualname=f"{fp.module}:{fp.qualname}", module=fp.module, file=fp.rel,
            line=line, metric=Metric(round(share, 1), "%", f"{share:.0f}% of profiled test time" if share >= 10 else f"{share:.1f}% of profiled test time"),
            pattern=pattern, evidence=evidence,
            estimated_impact=f"up to {speedup:.2f}x on the profiled tests (Amdahl: {share:.1f}% removed)",
            phase=phase,
            details={"def_line": fp.info.lineno, "own_pct": round(100 * fp.own_total() / wall, 1),
                     "cumulative_pct": round(100 * fp.cumulative_total() / wall, 1), "calls": fp.calls_total,
                     "primitive_calls": fp.calls_primitive, "callers": [c for c, _ in top_callers],
                     "attributable_seconds": round(attributable, 6),
                     "phase_seconds": {p: round(fp.attributable(p), 6) for p in ("setup", "call", "teardown")}},
        ))
    return out


def _write_pstats(data: dict, out_dir: Path) -> Optional[Path]:
    """All phases merged into a pstats file (snakeviz, tuna, `python -m pstats`)."""
    merged: Dict[tuple, list] = {}
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
