"""What every CPU pattern gets (`FunctionFacts`) and returns (`Match`).

The waiting patterns (sleep-in-code, lock-contention, io-in-loop, n-plus-one-query) read the
measured call sites (`WaitSite`) and the statements the function ran (`QuerySite`); the other
patterns read the function's CPU time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

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
