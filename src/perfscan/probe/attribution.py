"""Which code a frame belongs to (project, test, library) and per-line totals of traced memory.

Used by the memory recorder (memory.py) to reduce a tracemalloc snapshot at once, so only one
full snapshot ever exists, and by its census to pick the project's modules.
"""

import os
from fnmatch import fnmatch
from typing import Any, Dict, List, Tuple

from .paths import SKIP_DIRS, is_test_file
from .projectmap import to_project

KEEP_LINES = 300
KEEP_LIB_LINES = 50  # library lines by bytes: the host tells a module's top level (import work) from its functions
# The import system's frames: bytes allocated there belong to a module imported during the test
# (its code objects, read from its cached bytecode), which the import pass accounts for; a deeper
# trace would only lead to an import statement
IMPORT_SYSTEM = frozenset(
    {"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>", "<frozen zipimport>"}
)
IMPORT_SYSTEM_FILES = ("/importlib/_bootstrap.py", "/importlib/_bootstrap_external.py", "/zipimport.py")
PROBE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the probe's own allocations are left out
# The test runner's own frames: its reports of every test so far (pytest keeps them to the end of
# the session), its fixtures' and its terminal's bookkeeping grow from test to test; no deeper
# trace of them leads to the project
RUNNER_PACKAGES = frozenset({"_pytest", "pluggy", "xdist"})  # installed: right below site-packages
INSTALL_DIRS = ("site-packages", "dist-packages")
RUNNER_FILES = tuple(
    "/unittest/%s.py" % name for name in ("case", "result", "runner", "suite", "loader", "main", "async_case")
)

LIB_DIRS = frozenset(
    {
        ".venv",
        "venv",
        "env",
        ".env",
        "site-packages",
        "dist-packages",
        ".tox",
        ".nox",
        "node_modules",
        ".eggs",
        "vendor",
        "_vendor",
        "vendored",
        "third_party",
        "build",
        "dist",
    }
)


