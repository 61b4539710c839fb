"""Exact counts of the project's calls that can wait, per call site (beside calls.py's counts).

Samples of waiting time tell where the tests waited, not how many times: a line that slept 60
times for 20 ms and one that slept once for 1.2 s look alike. The call counters' compiler
(calls.py) also gives each call site that can wait a counter of its own:

- The site is a call whose callee's last name is one the waiting patterns know (a sleep, a
  statement, a socket, HTTP or subprocess call, a lock, a queue, a thread's result), with the
  generic names (`get`, `post`, `run`, ...) only on a receiver named for what waits (a queue, a
  session, a client, `requests`, `subprocess`); and every `with x:` whose `x` is not a call (a
  lock or a condition).
- A call becomes `(__perfscan_probe_sites__.__setitem__(i, __perfscan_probe_sites__[i] + 1),
  call)[1]`, all of it at the call's own position (line numbers, and the line a waiting sample
  reads, are unchanged); a `with` gets `__perfscan_probe_sites__[i] += 1` before it. The name is
  a builtin rebound by phase, as the call counters' are.

Everything here runs inside calls.py's compile step: stdlib only, nothing at import time.
"""

import ast

from .projectmap import to_project

SITES = "__perfscan_probe_sites__"

# callee names counted whatever the receiver
_WAIT_NAMES = frozenset(
    {
        "sleep",
        "execute",
        "executemany",
        "executescript",
        "fetchone",
        "fetchall",
        "fetchmany",
        "callproc",
        "recv",
        "recv_into",
        "recvfrom",
        "send",
        "sendall",
        "sendto",
        "accept",
        "urlopen",
        "getresponse",
        "create_connection",
        "acquire",
        "wait",
        "wait_for",
        "result",
        "check_output",
        "check_call",
        "communicate",
        "select",
        "readline",
        "readinto",
    }
)
# generic names, counted only on a receiver whose name says what it waits on
_GENERIC = frozenset({"get", "post", "put", "patch", "delete", "head", "request", "run", "call", "join", "connect"})
_RECEIVERS = ("queue", "session", "client", "requests", "httpx", "subprocess", "http", "conn", "sock", "pool")


class SiteCounter:
    def __init__(self):
        self.sites = []  # [file, line, callee name]
        self.counts = {p: [] for p in ("setup", "call", "teardown", "")}  # type: dict  # "" = outside the phases

    def register(self, filename, line, name):
        self.sites.append([filename, line, name])
        for arr in self.counts.values():
            arr.append(0)
        return len(self.sites) - 1

    def table(self, phase):
        return self.counts.get(phase, self.counts[""])

    def instrument(self, tree, filename):
        _Sites(self, filename).visit(tree)
        ast.fix_missing_locations(tree)

    def export(self):
        phases = {}
        for phase in ("setup", "call", "teardown"):
            arr = self.counts[phase]
            phases[phase] = [[i, n] for i, n in enumerate(arr) if n]
        # an installed copy of the project names the scanned source (projectmap.py)
        return {"sites": [[to_project(f), line, name] for f, line, name in self.sites], "phases": phases}


def _callee(func):
    """(last name, receiver text in lower case) of a call's callee."""
    if isinstance(func, ast.Name):
        return func.id, ""
    if isinstance(func, ast.Attribute):
        parts = []
        node = func.value
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
        return func.attr, ".".join(reversed(parts)).lower()
    return "", ""


def _counted(call):
    name, receiver = _callee(call.func)
    if name in _WAIT_NAMES:
        return name
    if name in _GENERIC and receiver and any(r in receiver for r in _RECEIVERS):
        return name
    return None


def _item(index, ctx):
    return ast.Subscript(ast.Name(SITES, ast.Load()), ast.Constant(index), ctx)


class _Sites(ast.NodeTransformer):
    def __init__(self, counter, filename):
        self.counter = counter
        self.filename = filename
        self.depth = 0  # inside a def: module-level code runs at import, outside any phase

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_Call(self, node):
        self.generic_visit(node)
        name = _counted(node) if self.depth else None
        if name is None:
            return node
        index = self.counter.register(self.filename, node.lineno, name)
        bump = ast.Call(
            ast.Attribute(ast.Name(SITES, ast.Load()), "__setitem__", ast.Load()),
            [
                ast.Constant(index),
                ast.BinOp(_item(index, ast.Load()), ast.Add(), ast.Constant(1)),
            ],
            [],
        )
        wrapped = ast.Subscript(ast.Tuple([bump, node], ast.Load()), ast.Constant(1), ast.Load())
        _place(wrapped, node, skip=node)
        return wrapped

    def visit_With(self, node):
        self.generic_visit(node)
        if not self.depth:
            return node
        bumps = []
        for item in node.items:
            if isinstance(item.context_expr, ast.Call):
                continue
            index = self.counter.register(self.filename, node.lineno, "__enter__")
            stmt = ast.AugAssign(_item(index, ast.Store()), ast.Add(), ast.Constant(1))
            _place(stmt, node)
            bumps.append(stmt)
        return bumps + [node] if bumps else node


def _place(new, at, skip=None):
    """Give the nodes added around `at` its position (and leave `skip`, the original call, as it is)."""
    stack = [new]
    while stack:
        cur = stack.pop()
        if cur is skip:
            continue
        if "lineno" in cur._attributes:
            cur.lineno, cur.col_offset = at.lineno, at.col_offset
            cur.end_lineno = getattr(at, "end_lineno", at.lineno)
            cur.end_col_offset = getattr(at, "end_col_offset", at.col_offset)
        stack.extend(ast.iter_child_nodes(cur))
