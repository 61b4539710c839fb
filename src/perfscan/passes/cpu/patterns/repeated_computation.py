"""repeated-computation: recursion with no memoization.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain repeated-computation`). A call recomputed with the
same arguments on every iteration of a loop is `loop-invariant-call`.

Backing: the recursion's call counts (all of the function's attributable time).
"""

from __future__ import annotations

from typing import Optional

from perfscan.passes.cpu.patterns.astkit import decorator_names
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
    return None
