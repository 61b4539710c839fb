"""await-in-loop: an await inside a `for` loop (or comprehension) over independent items.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain await-in-loop`).
"""

from __future__ import annotations

import ast
from typing import List, Optional, Set, Tuple, Union

from perfscan.astutil import dotted
from perfscan.passes.async_pass.dataflow import own_awaits
from perfscan.passes.async_pass.scope import NESTED_SCOPES, Hit, Scope, walk

ID = "await-in-loop"

PACING = frozenset({"asyncio.sleep", "anyio.sleep", "trio.sleep"})
ORDERED_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "fetch",
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


def _writes(stmt: ast.AST) -> Set[str]:
    return {n.id for n in walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _ordered_receiver(call: ast.Call, fresh: Set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in CLEANUP_METHODS:
        return True
    if not (isinstance(func, ast.Attribute) and func.attr in ORDERED_METHODS):
        return False
    receiver = dotted(func.value)
    return receiver is None or receiver.split(".")[0] not in fresh


def _for_loop_hit(scope: Scope, loop: ast.For) -> Optional[Tuple[int, str]]:
    body = walk(loop.body, NESTED_SCOPES)
    if any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom)) for n in body):
        return None  # a search or a generator: the order is the point
    nodes = walk(loop.body, _LOOPS + _COMPS + NESTED_SCOPES)  # inner loops are judged on their own
    awaits = [(n, n.value) for n in nodes if isinstance(n, ast.Await) and isinstance(n.value, ast.Call)]
    if not awaits or any(isinstance(n, ast.Break) for n in nodes):
        return None
    targets = _names(loop.target)
    reads = [_reads(stmt) for stmt in loop.body]
    writes = [_writes(stmt) - targets for stmt in loop.body]
    # Names computed afresh from the loop variable, unconditionally, before their use.
    fresh = set(targets)
    carried = set()  # names an iteration may leave for the next one
    position = {}
    for index, stmt in enumerate(loop.body):
        for node in walk(stmt):
            position[id(node)] = index
        plain = isinstance(stmt, (ast.Assign, ast.AnnAssign))
        if plain and reads[index] & fresh:
            fresh |= writes[index] - reads[index]
        # Augmented, conditional or self-referencing writes carry over to the next iteration.
        carried |= writes[index] & reads[index] if plain else writes[index]
    for node, call in awaits:
        if scope.call_name(call) in PACING:
            continue
        used = _reads(call)
        if not used & fresh or used & carried:
            continue
        index = position.get(id(node), 0)
        if used & set().union(*writes[index:]):
            continue  # written at or after the await: the next iteration sees it
        if _ordered_receiver(call, fresh):
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
