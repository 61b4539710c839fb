"""string-concat-in-loop: a string built with `+` or `+=` inside a loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain string-concat-in-loop`).

Backing: the time at the lines of the loop around the concatenation (cProfile: the function's own time).
"""

from __future__ import annotations

import ast
from typing import Iterator, Optional, Set

from perfscan.passes.cpu.patterns.astkit import walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "string-concat-in-loop"


def _stringish(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("str", "repr", "format"):
        return True
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("join", "format", "strip", "upper", "lower")
    ):
        return True
    if isinstance(node, ast.IfExp):
        return _stringish(node.body) or _stringish(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _stringish(node.left) or _stringish(node.right)
    return False


def _string_names(func: ast.AST) -> Set[str]:
    out = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and _stringish(node.value):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.annotation, ast.Name)
            and node.annotation.id == "str"
        ):
            out.add(node.target.id)
    return out


def _operands(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        yield from _operands(node.left)
        yield from _operands(node.right)
    else:
        yield node


def match(facts: FunctionFacts) -> Optional[Match]:
    strings = _string_names(facts.node)
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop:
            continue
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name):
            name = node.target.id
            if name in strings or _stringish(node.value):
                return Match(
                    ID,
                    node.lineno,
                    f"`{name} += ...` builds a string in a loop (line {node.lineno}): "
                    "append the parts to a list and join once",
                    facts.structural(site.loops[-1].node),
                )
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.op, ast.Add)
        ):
            name = node.targets[0].id
            ops = list(_operands(node.value))
            # a string operand makes the assignment itself a string one (_string_names saw it)
            if any(isinstance(o, ast.Name) and o.id == name for o in ops) and name in strings:
                return Match(
                    ID,
                    node.lineno,
                    f"`{name} = {name} + ...` builds a string in a loop (line {node.lineno}): "
                    "append the parts to a list and join once",
                    facts.structural(site.loops[-1].node),
                )
    return None
