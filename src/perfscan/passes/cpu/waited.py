"""From the waiting sampler's stacks to each project function's waiting time, by call site.

The rules (docs/design.md "The passes", CPU, Waiting):

- A waiting sample belongs to the innermost project function on its stack, as a CPU sample
  does, at the line that function stands on: the call site it waits in. The frame just inside
  it, when there is one, is the library function called from there (requests' `get`, Django's
  query code); a C function (`time.sleep`, `socket.recv`, a lock) has no frame.
- An event loop waiting for its next event (asyncio's `_run_once` inside the project function
  that started the loop) is idle, not waiting in project code: not counted. A coroutine that
  blocks is on the stack inside the loop's frames, and its waiting counts.
- No project function on the stack: the main thread's waiting is the test harness's (the tests'
  own sleeps, fixtures polling a server, libraries called by the tests): it stays in the wall
  time on no function, like fixture work. Another thread's is not the tests' time at all (an
  idle pool worker, a server's select loop) and is dropped.

Everything here is pure: plain data in, plain data out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple, TypeVar

from perfscan.passes.cpu.records import Frame
from perfscan.passes.cpu.samples import Owner, occurrences
from perfscan.passes.cpu.waitrecords import WaitStack

K = TypeVar("K", bound=Hashable)

# (file suffix, function) of the frames an event loop waits in for its next event
EVENT_LOOP_FRAMES = (
    ("asyncio/base_events.py", "_run_once"),
    ("asyncio/base_events.py", "run_forever"),
    ("trio/_core/_run.py", "unrolled_run"),
)


@dataclass
class Waited:
    """What the waiting samples say about one function."""

    wait: Dict[str, float] = field(default_factory=lambda: defaultdict(float))  # by phase, in calls
    gil: Dict[str, float] = field(default_factory=lambda: defaultdict(float))  # by phase, for the GIL
    lines: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # waiting by call site line
    gil_lines: Dict[int, float] = field(default_factory=lambda: defaultdict(float))
    # line -> (file, name) of the library function called from it -> seconds
    via: Dict[int, Dict[Tuple[str, str], float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    tests: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # waiting seconds by test index
    ticks: int = 0


@dataclass(frozen=True)
class Placed:
    """Where one waiting stack's time goes: a function at a line, or nobody (harness waiting)."""

    stack: WaitStack
    key: Optional[Hashable]  # the function, None when no project function holds it
    line: int = 0
    via: Optional[Tuple[str, str]] = None
    counted: bool = True  # part of the tests' time: everything on the main thread, project waiting elsewhere


def place(stack: WaitStack, owners: Callable[[int], Owner[K]], frames: Sequence[Frame]) -> Placed:
    occ = occurrences(stack.frames, owners)
    deepest = max((j for j, (key, _s, _e) in enumerate(occ) if key is not None), default=-1)
    if deepest < 0:
        # harness waiting: in the wall time on the main thread, nobody's time on another
        return Placed(stack, None, counted=stack.main)
    key, _start, end = occ[deepest]
    inside = [frames[fi] for fi, _line in stack.frames[end + 1 :]]
    if any(_is_event_loop(f) for f in inside):
        return Placed(stack, None, counted=stack.main)  # idle: on the main thread, in the wall time on nobody
    via = (inside[0].file, inside[0].name) if inside else None
    return Placed(stack, key, stack.frames[end][1], via)


def _is_event_loop(frame: Frame) -> bool:
    path = frame.file.replace("\\", "/")
    return any(path.endswith(suffix) and frame.name == name for suffix, name in EVENT_LOOP_FRAMES)


def aggregate_waits(placed: Sequence[Placed], scale: Callable[[str, int], float]) -> Dict[Hashable, Waited]:
    """Waiting by function, each stack's seconds times its test phase's scale (threads side by side)."""
    out: Dict[Hashable, Waited] = {}
    for p in placed:
        if p.key is None or not p.counted:
            continue
        s = p.stack
        seconds = s.seconds * scale(s.phase, s.test)
        if seconds <= 0:
            continue
        w = out.get(p.key)
        if w is None:
            w = out[p.key] = Waited()
        w.ticks += s.ticks
        w.tests[s.test] += seconds
        if s.gil:
            w.gil[s.phase] += seconds
            w.gil_lines[p.line] += seconds
        else:
            w.wait[s.phase] += seconds
            w.lines[p.line] += seconds
            if p.via is not None:
                w.via[p.line][p.via] += seconds
    return out


def harness_seconds(placed: Sequence[Placed]) -> float:
    """The main thread's waiting in no project function (the tests' own waits, idle event loops), unscaled."""
    return sum(p.stack.seconds for p in placed if p.key is None and p.counted)


def counted_by_test(placed: Sequence[Placed]) -> Dict[Tuple[str, int], float]:
    """Waiting seconds that are part of each test phase's time (before any scaling)."""
    out: Dict[Tuple[str, int], float] = defaultdict(float)
    for p in placed:
        if p.counted:
            out[(p.stack.phase, p.stack.test)] += p.stack.seconds
    return out


def top_via(via: Dict[Tuple[str, str], float], n: int = 3) -> List[Tuple[str, str]]:
    return [k for k, _v in sorted(via.items(), key=lambda kv: kv[1], reverse=True)[:n]]
