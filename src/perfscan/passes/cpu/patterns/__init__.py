"""CPU patterns: one module each, one registry, one choice rule (docs/design.md "The passes", CPU).

Each pattern returns the best `Match` it finds in a function with the measured seconds that back
it. The best-backed match wins; with no backing above a tenth of the function's attributable
time (wall time: CPU plus waiting) the label is `none`: a false label costs more trust than a
missing one. The waiting patterns (n-plus-one-query, lock-contention, sleep-in-code,
io-in-loop) are backed by the time measured at their call sites.
"""

from __future__ import annotations

from typing import List, Optional

from perfscan.passes.cpu.patterns import (
    deepcopy,
    io_in_loop,
    lock_contention,
    loop_invariant_call,
    n_plus_one_query,
    nested_loop,
    pop_front,
    quadratic_membership,
    regex_in_loop,
    repeated_computation,
    serialize_in_loop,
    sleep_in_code,
    sort_in_loop,
    string_concat,
)
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

# Order breaks ties between equally backed matches: cheaper, more specific fixes first.
REGISTRY = (
    quadratic_membership,
    pop_front,
    sort_in_loop,
    deepcopy,
    repeated_computation,
    loop_invariant_call,
    string_concat,
    serialize_in_loop,
    regex_in_loop,
    n_plus_one_query,
    lock_contention,
    sleep_in_code,
    io_in_loop,
    nested_loop,
)
MIN_BACKING = 0.10
# patterns backed by a callee's time at their call's line: a structural pattern around that line
# must not count the same samples again
CALL_PATTERNS = frozenset({pop_front.ID, sort_in_loop.ID, deepcopy.ID, serialize_in_loop.ID, regex_in_loop.ID})


def choose(facts: FunctionFacts) -> Optional[Match]:
    """The best-backed pattern for a function, or None (`none`)."""
    best: Optional[Match] = None
    for module in REGISTRY:
        found = module.match(facts)
        if found is not None and (best is None or found.backing > best.backing):
            best = found
    if best is None or best.backing <= MIN_BACKING * max(facts.attributable_seconds, facts.wall_seconds, 1e-12):
        return None
    return best


def all_matches(facts: FunctionFacts) -> List[Match]:
    """Every pattern that matches, with its backing (for the report's evidence)."""
    return [m for m in (module.match(facts) for module in REGISTRY) if m is not None]
