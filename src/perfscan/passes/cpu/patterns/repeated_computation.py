"""repeated-computation: recursion with no memoization, or a loop-invariant call inside a loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain repeated-computation`).

Backing: the recursion's call counts (all of the function's attributable time); for a hoistable
call, the time of that callee from this function.
"""

from __future__ import annotations

import ast
from typing import Optional, Set

from perfscan.passes.cpu.patterns.astkit import Site, decorator_names, names_in, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "repeated-computation"
MEMO = {"cache", "lru_cache", "cached", "memoize", "memoized", "cached_property", "cachedmethod"}


def match(facts: FunctionFacts) -> Optional[Match]:
    total, prim = facts.calls_total, max(facts.calls_primitive, 1)
    if total >= 10_000 and total >= 1000 * prim and not (decorator_names(facts.node, facts.aliases) & MEMO):
        line = getattr(facts.node, "lineno", 0)
        return Match(
            ID,
            line,
            f"{total:,} calls for {facts.calls_primitive:,} outside calls: the recursion recomputes "
            "the same subproblems; memoize it (functools.cache)",
            facts.attributable_seconds,
        )
    best = None
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if not node.args and not node.keywords:
            continue
        arg_names = set()
        for a in list(node.args) + [k.value for k in node.keywords]:
            arg_names |= names_in(a)
        loop_bound = site.per_iteration() | _assigned_in_loops(site)
        if arg_names & loop_bound:
            continue
        secs = facts.project_callee_seconds(node.func.id)
        if secs > 0 and (best is None or secs > best.backing):
            best = Match(
                ID,
                node.lineno,
                f"`{node.func.id}(...)` is called with the same arguments on every iteration "
                f"(line {node.lineno}): compute it once before the loop",
                secs,
            )
    return best


def _assigned_in_loops(site: Site) -> Set[str]:
    out: Set[str] = set()
    for lp in site.loops:
        for node in ast.walk(lp.node):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    out |= names_in(t)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                base = node.func.value
                if isinstance(base, ast.Name):
                    out.add(base.id)  # mutated by a method call in the loop
    return out
