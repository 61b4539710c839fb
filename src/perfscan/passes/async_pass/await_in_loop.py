"""await-in-loop: an await inside a `for` loop (or comprehension) over independent items.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain await-in-loop`).
"""

from __future__ import annotations

import ast
from typing import AbstractSet, List, Optional, Set, Tuple, Union

from perfscan.astutil import dotted
from perfscan.passes.async_pass.dataflow import own_awaits, related
from perfscan.passes.async_pass.loop_flow import chains_of_call, loop_flow
from perfscan.passes.async_pass.scope import NESTED_SCOPES, Hit, Scope, walk

ID = "await-in-loop"

PACING = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
ORDERED_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "fetchrow",
        "fetchval",
        "fetchone",
        "fetchall",
        "fetchmany",
        "send",
        "sendall",
        "send_json",
        "send_text",
        "send_bytes",
        "write",
        "writelines",
        "drain",
        "put",
        "put_nowait",
        "acquire",
        "release",
        "commit",
        "rollback",
        "publish",
        "recv",
        "receive",
        "read",
        "readline",
        "readexactly",
        "wait",
        "join",
    }
)
# clean-up, on whatever object: closing resources one by one is ordered on purpose, not a missed gather
CLEANUP_METHODS = frozenset({"aclose", "close", "wait_closed", "shutdown", "disconnect", "stop", "unsubscribe"})
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _names(target: ast.AST) -> Set[str]:
    return {n.id for n in walk(target) if isinstance(n, ast.Name)}


def _reads(node: ast.AST) -> Set[str]:
    return {n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _ordered_receiver(call: ast.Call, fresh: AbstractSet[str]) -> bool:
    """A clean-up call, or a method ordered by nature (a connection, a stream, a queue) on one
    object shared by the iterations rather than one of the loop's items."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in CLEANUP_METHODS:
        return True
    if not (isinstance(func, ast.Attribute) and func.attr in ORDERED_METHODS):
        return False
    receiver = dotted(func.value)
    return receiver is None or not any(related(receiver, f) for f in fresh)


def _for_loop_hit(scope: Scope, loop: ast.For) -> Optional[Tuple[int, str]]:
    body = walk(loop.body, NESTED_SCOPES)
    if any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom)) for n in body):
        return None  # a search or a generator: the order is the point
    nodes = walk(loop.body, _LOOPS + _COMPS + NESTED_SCOPES)  # inner loops are judged on their own
    awaits = [(n, n.value) for n in nodes if isinstance(n, ast.Await) and isinstance(n.value, ast.Call)]
    if not awaits or any(isinstance(n, ast.Break) for n in nodes):
        return None
    flow = loop_flow(loop, _names(loop.target))
    if flow.carried is not None:
        return None  # a later iteration reads what an earlier one wrote: not independent items
    for node, call in awaits:
        if scope.call_name(call) in PACING:
            continue
        if not any(related(c, f) for c in chains_of_call(call) for f in flow.fresh):
            continue  # the same call every time (a retry, a poll), not one per item
        if _ordered_receiver(call, flow.fresh):
            continue
        return node.lineno, _shown(call)
    return None


def _comp_hit(
    scope: Scope, comp: Union[ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp]
) -> Optional[Tuple[int, str]]:
    gens = comp.generators
    if any(g.is_async for g in gens):
        return None
    targets = set().union(*(_names(g.target) for g in gens))
    parts = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
    for part in parts:
        for node in own_awaits(part):
            call = node.value
            if (
                isinstance(call, ast.Call)
                and scope.call_name(call) not in PACING
                and _reads(call) & targets
                and not _ordered_receiver(call, targets)
            ):
                return node.lineno, _shown(call)
    return None


def _shown(call: ast.Call) -> str:
    try:
        return ast.unparse(call.func)
    except Exception:  # unparse is best effort on odd trees
        return "call"


def check(scope: Scope) -> Optional[Hit]:
    if not scope.awaits:
        return None
    hits: List[Tuple[int, str]] = []
    for node in scope.nodes:
        hit = None
        if isinstance(node, ast.For):
            hit = _for_loop_hit(scope, node)
        elif isinstance(node, _COMPS):
            hit = _comp_hit(scope, node)
        if hit is not None:
            hits.append(hit)
    if not hits:
        return None
    hits.sort()
    line, shown = hits[0]
    n = len(hits)
    return Hit(
        line=line,
        value=n,
        unit="loops",
        label="await inside a loop over items" if n == 1 else f"{n} loops await one item at a time",
        evidence=(
            f"await {shown}(...) at line {line} runs once per item, one after another; run the items "
            f"concurrently with asyncio.gather or a TaskGroup, bounded by a Semaphore"
        ),
        impact="N items take N times one await's latency instead of about one",
        details={"lines": [h[0] for h in hits]},
    )
