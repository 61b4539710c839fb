"""What the memory probe wrote (`memory.json`, and memray's capture as read back), as typed records.

The probe's format is documented in perfscan/probe/memory.py. Each record is read once here:
a missing or mistyped field takes a stated default, and a record that cannot be read at all (a
phase that is not an object, a line row that is not [file, line, bytes, count], growth sizes
that are not numbers) is dropped and counted in `MemoryRun.dropped`, so the pass can say so in
a note instead of failing on a damaged file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError, OverflowError):
        return default


def as_float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError, OverflowError):
        return default


def as_str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def opt_int(value: Any) -> Optional[int]:
    return None if value is None else as_int(value)


def opt_float(value: Any) -> Optional[float]:
    return None if value is None else as_float(value)


def _object(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is not a JSON object")
    return raw


def _parse_all(raw: Any, parse: Callable[[Any], T]) -> Tuple[Tuple[T, ...], int]:
    """Every record of the JSON list `raw` that `parse` can read, and how many it could not."""
    if not isinstance(raw, list):
        return (), 0
    out: List[T] = []
    dropped = 0
    for item in raw:
        try:
            out.append(parse(item))
        except ValueError:
            dropped += 1
    return tuple(out), dropped


@dataclass(frozen=True)
class LineRow:
    """Bytes alive at a peak whose innermost project frame is (file, line)."""

    file: str  # absolute, as the probe saw it
    line: int
    bytes: int
    count: int

    @classmethod
    def from_json(cls, raw: Any) -> LineRow:
        try:
            return cls(str(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]))
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            raise ValueError(f"not a [file, line, bytes, count] row: {raw!r:.80}") from None


@dataclass(frozen=True)
class Phase:
    """One test phase (setup, call or teardown) and what was alive at its kept snapshot."""

    test: str
    phase: str = "call"
    start: int = 0  # bytes traced when the phase began
    peak: int = 0  # tracemalloc's peak during the phase
    snapshot: int = 0  # bytes traced when the kept snapshot was taken (0: none)
    snapshots: int = 0
    lines: Tuple[LineRow, ...] = ()
    tests: int = 0  # bytes with test code as innermost frame
    libs: int = 0  # bytes in library frames with no project frame seen
    imports: int = 0  # bytes made by the import system: modules loaded since the test loop began
    runner: int = 0  # bytes made by the test runner: its reports of the tests so far, its bookkeeping
    lib_lines: Tuple[Tuple[str, int, int], ...] = ()  # (file, line, bytes) of `libs`' innermost frames, most first
    libs_new: Optional[int] = None  # of `libs`, those not alive at an earlier phase's last snapshot (None: unknown)
    note: str = ""  # why no snapshot was taken
    dropped: int = 0  # line rows that could not be read
    hooked: bool = True  # False: its peak is to be caught again (the hook was off, or a mark passed unarmed)
    full: bool = False  # the hook ran, or must run, from the phase's start (a deep run of it does the same)
    seconds: float = 0.0  # the phase's time in the run that measured it
    resident: int = 0  # screened: the resident memory's rise (probe/screen.py)
    blocks: int = 0  # screened: the rise in live small objects

    @classmethod
    def from_json(cls, raw: Any) -> Phase:
        d = _object(raw, "a phase record")
        lines, dropped = _parse_all(d.get("lines"), LineRow.from_json)
        return cls(
            test=as_str(d.get("test")),
            phase=as_str(d.get("phase"), "call"),
            start=as_int(d.get("start")),
            peak=as_int(d.get("peak")),
            snapshot=as_int(d.get("snapshot")),
            snapshots=as_int(d.get("snapshots")),
            lines=lines,
            tests=as_int(d.get("tests")),
            libs=as_int(d.get("libs")),
            imports=as_int(d.get("imports")),
            runner=as_int(d.get("runner")),
            libs_new=as_int(d.get("libs_new")) if d.get("libs_new") is not None else None,
            lib_lines=_lib_lines(d.get("lib_lines")),
            note=as_str(d.get("note")) if d.get("note") else "",
            dropped=dropped,
            hooked=d.get("hooked") is not False,
            full=d.get("full") is True,
            seconds=as_float(d.get("seconds")),
            resident=as_int(d.get("resident")),
            blocks=as_int(d.get("blocks")),
        )

    @property
    def key(self) -> Tuple[str, str]:
        return self.test, self.phase

    @property
    def fresh_libs(self) -> int:
        """Library bytes at the snapshot that this phase made, as far as the run could tell: a
        deeper trace of its test can attribute these, not those an earlier test left alive."""
        return self.libs if self.libs_new is None else min(self.libs, self.libs_new)

    @property
    def unattributed(self) -> int:
        """Bytes at the snapshot with no project frame: made by test code, inside libraries, by
        the import system, or by the test runner."""
        return self.tests + self.libs + self.imports + self.runner


def _lib_lines(raw: Any) -> Tuple[Tuple[str, int, int], ...]:
    out = []
    for row in raw if isinstance(raw, list) else ():
        if isinstance(row, list) and len(row) == 3 and isinstance(row[0], str):
            out.append((row[0], as_int(row[1]), as_int(row[2])))
    return tuple(out)


def worst_unattributed(phases: Sequence[Phase]) -> Optional[Phase]:
    """The snapshot holding the most with no project frame, when it holds anything."""
    worst = max((p for p in phases if p.snapshots), key=lambda p: p.unattributed, default=None)
    return worst if worst is not None and worst.unattributed else None


@dataclass(frozen=True)
class ModuleValue:
    """A module-level value of the project and what it holds, measured before the first test."""

    module: str
    name: str  # `NAME`, or `Class.attr`
    file: str  # root-relative
    type: Optional[str] = None
    bytes: int = 0
    truncated: bool = False  # the walk was capped: `bytes` is a lower bound

    @classmethod
    def from_json(cls, raw: Any) -> ModuleValue:
        d = _object(raw, "an import-held value")
        return cls(
            module=as_str(d.get("module")),
            name=as_str(d.get("name")),
            file=as_str(d.get("file") or ""),
            type=opt_str(d.get("type")),
            bytes=as_int(d.get("bytes")),
            truncated=bool(d.get("truncated")),
        )


@dataclass(frozen=True)
class Growth:
    """A module-level value's size before and after each repetition of the tests."""

    module: str
    name: str
    file: Optional[str]
    type: Optional[str] = None
    sizes: Tuple[int, ...] = ()
    truncated: bool = False
    entries: Tuple[int, ...] = ()  # entry counts beside the sizes (a container's length); () when not one
    estimated: bool = False  # sizes extrapolated from a sample of entries: too big to walk whole

    @classmethod
    def from_json(cls, raw: Any) -> Growth:
        d = _object(raw, "a growth record")
        raw_sizes = d.get("sizes") or []
        try:
            if not isinstance(raw_sizes, list):
                raise TypeError
            sizes = tuple(int(s) for s in raw_sizes)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"growth sizes are not a list of numbers: {raw_sizes!r:.80}") from None
        return cls(
            module=as_str(d.get("module")),
            name=as_str(d.get("name")),
            file=opt_str(d.get("file")),
            type=opt_str(d.get("type")),
            sizes=sizes,
            truncated=bool(d.get("truncated")),
            entries=_ints(d.get("entries")),
            estimated=bool(d.get("estimated")),
        )


