"""blocking-call-in-async: a blocking call made directly inside an `async def`.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain blocking-call-in-async`).
"""

from __future__ import annotations

import ast
from typing import Dict, List, Optional, Set, Tuple

from perfscan.passes.async_pass.blocking_calls import advice, display_name
from perfscan.passes.async_pass.scope import Hit, Scope

ID = "blocking-call-in-async"


def _nonblocking_socket_lines(fn: ast.AST) -> List[Tuple[int, int]]:
    """Line spans of `try` bodies that catch BlockingIOError: a socket call there is made on a
    non-blocking socket, and returns at once (the way asyncio's own loops connect and send)."""
    spans = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Try) and node.body:
            caught = [
                n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else ""
                for h in node.handlers
                if h.type is not None
                for n in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type])
            ]
            if "BlockingIOError" in caught:
                spans.append((node.body[0].lineno, getattr(node.body[-1], "end_lineno", node.body[-1].lineno)))
    return spans


def _set_nonblocking(fn: ast.AST) -> Set[str]:
    """Receivers (as written) made non-blocking in the function: `s.setblocking(False)`, `s.settimeout(0)`."""
    out = set()
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and (
                (node.func.attr == "setblocking" and node.args[0].value is False)
                or (node.func.attr == "settimeout" and node.args[0].value == 0)
            )
        ):
            out.add(ast.dump(node.func.value))
    return out


def blocking_calls_in(scope: Scope) -> List[Tuple[str, int]]:
    """(real name, line) of each blocking call the function makes itself."""
    found = []
    spans: Optional[List[Tuple[int, int]]] = None
    nonblocking: Optional[Set[str]] = None
    for node in scope.nodes:
        if isinstance(node, ast.Call):
            name = scope.call_name(node)
            if name is not None and name in scope.catalog.calls:
                if name.startswith("socket.socket.") and isinstance(node.func, ast.Attribute):
                    if spans is None:
                        spans, nonblocking = _nonblocking_socket_lines(scope.node), _set_nonblocking(scope.node)
                    if ast.dump(node.func.value) in (nonblocking or set()) or any(
                        a <= node.lineno <= b for a, b in spans
                    ):
                        continue
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
