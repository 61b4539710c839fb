"""The measured run across pytest-xdist workers: each worker's run merged into one
(docs/design.md "Every core").

Each worker traced its own tests in its own process, so its phases are its tests' own: the
merged run has every worker's phases, in collection order (as one process runs them: the
catching and deep runs take their tests in this order, and a module's tests kept together set
its fixtures up once). The census of values held from import is the same in every worker (the
same modules, imported the same way): the first worker's is kept. A value that grows is seen in
each worker that ran tests adding to it, each from its own share of the tests: the merged sizes
start from the largest first size and add every worker's growth, which is what one process
running all the tests would have gained.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.passes.memory.records import Growth, MemoryRun, Repeat
from perfscan.probe_host import ProbeRun

GROWTH_ROWS = 50  # the probe's own cap on the values it reports growing


def merge_workers(runs: Sequence[MemoryRun], order: Mapping[str, int]) -> MemoryRun:
    """One run from the workers' runs; `order`: each node id's place in the collection."""
    last = len(order)
    # the slowest worker's own timings: the run took as long as it did
    slowest = max(runs, key=lambda r: float(r.overhead.get("loop_seconds") or 0.0))
    return dataclasses.replace(
        runs[0],
        phases=tuple(sorted((p for r in runs for p in r.phases), key=lambda p: order.get(p.test, last))),
        import_values=next((r.import_values for r in runs if r.import_values), ()),
        growth=_merged_growth(runs),
        repeat=_merged_repeat([r.repeat for r in runs]),
        overhead=dict(slowest.overhead, workers=len(runs)),
        errors=tuple(e for r in runs for e in r.errors),
        dropped=sum(r.dropped for r in runs),
        mode="measure" if any(r.mode == "measure" for r in runs) else runs[0].mode,
        hook_off=next((r.hook_off for r in runs if r.hook_off), ""),
    )


def _merged_growth(runs: Sequence[MemoryRun]) -> Tuple[Growth, ...]:
    """Every worker's growing values, summed by value: most growth first, 50 at most (as the
    probe writes them: the report's growth table takes the first)."""
    by_value: Dict[Tuple[str, str], List[Growth]] = {}
    for run in runs:
        for row in run.growth:
            by_value.setdefault((row.module, row.name), []).append(row)
    merged = sorted((_add_growth(rows) for rows in by_value.values()), key=_grown, reverse=True)
    return tuple(merged[:GROWTH_ROWS])


def _grown(row: Growth) -> int:
    return row.sizes[-1] - row.sizes[0] if row.sizes else 0


def _add_growth(rows: List[Growth]) -> Growth:
    """A value's sizes (and entry counts) over the repetitions, summed over the workers that saw it."""
    if len(rows) == 1:
        return rows[0]
    return dataclasses.replace(
        rows[0],
        sizes=_summed([r.sizes for r in rows]),
        entries=_summed([r.entries for r in rows]),
        truncated=any(r.truncated for r in rows),
        estimated=any(r.estimated for r in rows),
    )


def _summed(series: Sequence[Tuple[int, ...]]) -> Tuple[int, ...]:
    """From the largest first figure, every series' growth at each step added."""
    found = [s for s in series if s]
    if not found:
        return ()
    base = max(s[0] for s in found)
    return tuple(base + sum(s[i] - s[0] for s in found) for i in range(min(len(s) for s in found)))


def _merged_repeat(repeats: Sequence[Repeat]) -> Repeat:
    """Repetitions: as many as every worker that repeated finished; failures and repeated tests
    add up. A worker none of whose tests changed a module-level container repeats nothing: it is
    left out, and the repetitions are skipped only when every worker skipped them."""
    ran = [r for r in repeats if not r.skipped]
    if not ran:
        return repeats[0]
    tests = [r.tests for r in ran]
    return Repeat(
        done=min(r.done for r in ran),
        failures=sum(r.failures for r in ran),
        seconds=max(r.seconds for r in ran),
        tests=None if None in tests else sum(t for t in tests if t is not None),
    )


def read_measured(run: ProbeRun, workers: int) -> Tuple[Optional[MemoryRun], List[str]]:
    """A memory run's records; across xdist workers, theirs merged."""
    pieces = run.worker_runs() if workers > 1 else []
    if not pieces:
        raw = run.read("memory.json")
        return (MemoryRun.from_json(raw) if raw is not None else None), []
    raws = [piece.read("memory.json") for piece in pieces]
    found = [MemoryRun.from_json(raw) for raw in raws if raw is not None]
    if not found:
        return None, []
    notes = [
        f"measured across {len(pieces)} pytest-xdist workers (the probe in every worker, each measuring its own "
        "tests; their phases merged)"
    ]
    if len(found) < len(pieces):
        notes.append(
            f"{len(pieces) - len(found)} of {len(pieces)} xdist workers wrote no memory data: their tests are missing"
        )
    order = {str(n): i for i, n in enumerate((run.read("collected.json") or {}).get("nodeids") or ())}
    return merge_workers(found, order), notes
