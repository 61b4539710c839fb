"""Loop-invariant calls: the callee's time reached from such a call site goes to the caller.

A pure project function called inside a loop with arguments the loop never changes
(patterns/loop_invariant_call.py) computes the same answer on every iteration. The fix is in
the caller (compute it once before the loop), so the report puts the time there: the callee's
attributable seconds reached directly from that call's line (the samples' `via`, by phase) move
from the callee to the caller, which then carries the `loop-invariant-call` finding with the
callee named. Each sample still counts once: it leaves the callee when it joins the caller.

Only with the sampling engine (cProfile has no lines) and exact call counts: the callee must be
called at least `MIN_CALLS_PER_CALL` times per call of the caller, or there is nothing to hoist.
Time the callee spends in other project functions stays theirs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Tuple

from perfscan.astutil import package_of
from perfscan.passes.cpu.patterns import loop_invariant_call
from perfscan.passes.cpu.patterns.astkit import module_aliases
from perfscan.passes.cpu.patterns.base import FunctionFacts
from perfscan.passes.cpu.profile import FuncKey, FunctionProfile

MIN_CALLS_PER_CALL = 2


def hoist_invariant_calls(functions: Dict[FuncKey, FunctionProfile]) -> None:
    """Move each loop-invariant call site's callee time to its caller, in place (`moved`, `hoisted`)."""
    by_name: Dict[str, List[FunctionProfile]] = defaultdict(list)
    for fp in functions.values():
        by_name[fp.info.name].append(fp)
    aliases: Dict[str, Dict[str, str]] = {}
    for caller in functions.values():
        if not caller.callee_lines or not caller.counted or caller.tree is None:
            continue
        if caller.rel not in aliases:
            aliases[caller.rel] = module_aliases(
                caller.tree, package_of(caller.module, caller.rel.endswith("__init__.py"))
            )
        facts = FunctionFacts(
            node=caller.info.node,
            class_node=None,
            aliases=aliases[caller.rel],
            own_seconds=0.0,
            attributable_seconds=0.0,
            calls_total=caller.calls_total,
            calls_primitive=caller.calls_primitive,
            callee_lines=caller.callee_lines,
        )
        label = f"{caller.module}:{caller.qualname}"
        for call in loop_invariant_call.calls(facts):
            lines = range(call.node.lineno, (call.node.end_lineno or call.node.lineno) + 1)
            for callee in by_name.get(call.callee, []):
                if callee is caller or not _hoistable(caller, callee, aliases[caller.rel]):
                    continue
                for line in lines:
                    _move(callee.via.get((label, line), {}), callee, caller, (label, line))


def _hoistable(caller: FunctionProfile, callee: FunctionProfile, aliases: Dict[str, str]) -> bool:
    return (
        callee.counted
        and callee.calls_total >= MIN_CALLS_PER_CALL * max(caller.calls_total, 1)
        and loop_invariant_call.is_pure(callee.info.node, aliases)
    )


def _move(by_phase: Dict[str, float], callee: FunctionProfile, caller: FunctionProfile, site: Tuple[str, int]) -> None:
    total = 0.0
    for phase, seconds in by_phase.items():
        amount = min(seconds, max(callee.attributable(phase), 0.0))
        if amount <= 0:
            continue
        callee.moved[phase] -= amount
        caller.moved[phase] += amount
        total += amount
    if total > 0:
        callee.hoisted.append((site[0], site[1], total))


def pure_by_name(functions: Dict[FuncKey, FunctionProfile]) -> Dict[str, bool]:
    """A project function name -> whether every function of that name looks pure (for the pattern's facts)."""
    out: Dict[str, bool] = {}
    aliases: Dict[str, Dict[str, str]] = {}
    for fp in functions.values():
        if fp.tree is not None and fp.rel not in aliases:
            aliases[fp.rel] = module_aliases(fp.tree, package_of(fp.module, fp.rel.endswith("__init__.py")))
        pure = loop_invariant_call.is_pure(fp.info.node, aliases.get(fp.rel, {}))
        out[fp.info.name] = out.get(fp.info.name, True) and pure
    return out
