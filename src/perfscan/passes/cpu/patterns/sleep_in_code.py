"""sleep-in-code: `time.sleep` on the measured path of project code (polling, retry, backoff).

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/waiting.py; `perfscan explain sleep-in-code`).

Backing: the waiting measured at the sleep's line. Not flagged: a sleep the run never waited in
(not on the measured path), `asyncio.sleep` (the event loop runs other work meanwhile), sleeps
in tests and fixtures (not project code).
"""

from __future__ import annotations

from typing import Optional

from perfscan.passes.cpu.patterns.astkit import loop_around
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match
from perfscan.passes.cpu.patterns.waitcalls import call_text

ID = "sleep-in-code"


def match(facts: FunctionFacts) -> Optional[Match]:
    best: Optional[Match] = None
    for site in facts.wait_sites:
        if site.kind != "sleep" or site.seconds <= 0 or (best is not None and site.seconds <= best.backing):
            continue
        loop = loop_around(facts.node, site.line, site.node)
        where = f" in the loop at line {getattr(loop.node, 'lineno', 0)}" if loop is not None else ""
        calls = f" over {site.count:,} call{'s' if site.count != 1 else ''}" if site.count else ""
        best = Match(
            ID,
            site.line,
            f"`{call_text(site.node) or site.text}` (line {site.line}{where}) waited {site.seconds:.2f} s per run"
            f"{calls}: a poll, retry or pacing sleep on the measured path; wait on the event itself "
            "(a condition, a future, a timeout on the call) or back off less",
            site.seconds,
        )
    return best
