"""regex-in-loop: a regex whose pattern is built inside the loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain regex-in-loop`).

Backing: the time of the re functions called from this function, at the call's line.
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.passes.cpu.patterns.astkit import names_in, resolve, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, python_function

ID = "regex-in-loop"
FUNCS = ("compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer")
TIMED = python_function(("/re.py", "/re/__init__.py", "/sre_compile.py", "/re/_compiler.py"), FUNCS + ("_compile",))


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call) or not node.args:
            continue
        name = resolve(node.func, facts.aliases) or ""
        if not name.startswith("re.") or name.split(".")[-1] not in FUNCS:
            continue
        pattern = node.args[0]
        built = (
            isinstance(pattern, (ast.JoinedStr, ast.BinOp))
            or (isinstance(pattern, ast.Call) and not isinstance(pattern, ast.Constant))
            or bool(names_in(pattern) & site.per_iteration())
        )
        if built:
            return Match(
                ID,
                node.lineno,
                f"{name} with a pattern built in the loop (line {node.lineno}): compile it once",
                facts.call(node, facts.callee_seconds(TIMED)),
            )
    return None