class Classifier:
    """Project code ('p'), test code under the root ('t'), or anything else ('l')."""

    def __init__(self, root, exclude=()):
        self.root = os.path.realpath(root) if root else ""
        self.exclude = list(exclude)
        self._cache = {}

    def rel(self, filename):
        """The root-relative project file a frame's file stands for: an installed copy of a project
        package maps to its scanned source (projectmap)."""
        if not self.root or not filename or filename.startswith("<"):
            return None
        path = to_project(filename) if os.path.isabs(filename) else os.path.join(self.root, filename)
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            return None
        return os.path.relpath(real, self.root).replace(os.sep, "/")

    def kind(self, filename):
        k = self._cache.get(filename)
        if k is None:
            k = self._cache[filename] = self._kind(filename)
        return k

    def _kind(self, filename):
        rel = self.rel(filename)
        if rel is None or not rel.endswith(".py"):
            return "l"
        parts = rel.split("/")
        if ".." in parts:
            return "l"
        if any(p in LIB_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            return "l"
        if any(p in SKIP_DIRS for p in parts[:-1]) or is_test_file(parts[-1]):
            return "t"
        for pat in self.exclude:
            if fnmatch(rel, pat) or fnmatch(rel, pat.rstrip("/") + "/*"):
                return "l"
        return "p"


def origin(filename):
    """Where an allocation made with no project or test frame comes from: "import" (the import
    system), "probe" (this probe's own bookkeeping), "runner" (the test runner's: pytest, its
    plugin manager and xdist, unittest's runner) or "lib" (a library or the stdlib)."""
    path = filename.replace("\\", "/")
    if filename in IMPORT_SYSTEM or path.endswith(IMPORT_SYSTEM_FILES):
        return "import"
    if filename.startswith(PROBE_DIR):
        return "probe"
    if path.endswith(RUNNER_FILES) or _installed_package(path) in RUNNER_PACKAGES:
        return "runner"
    return "lib"


def _installed_package(path):
    """The top-level package an installed file belongs to (the folder right below the last
    site-packages or dist-packages of its path), or "" (a checkout named like one is not it)."""
    parts = path.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in INSTALL_DIRS:
            return parts[i + 1]
    return ""


def summarize(traces, classifier, deep=False):
    """Reduce raw traces to per-line totals of their innermost project frame.

    traces: tracemalloc._get_traces() items (domain, size, traceback innermost first, ...).
    deep: keep only traces whose innermost frame is library code (what a 1-frame run could not
    attribute). Bytes made by the import system ("imports"), by the test runner ("runner") and by
    the probe itself (left out) are not library bytes: no deeper trace is asked for them. Below
    the innermost project frame, a library called by test code counts as test code's, and library
    code run by an import (the import system's frames seen first) as the import's.
    tracemalloc is still tracing while this runs, so the per-trace loop allocates nothing (no
    int arithmetic): sizes are collected per traceback and summed by the C `sum`.
    """
    by_tb: Dict[Any, List[int]] = {}  # traceback -> sizes of its traces
    for tr in traces:
        sizes = by_tb.get(tr[2])
        if sizes is None:
            sizes = by_tb[tr[2]] = []
        sizes.append(tr[1])
    lines: Dict[Tuple[str, int], List[int]] = {}  # (file, line) -> [bytes, traces]
    tests = libs = imports = runner = 0
    lib_files: Dict[str, int] = {}
    lib_lines: Dict[Tuple[str, int], int] = {}
    kind = classifier.kind
    origins: Dict[str, str] = {}

    def origin_of(filename):
        found = origins.get(filename)
        if found is None:
            found = origins[filename] = origin(filename)
        return found

    for tb, sizes in by_tb.items():
        size = sum(sizes)
        first = kind(tb[0][0]) if tb else "l"
        where = "lib"
        if first == "l" and tb:
            where = origin_of(tb[0][0])
            if where == "probe":
                continue
        if deep and (first != "l" or where != "lib"):
            continue
        key = None
        for frame in tb:
            k = kind(frame[0])
            if k == "p":
                key = (frame[0], frame[1])
                break
            if first != "l":
                continue
            if k == "t":  # a library called by test code: the test made it, whatever called the test
                if where in ("lib", "runner"):
                    where = "test"
                break
            if where == "lib" and origin_of(frame[0]) == "import":
                where = "import"  # a module's code run by an import: the import pass's, not a call's
        if key is not None and where != "import":
            cur = lines.get(key)
            if cur is None:
                lines[key] = [size, len(sizes)]
            else:
                cur[0] += size
                cur[1] += len(sizes)
        elif first == "t" or where == "test":
            tests += size
        elif where == "import":
            imports += size
        elif where == "runner":
            runner += size
        else:
            libs += size
            name = tb[0][0] if tb else "?"
            lib_files[name] = lib_files.get(name, 0) + size
            if tb:
                lib_lines[tb[0]] = lib_lines.get(tb[0], 0) + size
    ordered = sorted(lines.items(), key=lambda kv: kv[1][0], reverse=True)
    top = [[to_project(k[0]), k[1], v[0], v[1]] for k, v in ordered[:KEEP_LINES]]
    rest = sum(v[0] for _, v in ordered[KEEP_LINES:])
    files = sorted(lib_files.items(), key=lambda kv: kv[1], reverse=True)[:5]
    return {
        "lines": top,
        "rest": rest,
        "tests": tests,
        "libs": libs,
        "imports": imports,
        "runner": runner,
        "lib_files": [[f, b] for f, b in files],
        "lib_lines": [
            [k[0], k[1], b] for k, b in sorted(lib_lines.items(), key=lambda kv: kv[1], reverse=True)[:KEEP_LIB_LINES]
        ],
        "by_lib_file": lib_files,  # every library file's bytes: the recorder's baseline, not written
    }
