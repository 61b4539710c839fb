"""n-plus-one-query: one database statement per loop iteration, from the same line, of the same shape.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/waiting.py; `perfscan explain n-plus-one-query`).

Backing: the time measured at the statement's line: waiting (a database server) plus CPU
(sqlite runs in the process), library code under the line included. Statements counted by the
probe (sqlite3, and the ORMs on it) give the shape and count; another driver's `execute` in a
loop is found by the waiting measured there. Not flagged: fewer than 10 statements of a shape
per run, statements outside any loop (in the function or in the project function that calls it),
and waiting at a line whose statements the probe counted (the count decides there).
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.passes.cpu.patterns.astkit import loop_around
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "n-plus-one-query"
MIN_STATEMENTS = 10  # per run, of one shape from one line
FIX = "fetch once with a join / `select_related` / `IN`"


def match(facts: FunctionFacts) -> Optional[Match]:
    best: Optional[Match] = None
    for q in facts.queries:
        if q.count < MIN_STATEMENTS or q.loop is None or q.seconds <= 0:
            continue
        if best is not None and q.seconds <= best.backing:
            continue
        file, loop_line, loop_fn = q.loop
        where = f"line {loop_line}" if loop_fn == "" else f"{file}:{loop_line} ({loop_fn})"
        best = Match(
            ID,
            q.line,
            f"{q.count:,} x `{q.shape}` from line {q.line} inside the loop at {where}: {FIX}",
            q.seconds,
        )
    if best is not None:
        return best
    # a line whose statements the probe counted is judged by that count alone: waiting there (a
    # preempted thread on a loaded machine reads as waiting) must not make one query a loop's
    counted = {q.line for q in facts.queries}
    for site in facts.wait_sites:  # a driver the probe does not count: its waiting in a loop
        if site.kind != "query" or site.seconds <= 0 or site.line in counted:
            continue
        if best is not None and site.seconds <= best.backing:
            continue
        loop = loop_around(facts.node, site.line, site.node)
        if loop is None:
            continue
        statement = _statement(site.node)
        best = Match(
            ID,
            site.line,
            f"`{site.text}`{statement} (line {site.line}) waited {site.seconds:.2f} s per run inside the loop at "
            f"line {getattr(loop.node, 'lineno', 0)}, one query per iteration: {FIX}",
            site.seconds + site.cpu_seconds,
        )
    return best


def _statement(node: Optional[ast.AST]) -> str:
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        text = node.args[0].value
        if isinstance(text, str):
            text = " ".join(text.split())
            return f" of `{text[:80]}`"
    return ""
