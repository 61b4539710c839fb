"""The CPU pass's section of the reports: what the Markdown, JSON and HTML reports lay out.

`to_json()` is the section in `scan-report.json` (`passes.cpu.data`), whose keys `perfscan diff`
and the reports read; `from_json()` reads it back. `ran` and `waited_lines` are handed to the
async pass and are not written to the report.

It is a time section: each function's wall time, its CPU time and the time it waited (in calls,
and for the GIL), and the call sites where the profiled tests waited.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple, Union

from perfscan.passes.cpu.flame import FlameNode
from perfscan.passes.cpu.profile import Profile


@dataclass(frozen=True)
class TopRow:
    """One row of the report's table of the functions with the most attributable time."""

    function: str  # module:qualname
    file: str
    line: int
    attributable_pct: float
    own_pct: float
    cumulative_pct: float
    calls: Optional[int]  # None: not counted (a function loaded before the counters were in place)
    primitive_calls: Optional[int]
    wall_pct: Optional[float] = None  # attributable CPU plus waiting (None in a report made before waiting)
    wait_pct: float = 0.0  # waiting, in calls and for the GIL

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Optional[TopRow]:
        if not isinstance(raw, dict) or not isinstance(raw.get("function"), str):
            return None
        return cls(
            raw["function"],
            str(raw.get("file") or ""),
            _int(raw.get("line")) or 0,
            _number(raw.get("attributable_pct")),
            _number(raw.get("own_pct")),
            _number(raw.get("cumulative_pct")),
            _int(raw.get("calls")),
            _int(raw.get("primitive_calls")),
            _number(raw.get("wall_pct")) if raw.get("wall_pct") is not None else None,
            _number(raw.get("wait_pct")),
        )


@dataclass(frozen=True)
class WaitRow:
    """One call site where the profiled tests waited (per run)."""

    function: str  # module:qualname
    file: str
    line: int
    call: str  # the call as written
    kind: str  # sleep | lock | query | io | thread | "" (unknown)
    seconds: float
    pct: float  # of the profiled wall time
    count: Optional[int]  # calls at the site, where counted

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Optional[WaitRow]:
        if not isinstance(raw, dict) or not isinstance(raw.get("function"), str):
            return None
        return cls(
            raw["function"],
            str(raw.get("file") or ""),
            _int(raw.get("line")) or 0,
            str(raw.get("call") or ""),
            str(raw.get("kind") or ""),
            _number(raw.get("seconds")),
            _number(raw.get("pct")),
            _int(raw.get("count")),
        )


