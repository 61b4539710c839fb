"""Which project function is this (file, line)? One answer for every pass and report.

A profiler, tracemalloc and memray name code by absolute file and line (and, for a code object,
its name). The `Locator` maps those to the project's own source: the root-relative file, its
dotted module, and the innermost `def` that holds the line. Comprehensions, generator
expressions and lambdas fold into the `def` around them: their cost is that function's cost.

`is_harness` is the one rule for what runs the tests rather than being tested: the project's own
pytest plugins (pytest11 entry points) are project files, but their time is not a product hotspot.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from perfscan.sources import FunctionInfo, functions_in, is_project_path, module_name, parse_source, relative_posix

# code-object names the interpreter gives to expressions inside a function
FOLDED = ("<listcomp>", "<genexpr>", "<lambda>", "<dictcomp>", "<setcomp>")


@dataclass(frozen=True)
class SourceFile:
    rel: str  # posix, relative to the project root
    module: str
    functions: Tuple[FunctionInfo, ...]
    tree: ast.Module
    text: str


@dataclass(frozen=True)
class Location:
    source: SourceFile
    function: Optional[FunctionInfo]  # None: module level

    @property
    def rel(self) -> str:
        return self.source.rel

    @property
    def module(self) -> str:
        return self.source.module

    @property
    def tree(self) -> ast.Module:
        return self.source.tree

    @property
    def qualname(self) -> str:
        """`module:Class.method`, or the module alone at module level."""
        return f"{self.module}:{self.function.qualname}" if self.function else self.module


class Locator:
    """Maps absolute (file, line) pairs to project functions; files are read and parsed once."""

    def __init__(self, root: Path, source_roots: Sequence[Path], exclude: Sequence[str] = ()):
        self.root = Path(os.path.realpath(root))
        self.source_roots = [Path(os.path.realpath(p)) for p in source_roots] or [self.root]
        self.exclude = tuple(exclude)
        self._files: Dict[str, Optional[SourceFile]] = {}
        self.notes: List[str] = []  # project files that could not be read or parsed

    def source(self, filename: str) -> Optional[SourceFile]:
        """The project source file at `filename` (absolute, or relative to the root), else None."""
        if filename in self._files:
            return self._files[filename]
        found = None
        if filename and not filename.startswith("<") and filename != "~":
            path = Path(os.path.realpath(filename if os.path.isabs(filename) else self.root / filename))
            rel = relative_posix(path, self.root)
            if rel is not None and is_project_path(rel, self.exclude):
                parsed = parse_source(path)
                if parsed.tree is not None:
                    module = module_name(path, self.source_roots) or rel[:-3].replace("/", ".")
                    found = SourceFile(rel, module, tuple(functions_in(parsed.tree)), parsed.tree, parsed.text)
                elif parsed.note:
                    self.notes.append(parsed.note)
        self._files[filename] = found
        return found

    def function_at(self, filename: str, line: int) -> Optional[Location]:
        """The innermost project function holding `line` (function None at module level)."""
        src = self.source(filename)
        if src is None:
            return None
        return Location(src, _innermost(src.functions, line))

    def code_object(self, filename: str, line: int, name: str) -> Optional[Location]:
        """The project function a profiled code object (first line, name) belongs to.

        A folded code object takes the innermost def around it; one at module level is import-time
        work, not a function, and gives None."""
        src = self.source(filename)
        if src is None:
            return None
        if name in FOLDED or name.startswith("<"):
            fn = _innermost(src.functions, line)
            return Location(src, fn) if fn is not None else None
        for fn in src.functions:
            if fn.name == name and line in (fn.first_line, fn.lineno):
                return Location(src, fn)
        holders = [f for f in src.functions if f.name == name and f.first_line <= line <= f.end_lineno]
        return Location(src, holders[0]) if holders else None


def _innermost(functions: Sequence[FunctionInfo], line: int) -> Optional[FunctionInfo]:
    holders = [f for f in functions if f.first_line <= line <= f.end_lineno]
    return max(holders, key=lambda f: f.first_line) if holders else None


def is_harness(module: str, plugins: Sequence[str]) -> bool:
    """Whether project module `module` belongs to one of the project's own pytest plugins."""
    return any(module == m or module.startswith(m + ".") for m in plugins)
