"""Which calls one function makes that block: the real name of each call against the catalog."""

from __future__ import annotations

import ast
from typing import List, Optional, Set, Tuple

from perfscan.passes.async_pass.scope import Scope


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
