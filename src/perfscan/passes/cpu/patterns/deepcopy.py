"""deepcopy: `copy.deepcopy` in a loop or in a hot function.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain deepcopy`).

Backing: the time of copy.deepcopy called from this function, at the call's line.
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
            secs = facts.call(node, facts.callee_seconds(python_function(("/copy.py",), ("deepcopy",))))
            where = "in a loop" if site.in_loop else "in a hot function"
            return Match(ID, node.lineno, f"copy.deepcopy {where} (line {node.lineno}): copy only what changes", secs)
    return None
