"""What every CPU pattern gets (`FunctionFacts`) and returns (`Match`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

# (file, name) of a profiled callee -> whether it is the call a pattern is about
CalleeTest = Callable[[str, str], bool]


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
