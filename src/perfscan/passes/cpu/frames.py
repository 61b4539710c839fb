"""What a profiled code object is called in the icicle chart, and what kind of code it is.

Project code is named by the one locator (perfscan.locate), so a bar carries the same
`module:Qual.name` as the finding about it. What runs the tests is harness: pytest, pluggy and
the probe by their paths, and the project's own pytest plugins by the one rule
(`locate.is_harness`) that also keeps them out of the findings. Code outside the project (tests,
libraries, the standard library) is named by the same matching of code objects to defs.
"""

from __future__ import annotations

import ast
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from perfscan.locate import Locator, SourceFile, is_harness
from perfscan.sources import functions_in, is_project_path, is_test_file, module_name

Key = Tuple[str, int, str]  # (file, first line, name) of a code object

# Frames of the test harness by path: their callees are the roots of the chart.
HARNESS_PATHS = ("/_pytest/", "/pluggy/", "/perfscan_probe/", "/perfscan/probe/", "/pytest/__main__.py")
KINDS = ("project", "test", "library", "stdlib", "builtin", "harness", "waiting")
# the leaves the wall-time chart puts waiting under (artifacts.WAITING, WAITING_GIL)
WAITING_NAMES = ("waiting", "waiting for the GIL")
_MAX_PARSE_BYTES = 1_000_000  # a bigger file outside the project keeps the profiler's bare names
_PYDIR = re.compile(r"^python\d+(\.\d+)?t?$")


@dataclass(frozen=True)
class FrameName:
    qualname: str  # module:Qual.name
    short: str  # Qual.name
    kind: str  # one of KINDS
    where: str  # "file.py:def line", root-relative for code under the project root; "" when unknown


@dataclass(frozen=True)
class _Place:
    """What the file alone says: kind, dotted module, where to show it, and the file to name defs from."""

    kind: str
    module: str
    rel: str
    path: Optional[Path]  # None: not read (harness by path, built-ins, frozen modules)
    project: bool = False  # a project file: named by the locator


class FrameNamer:
    """Names (file, line, name) keys as the chart shows them; every file is read at most once."""

    def __init__(self, locator: Locator, plugins: Sequence[str] = ()):
        self.locator = locator
        self.plugins = tuple(plugins)  # the project's own pytest plugins: harness
        self._outside = _Outside(locator.root)
        self._places: Dict[str, _Place] = {}
        self._names: Dict[Key, FrameName] = {}

    def kind(self, key: Key) -> str:
        return self._place(key[0]).kind

    def name(self, key: Key) -> FrameName:
        found = self._names.get(key)
        if found is None:
            found = self._names[key] = self._name(key)
        return found

    def _name(self, key: Key) -> FrameName:
        file, line, name = key
        place = self._place(file)
        if place.kind == "builtin":
            if name in WAITING_NAMES:
                return FrameName(name, name, "waiting", "")
            short = _builtin_name(name)
            return FrameName(short, short, place.kind, "")
        if place.path is None:
            return FrameName(f"{place.module}:{name}", name, place.kind, "")
        finder = self.locator if place.project else self._outside
        found = finder.code_object(file if place.project else str(place.path), line, name)
        fn = found.function if found is not None else None
        if fn is not None:
            qual, short, at = f"{place.module}:{fn.qualname}", fn.qualname, fn.lineno
        elif name.startswith("<"):  # module-level code (or a comprehension in it)
            qual, short, at = f"{place.module}:<module>", "<module>", line
        else:
            qual, short, at = f"{place.module}:{name}", name, line
        return FrameName(qual, short, place.kind, f"{place.rel}:{at}" if place.rel else "")

    def _place(self, file: str) -> _Place:
        found = self._places.get(file)
        if found is None:
            found = self._places[file] = self._classify(file)
        return found

    def _classify(self, file: str) -> _Place:
        if file == "~" or not file:
            return _Place("builtin", "", "", None)
        if file.startswith("<"):
            return _Place("stdlib", file.strip("<>").replace("frozen ", ""), "", None)
        posix = file.replace("\\", "/")
        if any(h in posix for h in HARNESS_PATHS):
            return _Place("harness", _module_from_path(posix)[0], "", None)
        root = self.locator.root
        real_str = os.path.realpath(file if os.path.isabs(file) else os.path.join(str(root), file))
        real = Path(real_str)
        prefix = str(root).rstrip(os.sep) + os.sep
        if real_str.startswith(prefix):
            rel = real_str[len(prefix) :].replace(os.sep, "/")
            parts = rel.split("/")
            if is_project_path(rel, self.locator.exclude):
                src = self.locator.source(file)
                module = (
                    src.module
                    if src is not None
                    else (module_name(real, self.locator.source_roots) or rel[:-3].replace("/", "."))
                )
                kind = "harness" if is_harness(module, self.plugins) else "project"
                return _Place(kind, module, rel, real, project=True)
            if not any(p in ("site-packages", "dist-packages") for p in parts):
                module = rel[:-3].replace("/", ".") if rel.endswith(".py") else rel
                testy = is_test_file(parts[-1]) or any(p in ("tests", "test", "testing") for p in parts[:-1])
                return _Place("test" if testy else "library", module, rel, real)
        module, kind = _module_from_path(posix)
        return _Place(kind, module, posix.rsplit("/", 1)[-1], real)


class _Outside(Locator):
    """The locator's matching of code objects to defs, over files outside the project."""

    def __init__(self, root: Path):
        super().__init__(root, [root])
        self._read: Dict[str, Optional[SourceFile]] = {}

    def source(self, filename: str) -> Optional[SourceFile]:
        if filename not in self._read:
            self._read[filename] = _read_defs(Path(filename))
        return self._read[filename]


def _read_defs(path: Path) -> Optional[SourceFile]:
    try:
        if path.suffix != ".py" or path.stat().st_size > _MAX_PARSE_BYTES:
            return None
        with tokenize.open(str(path)) as fh:
            text = fh.read()
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, LookupError, RecursionError, MemoryError):
        return None
    return SourceFile(str(path), "", tuple(functions_in(tree)), tree, text)


def _builtin_name(name: str) -> str:
    m = re.match(r"<built-in (?:method|function) (.+)>$", name)
    if m:
        return m.group(1)
    m = re.match(r"<method '(.+)' of '(.+)' objects>$", name)
    if m:
        return f"{m.group(2)}.{m.group(1)}"
    return name


def _module_from_path(posix: str) -> Tuple[str, str]:
    """Dotted module and kind (library or stdlib) of a file outside the project."""
    parts = [p for p in posix.split("/") if p]
    kind, start = "library", max(len(parts) - 1, 0)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("site-packages", "dist-packages"):
            kind, start = "library", i + 1
            break
    else:
        for i in range(len(parts) - 1, -1, -1):
            if _PYDIR.match(parts[i]):
                kind, start = "stdlib", i + 1
                break
    mod_parts = parts[start:] or parts[-1:]
    if mod_parts and mod_parts[-1].endswith(".py"):
        mod_parts[-1] = mod_parts[-1][:-3]
    if len(mod_parts) > 1 and mod_parts[-1] == "__init__":
        mod_parts.pop()
    return ".".join(mod_parts) or posix, kind
