"""pop-front: `list.pop(0)` or `list.insert(0, x)` inside a loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain pop-front`).

Backing: the time of list.pop / list.insert called from this function, at the call's line.
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.astutil import dotted
from perfscan.passes.cpu.patterns.astkit import walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, builtin

ID = "pop-front"


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        first = node.args[0] if node.args else None
        if (
            attr in ("pop", "insert")
            and isinstance(first, ast.Constant)
            and first.value == 0
            and (attr == "pop" and len(node.args) == 1 or attr == "insert" and len(node.args) == 2)
        ):
            secs = facts.call(node, facts.callee_seconds(builtin(f"'{attr}' of 'list'")))
            name = dotted(node.func.value) or "a list"
            return Match(
                ID,
                node.lineno,
                f"`{name}.{attr}(0{', ...' if attr == 'insert' else ''})` in a loop (line {node.lineno}) "
                f"shifts the whole list: use collections.deque",
                secs,
            )
    return None
