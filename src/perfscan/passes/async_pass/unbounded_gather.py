"""unbounded-gather: `asyncio.gather(*[... for ...])` over an unbounded collection, no semaphore.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain unbounded-gather`).
"""

from __future__ import annotations

import ast
import re
from typing import Iterable, List, Optional, Union

from perfscan.passes.async_pass.scope import Hit, Scope, walk

ID = "unbounded-gather"

GATHERS = frozenset({"asyncio.gather"})
SMALL_RANGE = 64
_LIMITER = re.compile(r"semaphore|limiter|capacity|(^|_)sem(s|a)?(_|$)|pool", re.IGNORECASE)
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp)
Spread = Union[ast.Call, ast.ListComp, ast.SetComp, ast.GeneratorExp]  # what a gather fans out


def _bounded_iter(node: ast.AST) -> bool:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
        bounds = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, int)]
        return len(bounds) == len(node.args) and max(bounds) <= SMALL_RANGE
    return False


def _fan_out(scope: Scope, node: ast.AST) -> Optional[Spread]:
    """The comprehension or map() call that `node` spreads, if it is unbounded."""
    if isinstance(node, _COMPS):
        return None if _bounded_iter(node.generators[0].iter) else node
    if isinstance(node, ast.Call):
        name = scope.resolve(node.func)
        if name == "builtins.map" and len(node.args) >= 2:
            return None if _bounded_iter(node.args[1]) else node
        if name in ("builtins.list", "builtins.tuple") and len(node.args) == 1:
            return _fan_out(scope, node.args[0])
    return None


def _single_binding(scope: Scope, name: str) -> Optional[ast.AST]:
    values = []
    for node in scope.nodes:
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            values.append(node)
    if len(values) != 1:
        return None
    for node in scope.nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and node.targets[0] is values[0]:
            return node.value
    return None


def _callees(spread: Spread) -> List[str]:
    """Simple names of the coroutines the fan-out calls (`notify` in `[notify(c) for c in cs]`)."""
    if isinstance(spread, ast.Call):  # map(fn, items)
        target: Optional[ast.AST] = spread.args[0]
    else:
        target = spread.elt.func if isinstance(spread.elt, ast.Call) else None
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Name):
        return [target.id]
    return []


def _shape(spread: ast.AST) -> str:
    """How the spread reads in the source, in short: `*[...]`, `*(...)`, `*map(...)`, `*{...}`."""
    if isinstance(spread, ast.ListComp):
        return "*[...]"
    if isinstance(spread, ast.GeneratorExp):
        return "*(... for ...)"
    if isinstance(spread, ast.SetComp):
        return "*{...}"
    if isinstance(spread, ast.Call):
        return "*map(...)"
    return "*..."


def _mentions_limiter(nodes: Iterable[ast.AST]) -> bool:
    for node in nodes:
        text = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if text and _LIMITER.search(text):
            return True
    return False


def check(scope: Scope) -> Optional[Hit]:
    hits = []
    for node in scope.nodes:
        if not (isinstance(node, ast.Call) and scope.resolve(node.func) in GATHERS):
            continue
        for arg in node.args:
            if not isinstance(arg, ast.Starred):
                continue
            value: ast.AST = arg.value
            if isinstance(value, ast.Name) and value.id in scope.local:
                value = _single_binding(scope, value.id) or value
            spread = _fan_out(scope, value)
            if spread is not None:
                hits.append((node, spread))
                break
    if not hits:
        return None
    # A limiter in this function, or in the coroutine it fans out to, bounds the concurrency.
    body = walk(scope.node)
    if _mentions_limiter(body):
        return None
    for _, spread in hits:
        for callee in _callees(spread):
            for fn in scope.mod.functions_by_name.get(callee, ()):
                if _mentions_limiter(walk(fn)):
                    return None
    first_call, first_spread = min(hits, key=lambda h: h[0].lineno)
    first = first_call.lineno
    return Hit(
        line=first,
        value=len(hits),
        unit="calls",
        label="asyncio.gather over an unbounded comprehension",
        evidence=(
            f"asyncio.gather({_shape(first_spread)}) at line {first} starts one coroutine per item at once; bound it with "
            f"an asyncio.Semaphore (or a worker pool / TaskGroup with a limit)"
        ),
        impact="concurrency grows with the input: pool, socket and memory exhaustion on large inputs",
        details={"lines": sorted(call.lineno for call, _ in hits)},
    )
