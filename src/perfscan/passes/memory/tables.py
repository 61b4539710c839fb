"""The memory section's tables: the largest groups at a peak, each test's peak, growth."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from perfscan.passes.memory.categorize import categorize_at
from perfscan.passes.memory.deep import DeepRun
from perfscan.passes.memory.groups import Group, GroupKey
from perfscan.passes.memory.records import Growth, MemoryRun, Phase, worst_unattributed
from perfscan.passes.memory.section import GrowthRow, TopRow
from perfscan.passes.memory.units import MIB, mib


def top_rows(groups: Mapping[GroupKey, Group], limit: int = 15) -> Tuple[TopRow, ...]:
    """Groups of 0.1 MiB or more, largest first."""
    rows = sorted((g for g in groups.values() if g.bytes >= MIB // 10), key=lambda g: g.bytes, reverse=True)[:limit]
    out = []
    for g in rows:
        line = g.biggest_line
        cat = categorize_at(g.location, line)
        out.append(
            TopRow(
                function=f"{g.module}:{g.qualname}",
                file=g.rel,
                line=line,
                mib=round(mib(g.bytes), 1),
                count=g.count,
                category=cat.category,
                reducibility=cat.reducibility,
                test=g.test,
                phase=g.phase,
            )
        )
    return tuple(out)


def peaks_by_test(phases: Sequence[Phase]) -> Tuple[Tuple[str, float], ...]:
    """How far each test's memory rose above its phase's start at most, in the order the tests
    ran: traced, or the screen's estimate for a test that was not traced."""
    out: Dict[str, float] = {}
    for p in phases:
        peak = mib(max(0, p.peak - p.start))
        if peak > out.get(p.test, -1.0):
            out[p.test] = round(peak, 1)
    return tuple(out.items())


def unattributed_mib(phases: Sequence[Phase]) -> float:
    """The most one test's snapshot held with no project frame."""
    worst = worst_unattributed(phases)
    return round(mib(worst.unattributed), 1) if worst else 0.0


def growth_rows(growth: Sequence[Growth], limit: int = 10) -> Tuple[GrowthRow, ...]:
    """The values that grew, most first; sizes to the KiB (a server's slow leak is KiBs per run)."""
    return tuple(
        GrowthRow(f"{r.module}.{r.name}", r.file, tuple(round(mib(s), 3) for s in r.sizes), r.entries, r.estimated)
        for r in growth[:limit]
    )


def overhead(run: MemoryRun, run_seconds: float, deep: Optional[DeepRun]) -> Dict[str, Any]:
    """The probe's own timings, with the measured run's and the deep run's."""
    out = dict(run.overhead)
    out.update({"frames": run.frames, "hook": run.hook, "run_seconds": round(run_seconds, 2)})
    if deep is not None:
        out["deep_run"] = deep.to_json()
    return out
