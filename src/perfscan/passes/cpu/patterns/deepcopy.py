"""deepcopy

What it does: finds `copy.deepcopy` (any import spelling) in a loop or in a hot function.
Why it is bad: deepcopy walks the whole object graph in Python, with a memo dict, for every
call; a shallow copy of what actually changes, or building the new value directly, is far cheaper.
Example:
    for record in records:
        rec = copy.deepcopy(record)    # copy only the fields you change: {**record, "word": ...}
Backing: the time of copy.deepcopy called from this function.
"""
from __future__ import annotations

import ast
from typing import Optional

from perfscan.passes.cpu.patterns.astkit import resolve, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, python_function

ID = "deepcopy"


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if isinstance(node, ast.Call) and resolve(node.func, facts.aliases) == "copy.deepcopy":
            secs = facts.callee_seconds(python_function(("/copy.py",), ("deepcopy",)))
            where = "in a loop" if site.in_loop else "in a hot function"
            return Match(ID, node.lineno, f"copy.deepcopy {where} (line {node.lineno}): copy only what changes", secs)
    return None
