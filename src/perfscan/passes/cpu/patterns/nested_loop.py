"""nested-loop: a loop inside a loop over two collections that both grow with the input.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain nested-loop`).

Backing: the function's own time.
"""

from __future__ import annotations

import ast
from typing import Optional, Set

from perfscan.astutil import dotted
from perfscan.passes.cpu.patterns.astkit import COMPS, names_in, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "nested-loop"


def _grows(iter_node: ast.AST) -> bool:
    if isinstance(iter_node, (ast.List, ast.Tuple, ast.Set, ast.Constant)):
        return False
    if isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range":
        return not all(isinstance(a, ast.Constant) for a in iter_node.args)
    return bool(names_in(iter_node))


def _range_over_whole(iter_node: ast.AST, per_iteration: Set[str]) -> bool:
    """`range(i + 1, len(xs))`: an index range over a whole collection, not the current item's children."""
    if not (isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range"):
        return False
    for arg in iter_node.args:
        for sub in ast.walk(arg):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == "len"
                and sub.args
                and not (names_in(sub.args[0]) & per_iteration)
            ):
                return True
    return False


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if isinstance(node, COMPS):
            iter_node = node.generators[0].iter
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            iter_node = node.iter
        else:
            continue
        outer = list(site.loops)
        if not outer or not _grows(iter_node):
            continue
        if names_in(iter_node) & site.per_iteration() and not _range_over_whole(iter_node, site.per_iteration()):
            continue  # walks the current item's own children
        if not any(lp.iter_node is None or _grows(lp.iter_node) for lp in outer):
            continue
        inner = dotted(iter_node) or ast.unparse(iter_node)
        return Match(
            ID,
            node.lineno,
            f"inner loop over `{inner}` inside another loop (line {node.lineno}): index one side by key",
            facts.own_seconds,
        )
    return None
