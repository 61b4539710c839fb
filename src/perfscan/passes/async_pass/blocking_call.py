"""blocking-call-in-async: a blocking call made directly inside an `async def`.

What it does: finds calls whose real name (after import and alias resolution) is in the
blocking-call catalog (`blocking_calls.py` plus `[tool.perfscan] blocking-calls`): time.sleep,
file I/O, subprocesses, sync HTTP clients, sockets, sync database drivers, input().

Why it is bad: a coroutine runs on the event loop's only thread; while the call blocks, no
other task runs, so one slow call adds its whole duration to every concurrent request.

Example:
    async def notify(customer):
        time.sleep(0.05)                 # flagged: use await asyncio.sleep(0.05)
        await asyncio.to_thread(time.sleep, 0.05)   # fine: runs in a worker thread

Not flagged: calls inside a nested sync def or lambda (handed to to_thread/run_in_executor),
a function passed uncalled, a method named like a blocking call on an unrelated object.
"""
from __future__ import annotations

import ast
from typing import Dict, List, Optional, Tuple

from perfscan.passes.async_pass.blocking_calls import advice, display_name
from perfscan.passes.async_pass.scope import Hit, Scope

PATTERN = "blocking-call-in-async"


def blocking_calls_in(scope: Scope) -> List[Tuple[str, int]]:
    """(real name, line) of each blocking call the function makes itself."""
    found = []
    for node in scope.nodes:
        if isinstance(node, ast.Call):
            name = scope.call_name(node)
            if name is not None and name in scope.catalog.calls:
                found.append((name, node.lineno))
    found.sort(key=lambda item: item[1])
    return found


def check(scope: Scope) -> Optional[Hit]:
    calls = blocking_calls_in(scope)
    if not calls:
        return None
    shown = list(dict.fromkeys(display_name(name) for name, _ in calls))
    what = ", ".join(shown)
    if scope.hot_path:
        label = f"{what} on the hot path"
    elif scope.hot_known:
        label = f"{what} (not seen running)"
    else:
        label = f"{what} (hot path unknown)"
    where = ", ".join(f"{display_name(name)} at line {line}" for name, line in calls[:5])
    if len(calls) > 5:
        where += f" and {len(calls) - 5} more"
    todo: Dict[str, None] = dict.fromkeys(advice(name) for name, _ in calls)
    unit = "call" if len(calls) == 1 else "calls"
    return Hit(
        line=calls[0][1],
        value=len(calls),
        unit="calls",
        label=label,
        evidence=f"{where}; {'; '.join(todo)}",
        impact=f"blocks the event loop: every concurrent task waits for the {unit}",
        details={"calls": [{"name": name, "line": line} for name, line in calls]},
    )
