"""sort-in-loop: sorting, inside a loop, a collection that lives across its iterations.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain sort-in-loop`).

Backing: the time of sorted()/list.sort called from this function, at the call's line.
"""

from __future__ import annotations

import ast
from typing import List, Optional

from perfscan.passes.cpu.patterns.astkit import root_name, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, builtin

ID = "sort-in-loop"


def _concatenated(node: ast.AST) -> List[ast.AST]:
    """`acc + [x]` sorts what `acc` carries across iterations: look at every operand."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _concatenated(node.left) + _concatenated(node.right)
    return [node]


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call):
            continue
        subject = None
        if isinstance(node.func, ast.Name) and node.func.id == "sorted" and node.args:
            subject = node.args[0]
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "sort" and not node.args:
            subject = node.func.value
        if subject is None:
            continue
        roots = [root_name(part) for part in _concatenated(subject)]
        carried = [n for n in roots if n is not None and n not in site.per_iteration()]
        if not carried:
            continue
        name = carried[0]
        secs = facts.call(node, facts.callee_seconds(builtin("builtins.sorted", "'sort' of 'list'")))
        return Match(
            ID,
            node.lineno,
            f"`{name}` is sorted on every iteration (line {node.lineno}): "
            "sort once after the loop, or keep it ordered with bisect.insort",
            secs,
        )
    return None
