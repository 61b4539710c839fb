"""The waiting patterns' facts about a function: its measured call sites and the statements it ran.

- Wait sites: each line where the function waited (in calls, or for the GIL), with the call on
  it (patterns/waitcalls.py), the waiting, the CPU at the line and, where the probe counted
  them, the calls made there.
- Statements: the probe files each statement under the project lines that ran it, innermost
  first. A statement belongs to the function of its innermost line; the loop that repeats it is
  the first of those lines that stands in a loop (its own function's, or a caller's: a helper
  that runs one query, called per item by a view).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.locate import Locator
from perfscan.passes.cpu.patterns.astkit import LoopFrame, loop_around
from perfscan.passes.cpu.patterns.base import QuerySite, WaitSite
from perfscan.passes.cpu.patterns.waitcalls import call_at, last_name
from perfscan.passes.cpu.waited import top_via
from perfscan.passes.cpu.waitrecords import Queries

FuncKey = Tuple[str, str]  # (relative file, qualname)
BATCH_CALLS = frozenset({"executemany", "executescript"})


@dataclass(frozen=True)
class Statements:
    """Statements of one shape from one line of a function, in one run of the tests."""

    line: int
    shape: str
    count: int
    loop: Optional[Tuple[str, int, str]]  # (file, loop line, function: "" when the same function)


def statements_by_function(queries: Optional[Queries], locator: Locator) -> Dict[FuncKey, List[Statements]]:
    if queries is None:
        return {}
    grouped: Dict[Tuple[FuncKey, int, str], int] = defaultdict(int)
    loops: Dict[Tuple[FuncKey, int, str], Optional[Tuple[str, int, str]]] = {}
    for st in queries.statements:
        file, line = st.sites[0]
        where = locator.function_at(file, line)
        if where is None or where.function is None:
            continue
        key = ((where.rel, where.function.qualname), line, st.shape)
        grouped[key] += st.count
        if key not in loops or loops[key] is None:
            loops[key] = _loop_of(st.sites, locator, where.function.qualname)
    out: Dict[FuncKey, List[Statements]] = defaultdict(list)
    for (fkey, line, shape), count in grouped.items():
        out[fkey].append(Statements(line, shape, count, loops.get((fkey, line, shape))))
    return dict(out)


def _loop_of(sites: Sequence[Tuple[str, int]], locator: Locator, own: str) -> Optional[Tuple[str, int, str]]:
    for i, (file, line) in enumerate(sites):
        where = locator.function_at(file, line)
        if where is None or where.function is None:
            continue
        if i == 0:
            loop, batch = statement_loop(where.function.node, line)
            if batch:
                return None  # a batch API runs its statements in one call: no loop of the project's
        else:
            loop = loop_around(where.function.node, line)
        if loop is not None:
            same = i == 0 or where.function.qualname == own
            return where.rel, getattr(loop.node, "lineno", line), "" if same else where.function.qualname
    return None


def statement_loop(fn_node: ast.AST, line: int) -> Tuple[Optional[LoopFrame], bool]:
    """The loop around the statement call on `line` (the call itself, not a comprehension its
    arguments hold), and whether that call is a batch API (`executemany`)."""
    call = call_at(fn_node, line, {})
    if call is not None and call.kind == "query" and isinstance(call.node, ast.Call):
        if last_name(call.node) in BATCH_CALLS:
            return None, True
        return loop_around(fn_node, line, call.node), False
    return loop_around(fn_node, line), False


def wait_sites(
    fn_node: object,
    aliases: Dict[str, str],
    waits: Mapping[int, float],
    gils: Mapping[int, float],
    via: Mapping[int, Dict[Tuple[str, str], float]],
    line_seconds: Mapping[int, float],
    runs: int,
    counts: Mapping[Tuple[int, str], int] = {},
) -> Tuple[WaitSite, ...]:
    """Every line the function waited at, most waiting first; seconds per run (pooled runs divided
    back), counts as counted (one run: the plain run's, or the first sampled run's)."""
    sites = []
    for line in set(waits) | set(gils):
        seconds = waits.get(line, 0.0) / runs
        gil = gils.get(line, 0.0) / runs
        if seconds <= 0 and gil <= 0:
            continue
        found = call_at(fn_node, line, aliases, top_via(dict(via.get(line, {})))) if fn_node is not None else None  # type: ignore[arg-type]
        # the counter of the call waited in; a line whose call went uncounted has none
        count = counts.get((line, last_name(found.node))) if found is not None else None
        sites.append(
            WaitSite(
                line=line,
                node=found.node if found else None,
                text=found.text if found else f"line {line}",
                name=found.name if found else "",
                kind=found.kind if found else None,
                seconds=seconds,
                gil_seconds=gil,
                cpu_seconds=line_seconds.get(line, 0.0) / runs,
                count=count,
            )
        )
    return tuple(sorted(sites, key=lambda s: (-s.seconds, s.line)))


def query_sites(
    statements: Sequence[Statements], waits: Mapping[int, float], line_seconds: Mapping[int, float], runs: int
) -> Tuple[QuerySite, ...]:
    """Per run: the counts (of one run already), and the time measured at each statement's line
    (waiting plus CPU, pooled runs divided back)."""
    out = []
    for st in statements:
        seconds = (waits.get(st.line, 0.0) + line_seconds.get(st.line, 0.0)) / runs
        out.append(QuerySite(st.line, st.shape, st.count, seconds, st.loop))
    return tuple(sorted(out, key=lambda q: (-q.count, q.line)))