def _ints(raw: Any) -> Tuple[int, ...]:
    if not isinstance(raw, list):
        return ()
    try:
        return tuple(int(n) for n in raw)
    except (TypeError, ValueError, OverflowError):
        return ()


@dataclass(frozen=True)
class Repeat:
    """The repetitions of the target tests run to measure growth."""

    done: int = 0
    failures: int = 0
    seconds: float = 0.0
    tests: Optional[int] = None  # tests repeated: those that changed a module-level container (None: all)
    skipped: str = ""  # why no repetition ran

    @classmethod
    def from_json(cls, raw: Any) -> Repeat:
        d = raw if isinstance(raw, dict) else {}
        return cls(
            done=as_int(d.get("done")),
            failures=as_int(d.get("failures")),
            seconds=as_float(d.get("seconds")),
            tests=opt_int(d.get("tests")),
            skipped=as_str(d.get("skipped")),
        )


@dataclass(frozen=True)
class MemoryRun:
    """One probe run's memory.json (the measured run, or the deep run)."""

    python: Optional[str] = None
    frames: Optional[int] = None
    hook: Optional[str] = None
    phases: Tuple[Phase, ...] = ()
    import_values: Tuple[ModuleValue, ...] = ()
    growth: Tuple[Growth, ...] = ()
    repeat: Repeat = Repeat()
    # the probe's own timings, reported as they are (their keys belong to the probe)
    overhead: Dict[str, Any] = field(default_factory=dict)
    errors: Tuple[str, ...] = ()
    dropped: int = 0  # records that could not be read, over the whole file
    mode: str = "measure"  # "screen": each phase's rise estimated untraced (no lines); "measure": peaks caught; "deep"
    peaks_ok: bool = True  # per-phase peaks (tracemalloc.reset_peak, 3.9+)
    hook_off: str = ""  # the test after which the probe turned the peak hook off (it cost too much)
    rises: bool = False  # the hook was armed where memory rose from the first phase on (the traced run)

    @classmethod
    def from_json(cls, raw: Any) -> MemoryRun:
        d = raw if isinstance(raw, dict) else {}
        phases, bad_phases = _parse_all(d.get("phases"), Phase.from_json)
        values, bad_values = _parse_all(d.get("import"), ModuleValue.from_json)
        growth, bad_growth = _parse_all(d.get("growth"), Growth.from_json)
        errors = d.get("errors")
        overhead = d.get("overhead")
        return cls(
            python=opt_str(d.get("python")),
            frames=opt_int(d.get("frames")),
            hook=opt_str(d.get("hook")),
            phases=phases,
            import_values=values,
            growth=growth,
            repeat=Repeat.from_json(d.get("repeat")),
            overhead=dict(overhead) if isinstance(overhead, dict) else {},
            errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
            dropped=bad_phases + bad_values + bad_growth + sum(p.dropped for p in phases),
            mode=as_str(d.get("mode"), "measure"),
            peaks_ok=d.get("peaks_ok") is not False,
            hook_off=as_str(d.get("hook_off")),
            rises=d.get("rises") is True,
        )


