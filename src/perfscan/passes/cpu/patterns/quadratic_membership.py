"""quadratic-membership: a membership test or linear scan on a list inside a loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain quadratic-membership`).

Backing: `in` is the time at the lines of the loop around the test (cProfile: the function's own time);
`.index`/`.count`/`any`/`all` the time of those calls at their line.
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.astutil import dotted
from perfscan.passes.cpu.patterns.astkit import list_bound_names, names_in, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, builtin

ID = "quadratic-membership"


def match(facts: FunctionFacts) -> Optional[Match]:
    lists = list_bound_names(facts.node, facts.class_node)
    best: Optional[Match] = None
    for site in walk_with_loops(facts.node):
        if not site.in_loop:
            continue
        node = site.node
        found = None
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, (ast.In, ast.NotIn)) and dotted(right) in lists:
                    found = Match(
                        ID,
                        node.lineno,
                        f"`{'not in' if isinstance(op, ast.NotIn) else 'in'} {dotted(right)}` "
                        f"on a list inside a loop (line {node.lineno}): use a set",
                        facts.structural(site.loops[-1].node),  # the test's time shows at its loop's lines
                    )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("index", "count")
            and dotted(node.func.value) in lists
        ):
            secs = facts.call(
                node, facts.callee_seconds(builtin(f"'{node.func.attr}' of 'list'", f"'{node.func.attr}' of 'tuple'"))
            )
            found = Match(
                ID,
                node.lineno,
                f"`{dotted(node.func.value)}.{node.func.attr}()` scans a list inside a loop "
                f"(line {node.lineno}): use a dict or set",
                secs,
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("any", "all")
            and len(node.args) == 1
            and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp))
        ):
            scanned = node.args[0].generators[0].iter
            own_iters = {dotted(lp.iter_node) for lp in site.loops if lp.iter_node is not None}
            # a scan over something fresh each iteration (derived from the loop variable) is not repeated
            if dotted(scanned) and dotted(scanned) not in own_iters and not (names_in(scanned) & site.per_iteration()):
                secs = facts.call(node, facts.callee_seconds(builtin(f"builtins.{node.func.id}")))
                found = Match(
                    ID,
                    node.lineno,
                    f"`{node.func.id}(... for ... in {dotted(scanned)})` is a linear scan inside a loop "
                    f"(line {node.lineno}): index it by key in a dict or set",
                    secs,
                )
        if found and (best is None or found.backing > best.backing):
            best = found
    return best
