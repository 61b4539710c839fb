"""Which passes run side by side: docs/design.md "Side by side".

A pass that needs a quiet machine (`Pass.quiet`: import timing) runs alone, first, while no
other pass runs: a pass side by side that overruns its share cannot then take its turn. A pass
whose runs tolerate a neighbour (`Pass.side_by_side`: CPU-time sampling, tracemalloc) runs beside
the next such passes while the machine has a core free for each; a pass that reads an earlier
pass's results (the async pass reads the CPU pass's) runs alone, after the passes before it.
Otherwise the registry's order is kept, and the report lists the passes in that order.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Sequence, Tuple, TypeVar

from perfscan import children
from perfscan.passes.registry import Pass

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the platform has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


Chain = Tuple[Pass, ...]  # passes one after the other in one thread
Stage = Tuple[Chain, ...]  # chains side by side


def stages(passes: Sequence[Pass], cores: int) -> List[Stage]:
    """The quiet passes alone, first; then the others in order, grouped: consecutive side-by-side
    passes share a stage, at most `cores` of them, and a side-by-side pass that reads another's
    results runs after it in its chain (the async pass after the CPU pass, beside the memory pass)."""
    out: List[Stage] = [((spec,),) for spec in passes if spec.quiet]
    group: List[List[Pass]] = []
    for spec in (p for p in passes if not p.quiet):
        together = bool(group) and spec.side_by_side and all(p.side_by_side for c in group for p in c)
        feeder = next((c for c in group if any(p.domain in spec.reads for p in c)), None)
        if together and feeder is not None:
            feeder.append(spec)
            continue
        if together and not spec.reads and cores > 1 and len(group) < cores:
            group.append([spec])
            continue
        if group:
            out.append(tuple(tuple(c) for c in group))
        group = [[spec]]
    if group:
        out.append(tuple(tuple(c) for c in group))
    return out


def run_side_by_side(jobs: Sequence[Tuple[str, Callable[[], T]]]) -> Dict[str, T]:
    """Each job in a thread of its own (they wait on child processes); their results by name.
    An interrupt or an error kills every child first, so no thread is left waiting on one."""
    if len(jobs) == 1:
        name, job = jobs[0]
        return {name: job()}
    pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="perfscan-pass")
    try:
        futures = {name: pool.submit(job) for name, job in jobs}
        return {name: future.result() for name, future in futures.items()}
    except BaseException:
        children.kill_all()
        raise
    finally:
        pool.shutdown(wait=True)
