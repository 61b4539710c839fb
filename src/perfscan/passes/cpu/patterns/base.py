"""What every CPU pattern gets (`FunctionFacts`) and returns (`Match`).

The waiting patterns (sleep-in-code, lock-contention, io-in-loop, n-plus-one-query) read the
measured call sites (`WaitSite`) and the statements the function ran (`QuerySite`); the other
patterns read the function's CPU time.

Backing at the line: with the sampling engine the facts carry the function's attributable time
by source line, so a pattern is backed by the time measured at the lines that make it (the inner
loop, the membership test, the call), not by the whole function's. The interpreter handles the
profiling signal only where it checks for one: right after a call, and at a loop's back edge
(which the sampler files under the loop's header line). So a call's time lands on the call's
line, but an operation that is no call (an `in` test on a list, a string concatenation) is seen at
the next call or back edge of its loop: a structural pattern is backed by the time at the lines of
its innermost loop. cProfile has no lines: the patterns then fall back to the function's own time
and its callees' (`at` returns None).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Mapping, Optional, Tuple

# (file, name) of a profiled callee -> whether it is the call a pattern is about
CalleeTest = Callable[[str, str], bool]


@dataclass(frozen=True)
class WaitSite:
    """A line of the function where it waited, with what it waited in (figures per run)."""

    line: int
    node: Optional[ast.AST]  # the call (or the `with` item) on the line
    text: str  # the call as written: "sock.recv", "with LOCK"
    name: str  # its real dotted name where known: "time.sleep", "requests.get"
    kind: Optional[str]  # sleep | lock | query | io | thread (waitcalls.py), or None
    seconds: float  # waiting in the call
    gil_seconds: float = 0.0  # waiting for the GIL at the line
    cpu_seconds: float = 0.0  # CPU at the line, library callees under it included
    count: Optional[int] = None  # calls at the site per run, where counted


@dataclass(frozen=True)
class QuerySite:
    """Statements of one shape run from a line of the function (per run)."""

    line: int
    shape: str
    count: int
    seconds: float  # measured time at the line: waiting plus CPU (sqlite runs in-process)
    loop: Optional[Tuple[str, int, str]] = None  # (file, line, function) of the project loop that repeats it


@dataclass(frozen=True)
class FunctionFacts:
    node: ast.AST  # the function's def
    class_node: Optional[ast.ClassDef]
    aliases: Dict[str, str]  # local name -> real dotted name
    own_seconds: float  # tottime, comprehensions folded in
    attributable_seconds: float
    calls_total: int
    calls_primitive: int
    callee_seconds: Callable[[CalleeTest], float] = field(
        default=lambda test: 0.0
    )  # time in matching callees, from this function
    project_callee_seconds: Callable[[str], float] = field(
        default=lambda name: 0.0
    )  # time in a project function by name
    wait_sites: Tuple[WaitSite, ...] = ()  # where it waited, most waiting first
    queries: Tuple[QuerySite, ...] = ()  # the statements it ran, by line and shape
    wall_seconds: float = 0.0  # attributable CPU plus waiting: what a label must explain a tenth of
    # attributable seconds by source line (sampling engine); None: not measured by line
    line_seconds: Optional[Mapping[int, float]] = None
    claimed_lines: FrozenSet[int] = frozenset()  # lines whose time already backs a call pattern
    # exact iterations of each counted loop, by loop position (probe/loops.py `loop_position`); None: not counted
    loop_trips: Optional[Mapping[Tuple[int, int], int]] = None
    # (calling line, project callee's name) -> seconds under that callee from that line (sampling engine)
    callee_lines: Optional[Mapping[Tuple[int, str], float]] = None
    # module-level names bound to a small constant collection (a tuple or frozenset of a few items) -> its size
    module_constants: Mapping[str, int] = field(default_factory=dict)
    # whether a project function (by name) is pure enough to hoist a call to it out of a loop
    callee_is_pure: Callable[[str], bool] = field(default=lambda name: True)

    def at(self, node: ast.AST) -> Optional[float]:
        """Seconds measured at a node's lines, or None when the engine gives no lines."""
        if self.line_seconds is None:
            return None
        first = getattr(node, "lineno", 0)
        last = getattr(node, "end_lineno", None) or first
        return sum(s for line, s in self.line_seconds.items() if first <= line <= last)

    def structural(self, node: ast.AST) -> float:
        """What backs a structural pattern made by `node`: the seconds at its lines not already
        claimed by a call pattern (a sample backs one label, not two); without lines, own time."""
        if self.line_seconds is None:
            return self.own_seconds
        first = getattr(node, "lineno", 0)
        last = getattr(node, "end_lineno", None) or first
        return sum(
            s for line, s in self.line_seconds.items() if first <= line <= last and line not in self.claimed_lines
        )

    def call(self, node: ast.AST, callee_seconds: float) -> float:
        """What backs a call pattern: the callee's time from this function, no more than the
        seconds measured at the call's lines."""
        here = self.at(node)
        return callee_seconds if here is None else min(callee_seconds, here)


@dataclass(frozen=True)
class Match:
    pattern: str
    line: int
    evidence: str
    backing: float  # seconds of measured time that back the label


def builtin(*names: str) -> CalleeTest:
    """Matches cProfile's names for C functions, e.g. "<method 'pop' of 'list' objects>"."""
    return lambda file, name: file == "~" and any(n in name for n in names)


def python_function(path_suffixes: Tuple[str, ...], names: Tuple[str, ...]) -> CalleeTest:
    def test(file: str, name: str) -> bool:
        f = file.replace("\\", "/")
        return name in names and any(f.endswith(s) for s in path_suffixes)

    return test


def either(*tests: CalleeTest) -> CalleeTest:
    return lambda file, name: any(t(file, name) for t in tests)
