"""CPU findings: every project function above the floor, with its share, pattern and evidence.

A function's share is its attributable time over the wall time of all profiled phases; the
pattern comes from the pattern modules (patterns/), fed with what the profile says about the
function (`FunctionFacts`).
"""

from __future__ import annotations

import ast
from typing import Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from perfscan.astutil import package_of
from perfscan.locate import is_harness
from perfscan.models import Finding, Metric
from perfscan.passes.cpu.hoisting import pure_by_name
from perfscan.passes.cpu.patterns import CALL_PATTERNS, all_matches, choose
from perfscan.passes.cpu.patterns.astkit import module_aliases, module_constants
from perfscan.passes.cpu.patterns.base import CalleeTest, FunctionFacts
from perfscan.passes.cpu.profile import FunctionProfile, Profile
from perfscan.passes.cpu.samples import c_call_names


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
            constants_cache[fp.rel] = module_constants(tree) if tree is not None else {}
        class_node = _class_of(tree, fp.qualname) if tree is not None else None
        if profile.engine == "sample":
            facts = sampled_facts(fp, class_node, aliases_cache[fp.rel], attributable, constants_cache[fp.rel], pure)
        else:

            def callee_seconds(test: CalleeTest, fp: FunctionProfile = fp) -> float:
                return sum(t for (file, name), t in fp.callee_time.items() if test(file, name))

            def project_callee_seconds(name: str, fp: FunctionProfile = fp) -> float:
                return fp.project_callee_by_name.get(name, 0.0)

            facts = FunctionFacts(
                node=fp.info.node,
                class_node=class_node,
                aliases=aliases_cache[fp.rel],
                own_seconds=fp.own_total(),
                attributable_seconds=attributable,
                calls_total=fp.calls_total,
                calls_primitive=fp.calls_primitive,
                callee_seconds=callee_seconds,
                project_callee_seconds=project_callee_seconds,
                module_constants=constants_cache[fp.rel],
                callee_is_pure=lambda name: pure.get(name, False),
            )
        match = choose(facts)
        pattern = match.pattern if match else "none"
        line = match.line if match else fp.info.lineno
        evidence = (match.evidence + "; " if match else "") + _calls_text(fp)
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
        details = {
            "def_line": fp.info.lineno,
            "own_pct": round(100 * fp.own_total() / wall, 1),
            "cumulative_pct": round(100 * fp.cumulative_total() / wall, 1),
            "calls": fp.calls_total if fp.counted else None,
            "primitive_calls": fp.calls_primitive if fp.counted else None,
            "callers": _top_callers(fp),
            "attributable_seconds": round(attributable / runs, 6),
            "phase_seconds": {p: round(fp.attributable(p) / runs, 6) for p in ("setup", "call", "teardown")},
        }
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
                    f"{round(share, 1):.0f}% of profiled {what[:-1] if what == 'tests' else what} time"
                    if share >= 10
                    else f"{share:.1f}% of profiled {what[:-1] if what == 'tests' else what} time",
                ),
                pattern=pattern,
                evidence=evidence,
                estimated_impact=f"up to {speedup:.2f}x on the profiled {what} (Amdahl: {share:.1f}% removed)",
                phase=phase,
                details=details,
            )
        )
    return out


def sampled_facts(
    fp: FunctionProfile,
    class_node: Optional[ast.ClassDef],
    aliases: Dict[str, str],
    attributable: float,
    constants: Optional[Dict[str, int]] = None,
    pure: Optional[Dict[str, bool]] = None,
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