@dataclass(frozen=True)
class MemrayRecord:
    """Bytes alive at memray's high-water mark from one stack: (file, line) frames, innermost first."""

    size: int
    frames: Tuple[Tuple[str, Optional[int]], ...]  # line None: not a line number

    @classmethod
    def from_json(cls, raw: Any) -> MemrayRecord:
        try:
            size, frames = int(raw[0]), raw[2]
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            raise ValueError(f"not a [size, count, frames] record: {raw!r:.80}") from None
        out = []
        for frame in frames if isinstance(frames, list) else []:
            if isinstance(frame, list) and len(frame) >= 2:
                out.append((str(frame[0]), frame[1] if isinstance(frame[1], int) else None))
        return cls(size, tuple(out))


@dataclass(frozen=True)
class MemrayCapture:
    """memray's capture of the whole run, read back in the project's interpreter."""

    peak: int = 0
    native: bool = False
    records: Tuple[MemrayRecord, ...] = ()
    dropped: int = 0

    @classmethod
    def from_json(cls, raw: Any) -> MemrayCapture:
        d = raw if isinstance(raw, dict) else {}
        records, dropped = _parse_all(d.get("records"), MemrayRecord.from_json)
        return cls(peak=as_int(d.get("peak")), native=bool(d.get("native")), records=records, dropped=dropped)
