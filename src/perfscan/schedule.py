"""Which passes run side by side: docs/design.md "Side by side".

A pass whose runs tolerate a neighbour (`Pass.side_by_side`: CPU-time sampling, tracemalloc)
runs beside the next such passes while the machine has a core free for each; a pass that needs a
quiet machine (import timing) or an earlier pass's results (the async pass reads the CPU pass's)
runs alone, after the passes before it. The registry's order is kept: a stage is a run of
consecutive passes.
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


def stages(passes: Sequence[Pass], cores: int) -> List[Tuple[Pass, ...]]:
    """The passes in order, grouped: consecutive side-by-side passes share a stage, at most `cores` of them."""
    out: List[Tuple[Pass, ...]] = []
    group: List[Pass] = []
    for spec in passes:
        if spec.side_by_side and cores > 1 and group and len(group) < cores and group[-1].side_by_side:
            group.append(spec)
            continue
        if group:
            out.append(tuple(group))
        group = [spec]
    if group:
        out.append(tuple(group))
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
