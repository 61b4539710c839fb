"""lock-contention: time waiting to acquire a lock, condition, semaphore or queue.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/waiting.py; `perfscan explain lock-contention`).

Backing: the waiting measured at the acquiring line (`with lock:`, `lock.acquire()`,
`cond.wait()`, `queue.get()`). Not flagged: waiting for a thread to end or a future's result
(`join`, `result`: that is the other thread's work), waiting for the GIL (reported apart).
"""

from __future__ import annotations

from typing import Optional

from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "lock-contention"


def match(facts: FunctionFacts) -> Optional[Match]:
    best: Optional[Match] = None
    for site in facts.wait_sites:
        if site.kind != "lock" or site.seconds <= 0 or (best is not None and site.seconds <= best.backing):
            continue
        what = site.text[5:] if site.text.startswith("with ") else site.text
        count = f" ({site.count:,} acquisitions)" if site.count else ""
        best = Match(
            ID,
            site.line,
            f"threads waited {site.seconds:.2f} s per run to acquire `{what}` at line {site.line}{count}: "
            "hold it only around the shared state (do slow work outside it), split it, or give each "
            "worker its own",
            site.seconds,
        )
    return best
