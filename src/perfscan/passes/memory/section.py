"""The memory pass's section of the report: render-ready, typed, and its JSON form both ways.

`to_json()` gives the `passes.memory.data` object of scan-report.json; `from_json()` reads it
back (a saved report, `perfscan diff`), with a default for anything missing or mistyped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from perfscan.passes.memory.records import as_float, as_int, as_str, opt_float, opt_str


def _rows(raw: Any) -> Tuple[Mapping[str, Any], ...]:
    return tuple(r for r in raw if isinstance(r, dict)) if isinstance(raw, list) else ()


@dataclass(frozen=True)
class TopRow:
    """A project function's allocations alive at the test peak where it held the most."""

    function: str  # module:qualname
    file: str
    line: int
    mib: float
    count: int
    category: str
    reducibility: str
    test: str
    phase: str

    def to_json(self) -> Dict[str, Any]:
        return {
            "function": self.function,
            "file": self.file,
            "line": self.line,
            "mib": self.mib,
            "count": self.count,
            "category": self.category,
            "reducibility": self.reducibility,
            "test": self.test,
            "phase": self.phase,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TopRow:
        return cls(
            function=as_str(d.get("function")),
            file=as_str(d.get("file")),
            line=as_int(d.get("line")),
            mib=as_float(d.get("mib")),
            count=as_int(d.get("count")),
            category=as_str(d.get("category")),
            reducibility=as_str(d.get("reducibility")),
            test=as_str(d.get("test")),
            phase=as_str(d.get("phase")),
        )


@dataclass(frozen=True)
class GrowthRow:
    """A module-level value's size across the repetitions of the tests."""

    name: str  # module.NAME
    file: Optional[str]
    sizes_mib: Tuple[float, ...]
    entries: Tuple[int, ...] = ()  # entry counts beside the sizes; () when not a container
    estimated: bool = False  # sizes extrapolated from a sample of entries

    @property
    def per_repetition_mib(self) -> float:
        reps = len(self.sizes_mib) - 1
        return (self.sizes_mib[-1] - self.sizes_mib[0]) / reps if reps > 0 else 0.0

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "sizes_mib": list(self.sizes_mib),
            "entries": list(self.entries),
            "estimated": self.estimated,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GrowthRow:
        sizes = d.get("sizes_mib")
        entries = d.get("entries")
        return cls(
            name=as_str(d.get("name")),
            file=opt_str(d.get("file")),
            sizes_mib=tuple(as_float(s) for s in sizes) if isinstance(sizes, list) else (),
            entries=tuple(as_int(n) for n in entries) if isinstance(entries, list) else (),
            estimated=bool(d.get("estimated")),
        )


@dataclass(frozen=True)
class MemrayRow:
    function: str
    file: str
    line: int
    mib: float

    def to_json(self) -> Dict[str, Any]:
        return {"function": self.function, "file": self.file, "line": self.line, "mib": self.mib}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MemrayRow:
        return cls(
            function=as_str(d.get("function")),
            file=as_str(d.get("file")),
            line=as_int(d.get("line")),
            mib=as_float(d.get("mib")),
        )


@dataclass(frozen=True)
class MemraySummary:
    """memray's high-water mark of the whole run, per project function."""

    peak_mib: float
    native: bool
    seconds: Optional[float]
    unattributed_mib: float
    top: Tuple[MemrayRow, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        return {
            "peak_mib": self.peak_mib,
            "native": self.native,
            "seconds": self.seconds,
            "unattributed_mib": self.unattributed_mib,
            "top": [r.to_json() for r in self.top],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MemraySummary:
        return cls(
            peak_mib=as_float(d.get("peak_mib")),
            native=bool(d.get("native")),
            seconds=opt_float(d.get("seconds")),
            unattributed_mib=as_float(d.get("unattributed_mib")),
            top=tuple(MemrayRow.from_json(r) for r in _rows(d.get("top"))),
        )


@dataclass(frozen=True)
class MemorySection:
    tool: str  # "tracemalloc", or "tracemalloc + memray" ("" when unknown)
    measured: bool = True  # False: the run wrote no data, and the section holds the tool alone
    python: Optional[str] = None  # the version the probe ran under
    top: Tuple[TopRow, ...] = ()
    # (node id, MiB its phases rose at most: traced, or the screen's estimate), in the order the tests ran
    peak_mib_by_test: Tuple[Tuple[str, float], ...] = ()
    unattributed_mib: float = 0.0  # the most at one test's peak with no project frame
    growth: Tuple[GrowthRow, ...] = ()
    # the probe's own timings with the pass's run times: reported as they are, for whoever tunes the probe
    overhead: Dict[str, Any] = field(default_factory=dict)
    memray: Optional[MemraySummary] = None

    def to_json(self) -> Dict[str, Any]:
        if not self.measured:
            return {"tool": self.tool}
        out: Dict[str, Any] = {
            "tool": self.tool,
            "python": self.python,
            "top": [r.to_json() for r in self.top],
            "peak_mib_by_test": dict(self.peak_mib_by_test),
            "unattributed_mib": self.unattributed_mib,
            "growth": [g.to_json() for g in self.growth],
            "overhead": dict(self.overhead),
        }
        if self.memray is not None:
            out["memray"] = self.memray.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Any) -> MemorySection:
        d = raw if isinstance(raw, dict) else {}
        peaks = d.get("peak_mib_by_test")
        overhead = d.get("overhead")
        memray = d.get("memray")
        return cls(
            tool=as_str(d.get("tool")),
            measured="top" in d,
            python=opt_str(d.get("python")),
            top=tuple(TopRow.from_json(r) for r in _rows(d.get("top"))),
            peak_mib_by_test=tuple((str(k), as_float(v)) for k, v in peaks.items()) if isinstance(peaks, dict) else (),
            unattributed_mib=as_float(d.get("unattributed_mib")),
            growth=tuple(GrowthRow.from_json(r) for r in _rows(d.get("growth"))),
            overhead=dict(overhead) if isinstance(overhead, dict) else {},
            memray=MemraySummary.from_json(memray) if isinstance(memray, dict) else None,
        )
