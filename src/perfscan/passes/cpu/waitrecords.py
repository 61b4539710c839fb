"""The probe's waiting samples and database statements as typed records (parts of `cpu.json`).

Shapes (the probe's waiting.py, sampler.py and queries.py write them):
- samples.waits: interval, ticks, seconds (the sampler thread's own CPU), covered (main-thread
  waiting given to other threads working meanwhile), errors, stacks [[phase, test index,
  [[frame index, line], ...outermost first], seconds, ticks, "main"|"other", GIL?]]
- samples.walls: [[phase, test index, main-thread wall seconds]]
- queries (in `calls`, the counting run's; or the cProfile engine's own): method, statements
  [[phase, [[file, line], ...innermost first], shape, count]], connections, errors

What does not fit is left out, as in records.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

PHASES = ("setup", "call", "teardown")


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _dict(value: Any) -> Dict[Any, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class WaitStack:
    """Waiting of one (phase, test, stack, thread kind, GIL?): `frames` as in records.Stack."""

    phase: str
    test: int
    frames: Tuple[Tuple[int, int], ...]
    seconds: float
    ticks: int = 1
    main: bool = True  # the main thread (whose wall time the shares divide by), else another thread
    gil: bool = False  # waiting for the GIL, not in a call

    @classmethod
    def from_json(cls, raw: Any, frames: int) -> Optional[WaitStack]:
        if not isinstance(raw, (list, tuple)) or len(raw) < 4 or str(raw[0]) not in PHASES:
            return None
        test = _int(raw[1])
        if test is None:
            return None
        steps = []
        for step in _list(raw[2]):
            fi = _int(step[0]) if isinstance(step, (list, tuple)) and len(step) >= 2 else None
            if fi is None or not 0 <= fi < frames:
                return None
            steps.append((fi, _int(step[1]) or 0))
        return cls(
            str(raw[0]),
            test,
            tuple(steps),
            _float(raw[3]),
            (_int(raw[4]) or 1) if len(raw) > 4 else 1,
            (raw[5] != "other") if len(raw) > 5 else True,
            bool(raw[6]) if len(raw) > 6 else False,
        )


@dataclass(frozen=True)
class Waits:
    """The waiting sampler's record of one run (or of pooled runs)."""

    interval: float = 0.0
    ticks: int = 0
    seconds: float = 0.0  # the sampler thread's own CPU
    covered: float = 0.0
    stacks: Tuple[WaitStack, ...] = ()
    errors: Tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Any, frames: int) -> Optional[Waits]:
        if not isinstance(raw, dict):
            return None
        stacks = (WaitStack.from_json(s, frames) for s in _list(raw.get("stacks")))
        return cls(
            interval=_float(raw.get("interval")),
            ticks=_int(raw.get("ticks")) or 0,
            seconds=_float(raw.get("seconds")),
            covered=_float(raw.get("covered")),
            stacks=tuple(s for s in stacks if s is not None),
            errors=tuple(str(e) for e in _list(raw.get("errors"))),
        )


def walls_from_json(raw: Any) -> Tuple[Tuple[str, int, float], ...]:
    out = []
    for row in _list(raw):
        if isinstance(row, (list, tuple)) and len(row) >= 3 and str(row[0]) in PHASES and _int(row[1]) is not None:
            out.append((str(row[0]), int(row[1]), _float(row[2])))
    return tuple(out)


@dataclass(frozen=True)
class Statement:
    """Statements of one shape that the project lines `sites` ran (innermost first), in a phase."""

    phase: str
    sites: Tuple[Tuple[str, int], ...]  # (file, line), innermost project frame first
    shape: str
    count: int


@dataclass(frozen=True)
class Queries:
    """The statements of one run of the tests (a counting run is never pooled)."""

    method: str = ""
    statements: Tuple[Statement, ...] = ()
    connections: int = 0
    errors: Tuple[str, ...] = ()
    spent: Mapping[str, float] = field(default_factory=dict)  # phase -> seconds in the probe's trace callback

    @classmethod
    def from_json(cls, raw: Any) -> Optional[Queries]:
        if not isinstance(raw, dict):
            return None
        rows = []
        for r in _list(raw.get("statements")):
            if not isinstance(r, (list, tuple)) or len(r) < 4 or str(r[0]) not in PHASES:
                continue
            sites = tuple(
                (str(s[0]), _int(s[1]) or 0) for s in _list(r[1]) if isinstance(s, (list, tuple)) and len(s) >= 2
            )
            count = _int(r[3])
            if sites and count:
                rows.append(Statement(str(r[0]), sites, str(r[2]), count))
        return cls(
            method=str(raw.get("method") or ""),
            statements=tuple(rows),
            connections=_int(raw.get("connections")) or 0,
            errors=tuple(str(e) for e in _list(raw.get("errors"))),
            spent={str(k): _float(v) for k, v in _dict(raw.get("spent")).items() if str(k) in PHASES},
        )


def pool_waits(a: Optional[Waits], b: Optional[Waits], move: Callable[[WaitStack], WaitStack]) -> Optional[Waits]:
    """Two runs' waits in one record; `move` re-indexes a stack of b into a's frames and tests."""
    if a is None or b is None:
        return a if b is None else replace(b, stacks=tuple(move(s) for s in b.stacks))
    return replace(
        a,
        ticks=a.ticks + b.ticks,
        seconds=a.seconds + b.seconds,
        covered=a.covered + b.covered,
        stacks=a.stacks + tuple(move(s) for s in b.stacks),
        errors=a.errors + tuple(e for e in b.errors if e not in a.errors),
    )


def reindex_test(test: int, old: Sequence[str], tests: List[str], index: Dict[str, int]) -> int:
    """A test index of one run's list, in the pooled list (added there when new)."""
    if not 0 <= test < len(old):
        return test
    name = old[test]
    if name not in index:
        index[name] = len(tests)
        tests.append(name)
    return index[name]


def walls_by_test(walls: Sequence[Tuple[str, int, float]]) -> Mapping[Tuple[str, int], float]:
    out: Dict[Tuple[str, int], float] = {}
    for phase, test, seconds in walls:
        out[(phase, test)] = out.get((phase, test), 0.0) + seconds
    return out
