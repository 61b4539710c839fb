"""dangling-task: `asyncio.create_task(...)` / `ensure_future(...)` whose result is dropped.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain dangling-task`).
"""

from __future__ import annotations

import ast
from typing import FrozenSet, List, Optional, Set

from perfscan.passes.async_pass.scope import Hit, Scope

ID = "dangling-task"

SPAWNERS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
LOOP_GETTERS = frozenset({"asyncio.get_event_loop", "asyncio.get_running_loop", "asyncio.new_event_loop"})
LOOP_NAMES = frozenset({"loop", "_loop", "event_loop", "_event_loop"})


def _loop_names(scope: Scope) -> FrozenSet[str]:
    """Local names assigned only from asyncio.get_running_loop() and friends."""
    good: Set[str] = set()
    bad: Set[str] = set()
    for node in scope.nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            is_loop = isinstance(value, ast.Call) and scope.resolve(value.func) in LOOP_GETTERS
            (good if is_loop else bad).add(node.targets[0].id)
    return frozenset(good - bad)


def _is_loop(scope: Scope, node: ast.AST, loops: FrozenSet[str]) -> bool:
    if isinstance(node, ast.Call):
        return scope.resolve(node.func) in LOOP_GETTERS
    if isinstance(node, ast.Name):
        return node.id in loops or node.id in LOOP_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in LOOP_NAMES
    return False


def check(scope: Scope) -> Optional[Hit]:
    loops = _loop_names(scope)
    lines: List[int] = []
    for node in scope.nodes:
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        name = scope.resolve(func)
        if name in SPAWNERS or (
            isinstance(func, ast.Attribute) and func.attr == "create_task" and _is_loop(scope, func.value, loops)
        ):
            lines.append(node.lineno)
    if not lines:
        return None
    lines.sort()
    where = ", ".join(str(n) for n in lines[:5])
    return Hit(
        line=lines[0],
        value=len(lines),
        unit="tasks",
        label=f"{len(lines)} task reference{'s' if len(lines) > 1 else ''} dropped",
        evidence=(
            f"task created and dropped at line{'s' if len(lines) > 1 else ''} {where}; keep a reference "
            f"(a set plus add_done_callback(set.discard)) or use asyncio.TaskGroup"
        ),
        impact="the task can be garbage-collected mid-run and its exceptions are lost",
        details={"lines": lines},
    )
