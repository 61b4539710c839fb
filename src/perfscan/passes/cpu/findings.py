"""CPU findings: every project function above the floor, with its share, pattern and evidence.

A function's share is its wall time (attributable CPU plus waiting) over the wall time of all
profiled phases, and its metric says how it splits ("38% of profiled test time (36% waiting in
`sock.recv`, 2% CPU)"); the pattern comes from the pattern modules (patterns/), fed with what
the profile says about the function (`FunctionFacts`), its measured call sites included.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from perfscan.astutil import package_of
from perfscan.locate import is_harness
from perfscan.models import Finding, HotLine, Metric
from perfscan.passes.cpu.hoisting import pure_by_name
from perfscan.passes.cpu.hotlines import loop_headers, select_hot_lines, source_lines_of
from perfscan.passes.cpu.patterns import CALL_PATTERNS, all_matches, choose
from perfscan.passes.cpu.patterns.astkit import module_aliases, module_constants
from perfscan.passes.cpu.patterns.base import CalleeTest, FunctionFacts, QuerySite, WaitSite
from perfscan.passes.cpu.profile import FunctionProfile, Profile
from perfscan.passes.cpu.samples import c_call_names
from perfscan.passes.cpu.section import WaitRow
from perfscan.passes.cpu.waitfacts import query_sites, wait_sites


def amdahl(share_pct: float) -> float:
    """At most this speed-up of the profiled tests from removing this share entirely."""
    p = min(max(share_pct / 100.0, 0.0), 0.999)
    return 1.0 / (1.0 - p)


def _class_of(tree: ast.Module, qualname: str) -> Optional[ast.ClassDef]:
    parts = qualname.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == parts[-2]:
            return node
    return None


def findings_of(
    profile: Profile, what: str = "tests", runs: int = 1, floor: float = 2.0, harness: Tuple[str, ...] = ()
) -> List[Finding]:
    # `what`: "tests", or "run" for the command of `perfscan exec`; `harness`: the project's own
    # pytest plugins, which run the tests (an event loop, fixtures) and are no product hotspot
    wall = profile.total_wall
    if wall <= 0:
        return []
    out = []
    aliases_cache: Dict[str, Dict[str, str]] = {}
    constants_cache: Dict[str, Dict[str, int]] = {}
    pure = pure_by_name(profile.functions)
    source_cache: Dict[str, List[str]] = {}
    hoisted_in = _hoisted_by_caller(profile)
    for fp in profile.functions.values():
        if harness and is_harness(fp.module, harness):
            continue
        attributable = fp.attributable()
        total = fp.wall()
        share = round(100.0 * total / wall, 1)
        if share <= floor:
            continue
        tree = fp.tree
        if fp.rel not in aliases_cache:
            package = package_of(fp.module, fp.rel.endswith("__init__.py"))
            aliases_cache[fp.rel] = module_aliases(tree, package) if tree is not None else {}
            constants_cache[fp.rel] = module_constants(tree) if tree is not None else {}
        aliases = aliases_cache[fp.rel]
        class_node = _class_of(tree, fp.qualname) if tree is not None else None
        sites = wait_sites(
            fp.info.node, aliases, fp.wait_lines, fp.gil_lines, fp.wait_via, fp.line_seconds, runs, fp.site_counts
        )
        if profile.engine == "sample":
            queries = query_sites(fp.statements, fp.wait_lines, fp.line_seconds, runs)
            facts = sampled_facts(
                fp, class_node, aliases, attributable, constants_cache[fp.rel], pure, sites, queries, total
            )
        else:

            def callee_seconds(test: CalleeTest, fp: FunctionProfile = fp) -> float:
                return sum(t for (file, name), t in fp.callee_time.items() if test(file, name))

            def project_callee_seconds(name: str, fp: FunctionProfile = fp) -> float:
                return fp.project_callee_by_name.get(name, 0.0)

            facts = FunctionFacts(
                node=fp.info.node,
                class_node=class_node,
                aliases=aliases,
                own_seconds=fp.own_total(),
                attributable_seconds=attributable,
                calls_total=fp.calls_total,
                calls_primitive=fp.calls_primitive,
                callee_seconds=callee_seconds,
                project_callee_seconds=project_callee_seconds,
                queries=_cprofile_queries(fp, runs),
                wall_seconds=total,
                module_constants=constants_cache[fp.rel],
                callee_is_pure=lambda name: pure.get(name, False),
            )
        match = choose(facts)
        pattern = match.pattern if match else "none"
        line = match.line if match else fp.info.lineno
        evidence = (match.evidence + "; " if match else "") + _calls_text(fp)
        waited = _waits_text(sites, match.line if match else None)
        if waited:
            evidence += "; " + waited
        callers = _callers_text(fp)
        if callers:
            evidence += "; called from " + callers
        for caller, at, _secs in fp.hoisted:
            evidence += (
                f"; its time reached from {caller} line {at}, a loop-invariant call, counts in {caller}'s share "
                "(hoisting that call saves it)"
            )
        phase = fp.main_phase()
        speedup = amdahl(share)
        details: Dict[str, Any] = {
            "def_line": fp.info.lineno,
            "own_pct": round(100 * fp.own_total() / wall, 1),
            "cumulative_pct": round(100 * fp.cumulative_total() / wall, 1),
            "calls": fp.calls_total if fp.counted else None,
            "primitive_calls": fp.calls_primitive if fp.counted else None,
            "callers": _top_callers(fp),
            "attributable_seconds": round(attributable / runs, 6),
            "phase_seconds": {p: round(fp.attributable(p) / runs, 6) for p in ("setup", "call", "teardown")},
            "cpu_seconds": round(attributable / runs, 6),
            "wait_seconds": round(sum(fp.wait.values()) / runs, 6),
            "gil_seconds": round(sum(fp.gil.values()) / runs, 6),
            "wall_seconds": round(total / runs, 6),
            "cpu_pct": round(100 * attributable / wall, 1),
            "wait_pct": round(100 * fp.waited() / wall, 1),
            "wall_phase_seconds": {p: round(fp.wall(p) / runs, 6) for p in ("setup", "call", "teardown")},
            "wait_sites": [_site_json(site) for site in sites[:8]],
            "statements": [
                {"line": q.line, "shape": q.shape, "count": q.count, "loop": list(q.loop) if q.loop else None}
                for q in facts.queries[:5]
            ],
        }
        if fp.rel not in source_cache:
            source_cache[fp.rel] = source_lines_of(fp.source)
        details["hot_lines"] = _hot_lines(profile, fp, hoisted_in, source_cache[fp.rel], runs)
        if fp.tests:
            details["tests"] = [t for t, _ in sorted(fp.tests.items(), key=lambda kv: kv[1], reverse=True)[:3]]
        out.append(
            Finding(
                domain="cpu",
                symbol=fp.info.name,
                qualname=f"{fp.module}:{fp.qualname}",
                module=fp.module,
                file=fp.rel,
                line=line,
                metric=Metric(
                    round(share, 1),
                    "%",
                    f"{share_text(share)} of profiled {what[:-1] if what == 'tests' else what} time"
                    + _split_text(fp, sites, wall),
                ),
                pattern=pattern,
                evidence=evidence,
                estimated_impact=f"up to {speedup:.2f}x on the profiled {what} (Amdahl: {share:.1f}% removed)",
                phase=phase,
                details=details,
            )
        )
    return out


def _hoisted_by_caller(profile: Profile) -> Dict[str, Dict[int, float]]:
    """caller label -> its call line -> the loop-invariant callee time moved to it (pooled seconds)."""
    out: Dict[str, Dict[int, float]] = {}
    for fp in profile.functions.values():
        for caller, at, secs in fp.hoisted:
            by_line = out.setdefault(caller, {})
            by_line[at] = by_line.get(at, 0.0) + secs
    return out


def _hot_lines(
    profile: Profile,
    fp: FunctionProfile,
    hoisted_in: Dict[str, Dict[int, float]],
    source: List[str],
    runs: int,
) -> Tuple[HotLine, ...]:
    if profile.engine != "sample":
        return ()  # cProfile times functions, not lines
    cpu = dict(fp.line_seconds)
    for line, secs in hoisted_in.get(f"{fp.module}:{fp.qualname}", {}).items():
        cpu[line] = cpu.get(line, 0.0) + secs
    waits: Optional[Dict[int, float]] = None
    if profile.waits_measured:
        waits = dict(fp.wait_lines)
        for line, secs in fp.gil_lines.items():
            waits[line] = waits.get(line, 0.0) + secs
    loops = loop_headers(fp.info.node) if fp.info.node is not None else {}
    return select_hot_lines(cpu, waits, source, runs, loops)


def sampled_facts(
    fp: FunctionProfile,
    class_node: Optional[ast.ClassDef],
    aliases: Dict[str, str],
    attributable: float,
    constants: Optional[Dict[str, int]] = None,
    pure: Optional[Dict[str, bool]] = None,
    sites: Tuple[WaitSite, ...] = (),
    queries: Tuple[QuerySite, ...] = (),
    total: float = 0.0,
) -> FunctionFacts:
    """Pattern facts from samples.

    A C callee has no frame: its time is the function's own samples at the lines that call it
    (`line_own`, matched against cProfile-style names of the calls on each line). The same
    samples must not back a structural pattern too, as cProfile's tottime (which excludes C
    callees) would not: a first round of the patterns finds which call lines back a call
    pattern, and the own time that structural patterns see is the own time at the other lines
    (with the time by line, the lines of the call patterns' matches are claimed too: a Python
    callee such as copy.deepcopy has its time at its call's line).
    """
    c_names = c_call_names(fp.info.node, aliases)

    def python_callees(test: CalleeTest) -> float:
        return sum(t for (file, name), t in fp.callee_time.items() if file != "~" and test(file, name))

    def c_lines(test: CalleeTest) -> List[int]:
        return [
            line
            for line, names in c_names.items()
            if fp.line_own.get(line, 0.0) > 0 and any(test("~", n) for n in names)
        ]

    def callee_seconds(test: CalleeTest) -> float:
        return python_callees(test) + sum(fp.line_own[line] for line in c_lines(test))

    claimed: Set[int] = set()

    def claiming(test: CalleeTest) -> float:
        lines = c_lines(test)
        claimed.update(lines)
        return python_callees(test) + sum(fp.line_own[line] for line in lines)

    def facts(own: float, callees: Callable[[CalleeTest], float], taken: FrozenSet[int] = frozenset()) -> FunctionFacts:
        return FunctionFacts(
            node=fp.info.node,
            class_node=class_node,
            aliases=aliases,
            own_seconds=own,
            attributable_seconds=attributable,
            calls_total=fp.calls_total if fp.counted else 0,
            calls_primitive=fp.calls_primitive if fp.counted else 0,
            callee_seconds=callees,
            project_callee_seconds=lambda name: fp.project_callee_by_name.get(name, 0.0),
            wait_sites=sites,
            queries=queries,
            wall_seconds=total,
            line_seconds=dict(fp.line_seconds),
            claimed_lines=taken,
            loop_trips=dict(fp.loop_trips) if fp.loop_trips else None,
            callee_lines=dict(fp.callee_lines),
            module_constants=constants or {},
            callee_is_pure=lambda name: (pure or {}).get(name, False),
        )

    first = all_matches(facts(fp.own_total(), claiming))
    structural_own = max(fp.own_total() - sum(fp.line_own.get(line, 0.0) for line in claimed), 0.0)
    claimed.update(m.line for m in first if m.pattern in CALL_PATTERNS and m.backing > 0)
    return facts(structural_own, callee_seconds, frozenset(claimed))


def _calls_text(fp: FunctionProfile) -> str:
    if not fp.counted:
        return "calls not counted"
    return f"{fp.calls_total:,} call{'' if fp.calls_total == 1 else 's'}" + (
        f" ({fp.calls_primitive:,} primitive)" if fp.calls_primitive != fp.calls_total else ""
    )


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
    shares = sorted(fp.caller_seconds.items(), key=lambda kv: kv[1], reverse=True)[:3]
    return ", ".join(f"{c} ({100 * t / total:.0f}% of its samples)" for c, t in shares)


def share_text(share: float) -> str:
    return f"{round(share, 1):.0f}%" if share >= 10 else f"{share:.1f}%"


def _split_text(fp: FunctionProfile, sites: Tuple[WaitSite, ...], wall: float) -> str:
    """How a share splits, when the function waited: " (36% waiting in `sock.recv`, 2% CPU)"."""
    waiting = 100.0 * sum(fp.wait.values()) / wall
    gil = 100.0 * sum(fp.gil.values()) / wall
    share = 100.0 * fp.wall() / wall
    # a split too small to matter (a tick of waiting in a CPU-bound function) is left out
    if waiting + gil < max(0.5, 0.05 * share):
        return ""
    parts = []
    if round(waiting, 1) > 0:
        calls = [s for s in sites if s.seconds > 0]
        top = calls[0] if calls else None
        dominant = top is not None and top.seconds >= 0.8 * sum(s.seconds for s in calls)
        where = f" in `{top.text}`" if top is not None and dominant else (f", most in `{top.text}`" if top else "")
        parts.append(f"{share_text(waiting)} waiting{where}")
    if round(gil, 1) > 0:
        parts.append(f"{share_text(gil)} waiting for the GIL")
    parts.append(f"{share_text(100.0 * fp.attributable() / wall)} CPU")
    return " (" + ", ".join(parts) + ")"


def _waits_text(sites: Tuple[WaitSite, ...], matched_line: Optional[int]) -> str:
    """The call sites it waited at, most first: "waited 1.20 s per run: `time.sleep` line 11 (60 calls)"."""
    shown = [s for s in sites if s.seconds > 0 and s.line != matched_line][:3]
    if not shown:
        return ""
    parts = [
        f"`{s.text}` line {s.line} {s.seconds:.2f} s"
        + (f" ({s.count:,} call{'s' if s.count != 1 else ''})" if s.count else "")
        for s in shown
    ]
    return "waited per run at " + ", ".join(parts)


def _site_json(site: WaitSite) -> Dict[str, object]:
    return {
        "line": site.line,
        "call": site.text,
        "name": site.name,
        "kind": site.kind,
        "seconds": round(site.seconds, 6),
        "gil_seconds": round(site.gil_seconds, 6),
        "count": site.count,
    }


# cProfile names of the drivers' statement calls: their time backs a query label under cProfile
_DB_CALLS = ("sqlite3.Cursor", "sqlite3.Connection", "/django/db/", "/sqlalchemy/", "psycopg", "pymysql")


def _cprofile_queries(fp: FunctionProfile, runs: int) -> Tuple[QuerySite, ...]:
    """Under cProfile, a statement line's time is the function's time in database calls (no lines)."""
    if not fp.statements:
        return ()
    seconds = sum(t for (file, name), t in fp.callee_time.items() if any(d in file or d in name for d in _DB_CALLS))
    return tuple(QuerySite(st.line, st.shape, st.count, seconds / runs, st.loop) for st in fp.statements)


def wait_rows(profile: Profile, runs: int = 1, harness: Tuple[str, ...] = (), limit: int = 12) -> List[WaitRow]:
    """The call sites where the profiled tests waited most, over every project function (per run)."""
    wall = profile.total_wall or 1e-9
    rows: List[WaitRow] = []
    aliases_cache: Dict[str, Dict[str, str]] = {}
    for fp in profile.functions.values():
        if not fp.wait_lines or (harness and is_harness(fp.module, harness)):
            continue
        if fp.rel not in aliases_cache:
            package = package_of(fp.module, fp.rel.endswith("__init__.py"))
            aliases_cache[fp.rel] = module_aliases(fp.tree, package) if fp.tree is not None else {}
        sites = wait_sites(
            fp.info.node, aliases_cache[fp.rel], fp.wait_lines, {}, fp.wait_via, {}, runs, fp.site_counts
        )
        for site in sites:
            rows.append(
                WaitRow(
                    f"{fp.module}:{fp.qualname}",
                    fp.rel,
                    site.line,
                    site.text,
                    site.kind or "",
                    round(site.seconds, 6),
                    round(100 * site.seconds * runs / wall, 1),
                    site.count,
                )
            )
    rows.sort(key=lambda r: (-r.seconds, r.function, r.line))
    return rows[:limit]
