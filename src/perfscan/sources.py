"""The project's own source files: which files count as project code, and reading them safely.

Project code (docs/design.md "The passes"): the project's source files, not tests, not virtual
environments, not site-packages or the standard library, not vendored or generated code.
Walking never follows a symlink out of the project or into a loop; a file that does not
decode or parse is skipped with a note.
"""

from __future__ import annotations

import ast
import os
import tokenize
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

# re-exported: the host reads the probe's rule for project code through this module
from perfscan.probe.paths import SKIP_DIRS as SKIP_DIRS
from perfscan.probe.paths import is_skipped_dir as is_skipped_dir
from perfscan.probe.paths import is_test_file as is_test_file

MAX_SOURCE_BYTES = 2_000_000  # a bigger .py is generated code: skipped with a note


def relative_posix(path: Path, root: Path) -> Optional[str]:
    """`path` relative to `root` as a posix string, or None when it lies outside."""
    try:
        return PurePosixPath(Path(os.path.abspath(path)).relative_to(os.path.abspath(root))).as_posix()
    except ValueError:
        return None


def is_project_path(rel: str, exclude: Sequence[str] = ()) -> bool:
    """Whether a root-relative posix path is project code (not tests, venvs, vendored code)."""
    parts = PurePosixPath(rel).parts
    if not parts or not rel.endswith(".py") or ".." in parts:
        return False
    if any(is_skipped_dir(p) for p in parts[:-1]):
        return False
    if is_test_file(parts[-1]):
        return False
    return not any(fnmatch(rel, pat) or fnmatch(rel, pat.rstrip("/") + "/*") for pat in exclude)


def iter_project_files(root: Path, exclude: Sequence[str] = (), notes: Optional[List[str]] = None) -> Iterator[Path]:
    """Yield the project's source files under root, never leaving it, never looping."""
    root = Path(os.path.realpath(root))
    seen_dirs = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            real = os.path.realpath(folder)
            if real in seen_dirs:
                continue
            seen_dirs.add(real)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if notes is not None:
                notes.append(f"skipped {folder}: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if relative_posix(Path(target), root) is None:
                        continue  # never follow a link out of the project
                if entry.is_dir():
                    if is_skipped_dir(entry.name) or entry.name.startswith("."):
                        continue
                    subdirs.append(Path(entry.path))
                elif entry.name.endswith(".py") and entry.is_file():
                    rel = relative_posix(Path(entry.path), root)
                    if rel is not None and is_project_path(rel, exclude):
                        yield Path(entry.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


@dataclass(frozen=True)
class ParsedSource:
    path: Path
    tree: Optional[ast.Module]
    text: str
    note: str = ""  # why the tree is missing


_PARSE_CACHE: Dict[Tuple[str, float, int], ParsedSource] = {}


def parse_source(path: Path) -> ParsedSource:
    """Parse a file with its declared encoding; a file that cannot be read is a note, not an error."""
    try:
        st = path.stat()
    except OSError as exc:
        return ParsedSource(path, None, "", f"{path}: cannot read ({exc.strerror or exc})")
    key = (str(path), st.st_mtime, st.st_size)
    cached = _PARSE_CACHE.get(key)
    if cached is not None:
        return cached
    if st.st_size > MAX_SOURCE_BYTES:
        result = ParsedSource(
            path, None, "", f"{path}: skipped, {st.st_size / 1e6:.1f} MB is generated code, not parsed"
        )
    else:
        try:
            with tokenize.open(path) as fh:  # honours the PEP 263 coding line
                text = fh.read()
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
            result = ParsedSource(path, None, "", f"{path}: skipped, does not decode ({type(exc).__name__})")
        else:
            try:
                result = ParsedSource(path, ast.parse(text, filename=str(path)), text)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                line = getattr(exc, "lineno", None)
                where = f" at line {line}" if line else ""
                result = ParsedSource(path, None, text, f"{path}: skipped, does not parse{where}")
    _PARSE_CACHE[key] = result
    return result


def module_name(path: Path, source_roots: Sequence[Path]) -> Optional[str]:
    """Dotted module name of a file under one of the source roots (the deepest root wins)."""
    best = None
    for src in source_roots:
        rel = relative_posix(path, src)
        if rel is None or rel.startswith(".."):
            continue
        parts = list(PurePosixPath(rel).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() for p in parts):
            if best is None or len(parts) < len(best):
                best = parts
    return ".".join(best) if best else None


@dataclass(frozen=True)
class FunctionInfo:
    qualname: str  # Class.method, outer.<locals>.inner
    name: str
    lineno: int  # the def line
    first_line: int  # first decorator line (what code objects report)
    end_lineno: int
    node: Union[ast.FunctionDef, ast.AsyncFunctionDef]
    is_async: bool


# the nodes a def can stand in: statements, and the except clauses and match cases holding them
_HOLDS_DEFS = (ast.stmt, ast.excepthandler) + ((ast.match_case,) if hasattr(ast, "match_case") else ())


def functions_in(tree: ast.Module) -> List[FunctionInfo]:
    """Every function and method in a module, with its qualified name and line range."""
    out: List[FunctionInfo] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _HOLDS_DEFS):
                continue  # an expression holds no def (a lambda is no function here): not walked
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                out.append(
                    FunctionInfo(
                        qual,
                        child.name,
                        child.lineno,
                        first,
                        getattr(child, "end_lineno", None) or child.lineno,
                        child,
                        isinstance(child, ast.AsyncFunctionDef),
                    )
                )
                visit(child, qual + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def skipped_sources(root: Path) -> List[str]:
    """Notes for the project files some stage tried to read and could not (cached reads only)."""
    base = os.path.realpath(root)
    out = []
    for parsed in _PARSE_CACHE.values():
        if parsed.note and os.path.realpath(parsed.path).startswith(base + os.sep):
            rel = relative_posix(Path(os.path.realpath(parsed.path)), Path(base)) or str(parsed.path)
            out.append(parsed.note.replace(str(parsed.path), rel))
    return sorted(set(out))
