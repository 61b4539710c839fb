"""Probe lines grouped by project function, each group kept at the test peak where it held the most.

The probe reduces every snapshot to bytes per line of the innermost project frame. Lines fold
into the `def` around them (comprehensions and lambdas included, by line range); lines at module
level form the module's own group, import-time work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.locate import Location, Locator
from perfscan.passes.memory.records import LineRow, Phase

REPLACE_MARGIN = 1.02  # a later peak must hold 2% more to take a group over (the same data stays with its first phase)
MODULE_LEVEL = "<module>"

GroupKey = Tuple[str, str]  # (root-relative file, qualname)


@dataclass(frozen=True)
class Held:
    """Objects a holder's line keeps alive that another project function allocated (holders.py)."""

    qualname: str  # module:Qual.name of the allocator
    rel: str
    line: int  # the allocator's biggest moved line
    source: str  # that line's text
    bytes: int
    count: int
    holder_line: int


@dataclass(frozen=True)
class Group:
    location: Location  # the first line's: the file, and the function (None: module level)
    bytes: int
    count: int
    lines: Mapping[int, Tuple[int, int]]  # line -> (bytes, allocations) at the kept peak
    test: str = ""
    phase: str = ""
    phase_peak: int = 0  # the most the test phase held, at its peak or its kept snapshot
    held: Tuple[Held, ...] = ()  # other functions' objects its containers keep alive (in bytes and lines)

    @property
    def rel(self) -> str:
        return self.location.rel

    @property
    def module(self) -> str:
        return self.location.module

    @property
    def qualname(self) -> str:
        return self.location.function.qualname if self.location.function else MODULE_LEVEL

    @property
    def symbol(self) -> str:
        return self.location.function.name if self.location.function else self.location.module

    @property
    def def_line(self) -> Optional[int]:
        return self.location.function.lineno if self.location.function else None

    @property
    def biggest_line(self) -> int:
        if not self.lines:
            return self.def_line or 1
        return max(self.lines.items(), key=lambda kv: kv[1][0])[0]


def group_phase_lines(rows: Sequence[LineRow], locator: Locator) -> Dict[GroupKey, Group]:
    """One phase's line rows, summed per project function (rows outside the project are nobody's)."""
    located: Dict[GroupKey, Location] = {}
    lines: Dict[GroupKey, Dict[int, List[int]]] = {}
    for row in rows:
        where = locator.function_at(row.file, row.line)
        if where is None:
            continue
        key = (where.rel, where.function.qualname if where.function else MODULE_LEVEL)
        located.setdefault(key, where)
        cur = lines.setdefault(key, {}).setdefault(row.line, [0, 0])
        cur[0] += row.bytes
        cur[1] += row.count
    return {
        key: Group(
            located[key],
            sum(b for b, _c in by_line.values()),
            sum(c for _b, c in by_line.values()),
            {ln: (b, c) for ln, (b, c) in by_line.items()},
        )
        for key, by_line in lines.items()
    }


def merge_peaks(phases: Sequence[Phase], locator: Locator) -> Dict[GroupKey, Group]:
    """Each group at the test peak where it held the most (the first such peak on a near tie),
    after each phase's objects are credited to the container that holds them (holders.py)."""
    from perfscan.passes.memory.holders import credit_holders  # holders builds on this module's Group

    best: Dict[GroupKey, Group] = {}
    for ph in phases:
        if not ph.lines:
            continue
        for key, g in credit_holders(group_phase_lines(ph.lines, locator)).items():
            g = replace(
                g,
                test=ph.test,
                phase="import" if g.qualname == MODULE_LEVEL else ph.phase,
                phase_peak=max(ph.peak, ph.snapshot),
            )
            old = best.get(key)
            if old is None or g.bytes > old.bytes * REPLACE_MARGIN:
                best[key] = g
    return best
