"""io-in-loop: a network, file or subprocess call per iteration of a loop over independent items.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/waiting.py; `perfscan explain io-in-loop`).

Backing: the waiting measured at the call's line. Not flagged: calls outside loops, `while`
loops (an exchange over one connection, a poll), loops that break or return early (a search, a
retry), loops that never read their item, database statements (n-plus-one-query), sleeps.
"""

from __future__ import annotations

from typing import Optional

from perfscan.passes.cpu.patterns.astkit import loop_around, over_items
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "io-in-loop"


def match(facts: FunctionFacts) -> Optional[Match]:
    best: Optional[Match] = None
    for site in facts.wait_sites:
        if site.kind != "io" or site.seconds <= 0 or (best is not None and site.seconds <= best.backing):
            continue
        loop = loop_around(facts.node, site.line, site.node)
        if loop is None or not over_items(loop):
            continue
        calls = f"{site.count:,} calls, " if site.count else ""
        best = Match(
            ID,
            site.line,
            f"`{site.text}` (line {site.line}) waited {site.seconds:.2f} s per run inside the loop at line "
            f"{getattr(loop.node, 'lineno', 0)} ({calls}one per item): batch the calls or make them "
            "concurrently (a thread pool, asyncio)",
            site.seconds,
        )
    return best