@dataclass(frozen=True)
class CpuSection:
    engine: str  # what measured, in words (the report's CPU heading)
    engine_id: str  # "cprofile" or "sample"
    engine_asked: str
    wall_seconds: float  # per run of the tests (pooled runs divided back), so two scans compare
    phase_seconds: Mapping[str, float]
    threads: Union[int, str, None]
    counting_seconds: float  # the call counters' cost, taken out of the shares
    functions_seen: int
    top: Tuple[TopRow, ...]
    # every project function's attributable seconds, none cut: `perfscan diff` compares absolute
    # time, since shares shift when another function gets faster; `perfscan merge` re-derives shares
    functions: Mapping[str, float]
    flame: Optional[FlameNode] = None  # the icicle chart's tree
    ran: FrozenSet[str] = field(default=frozenset(), compare=False)  # for the async pass; not in the report
    # waiting (the sampling engine): how it was measured, every function's waiting seconds (what
    # `perfscan diff` compares beside `functions`), the top call sites, the tests' own waiting
    waiting: str = ""  # in words; "" when waiting was not measured
    wait_seconds: float = 0.0  # all waiting in project functions, per run
    harness_wait_seconds: float = 0.0  # the main thread's waiting in no project function, per run
    waits: Mapping[str, float] = field(default_factory=dict)
    wait_sites: Tuple[WaitRow, ...] = ()
    flame_wall: Optional[FlameNode] = None  # the chart of wall time: CPU and waiting
    # "module:qualname" -> {line: waiting seconds per run}, for the async pass; not in the report
    waited_lines: Mapping[str, Mapping[int, float]] = field(default_factory=dict, compare=False)
    # every counted project function's exact calls (per run of the tests), and its primitive calls
    # where they differ (recursion): `perfscan merge` adds them across shards. Written only when
    # counted, so a report made before the field reads and writes back unchanged
    calls: Mapping[str, int] = field(default_factory=dict)
    primitive_calls: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "engine": self.engine,
            "engine_id": self.engine_id,
            "engine_asked": self.engine_asked,
            "wall_seconds": self.wall_seconds,
            "phase_seconds": dict(self.phase_seconds),
            "threads": self.threads,
            "counting_seconds": self.counting_seconds,
            "functions_seen": self.functions_seen,
            "top": [r.to_json() for r in self.top],
            "functions": dict(self.functions),
            "flame": self.flame.to_json() if self.flame is not None else None,
            "waiting": self.waiting,
            "wait_seconds": self.wait_seconds,
            "harness_wait_seconds": self.harness_wait_seconds,
            "waits": dict(self.waits),
            "wait_sites": [r.to_json() for r in self.wait_sites],
            "flame_wall": self.flame_wall.to_json() if self.flame_wall is not None else None,
        }
        if self.calls:
            out["calls"] = dict(self.calls)
        if self.primitive_calls:
            out["primitive_calls"] = dict(self.primitive_calls)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> CpuSection:
        """The section of a saved report; what is missing or malformed reads as empty."""
        raw = raw if isinstance(raw, dict) else {}
        phases = raw.get("phase_seconds") if isinstance(raw.get("phase_seconds"), dict) else {}
        functions = raw.get("functions") if isinstance(raw.get("functions"), dict) else {}
        top = (TopRow.from_json(r) for r in (raw.get("top") if isinstance(raw.get("top"), list) else []))
        waits = raw.get("waits") if isinstance(raw.get("waits"), dict) else {}
        sites = (
            WaitRow.from_json(r) for r in (raw.get("wait_sites") if isinstance(raw.get("wait_sites"), list) else [])
        )
        threads = raw.get("threads")
        return cls(
            engine=str(raw.get("engine") or "cProfile"),
            engine_id=str(raw.get("engine_id") or ""),
            engine_asked=str(raw.get("engine_asked") or ""),
            wall_seconds=_number(raw.get("wall_seconds")),
            phase_seconds={str(k): _number(v) for k, v in phases.items()},
            threads=threads if isinstance(threads, (int, str)) and not isinstance(threads, bool) else None,
            counting_seconds=_number(raw.get("counting_seconds")),
            functions_seen=_int(raw.get("functions_seen")) or 0,
            top=tuple(r for r in top if r is not None),
            functions={str(k): _number(v) for k, v in functions.items()},
            flame=FlameNode.from_json(raw.get("flame")),
            waiting=str(raw.get("waiting") or ""),
            wait_seconds=_number(raw.get("wait_seconds")),
            harness_wait_seconds=_number(raw.get("harness_wait_seconds")),
            waits={str(k): _number(v) for k, v in waits.items()},
            wait_sites=tuple(r for r in sites if r is not None),
            flame_wall=FlameNode.from_json(raw.get("flame_wall")),
            calls=_counts(raw.get("calls")),
            primitive_calls=_counts(raw.get("primitive_calls")),
        )


def top_table(profile: Profile, limit: int = 12) -> Tuple[TopRow, ...]:
    wall = profile.total_wall or 1e-9
    rows = sorted(profile.functions.values(), key=lambda f: f.wall(), reverse=True)[:limit]
    return tuple(
        TopRow(
            f"{f.module}:{f.qualname}",
            f.rel,
            f.info.lineno,
            round(100 * f.attributable() / wall, 1),
            round(100 * f.own_total() / wall, 1),
            round(100 * f.cumulative_total() / wall, 1),
            f.calls_total if f.counted else None,
            f.calls_primitive if f.counted else None,
            round(100 * f.wall() / wall, 1),
            round(100 * f.waited() / wall, 1),
        )
        for f in rows
    )


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return float(value)


def _counts(raw: Any) -> Dict[str, int]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
