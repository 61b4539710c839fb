"""sequential-awaits: 3 or more awaits in a row that do not depend on each other.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain sequential-awaits`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator, List, Optional, Set

from perfscan.astutil import dotted
from perfscan.passes.async_pass.dataflow import any_related, effects, value_of
from perfscan.passes.async_pass.scope import Hit, Scope, walk

ID = "sequential-awaits"
MIN_RUN = 3

ENDS_RUN = frozenset(
    {
        "asyncio.sleep",
        "asyncio.gather",
        "asyncio.wait",
        "asyncio.as_completed",
        "anyio.sleep",
        "trio.sleep",
    }
)
WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield"})


@dataclass(frozen=True)
class Step:
    line: int
    callee: str
    shown: str
    reads: Set[str]
    writes: Set[str]


def blocks(scope: Scope) -> Iterator[List[ast.stmt]]:
    yield list(scope.node.body)
    for node in scope.nodes:
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


def step_of(scope: Scope, stmt: ast.stmt) -> Optional[Step]:
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
        return None
    value = value_of(stmt)
    nodes = walk(value) if value is not None else []  # awaits cannot hide in a lambda or def
    awaits = [n for n in nodes if isinstance(n, ast.Await)]
    if len(awaits) != 1 or not isinstance(awaits[0].value, ast.Call):
        return None
    call = awaits[0].value
    callee = scope.call_name(call)
    if callee in WRAPPERS and call.args and isinstance(call.args[0], ast.Call):
        call = call.args[0]
        callee = scope.call_name(call)
    func = call.func
    if isinstance(func, ast.Name) and func.id in scope.local:
        return None  # a local callable may read or write any local state
    shown = dotted(func) or _unparse(func)
    if callee is None:
        callee = shown
    if callee in ENDS_RUN:
        return None
    if isinstance(stmt, ast.Expr) and stmt.value is awaits[0] and not call.args and not call.keywords:
        return None  # `await connect()`: a step whose order is likely the point
    reads, writes, stores = effects(scope, stmt, nodes)
    # Module-level, global and nonlocal state may be read by the callees: assigning it is a
    # barrier. A method call on a global object (`api.stock.count()`) only writes that object,
    # which the other steps' chains are checked against like any other.
    if any(w.split(".")[0] not in scope.local or w.split(".")[0] in scope.outer_declared for w in stores):
        return None
    return Step(stmt.lineno, callee, shown, reads, writes)


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # unparse is best effort on odd trees
        return "<call>"


def conflict(a: Step, b: Step) -> bool:
    if a.callee == b.callee:
        return True
    return any_related(a.writes, b.reads | b.writes) or any_related(b.writes, a.reads)


def independent_runs(scope: Scope, block: List[ast.stmt]) -> Iterator[List[Step]]:
    run: List[Step] = []
    for stmt in block:
        step = step_of(scope, stmt)
        if step is None:
            if len(run) >= MIN_RUN:
                yield run
            run = []
            continue
        clash = [i for i, prev in enumerate(run) if conflict(prev, step)]
        if clash:
            if len(run) >= MIN_RUN:
                yield run
            run = run[clash[-1] + 1 :]
        run.append(step)
    if len(run) >= MIN_RUN:
        yield run


def check(scope: Scope) -> Optional[Hit]:
    if len(scope.awaits) < MIN_RUN:
        return None
    best: List[Step] = []
    for block in blocks(scope):
        for run in independent_runs(scope, block):
            if len(run) > len(best):
                best = run
    if not best:
        return None
    n = len(best)
    lines = ", ".join(str(s.line) for s in best)
    callees = ", ".join(dict.fromkeys(s.shown for s in best))
    return Hit(
        line=best[0].line,
        value=n,
        unit="awaits",
        label=f"{n} independent sequential awaits",
        evidence=(
            f"awaits at lines {lines} ({callees}) do not depend on each other; "
            f"run them concurrently with asyncio.gather or a TaskGroup"
        ),
        impact=f"waits for the slowest of {n} instead of their sum",
        details={"lines": [s.line for s in best], "callees": [s.shown for s in best]},
    )
