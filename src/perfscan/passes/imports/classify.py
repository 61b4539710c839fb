"""Which modules are the project's, which are third-party, which are the standard library.

Decided by where the project's interpreter found each module (reported by the warm-up run),
not by the host's: the project may run another Python with other packages. Python 3.9 has no
`sys.stdlib_module_names`, so the standard library's folders decide there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath
from typing import Any, Dict, Mapping, Optional, Sequence

from perfscan.models import Project
from perfscan.sources import is_project_path, relative_posix

PROJECT, THIRD_PARTY, STDLIB = "project", "third-party", "stdlib"
# An import that was tried and failed (an optional dependency: Python 3.9's copy module tries
# org.python.core), so the interpreter never held it.
NOT_LOADED = "not-loaded"


class Classifier:
    def __init__(
        self,
        project: Project,
        interpreter: Mapping[str, Any],
        module_files: Mapping[str, Optional[str]],
        exclude: Sequence[str] = (),
    ) -> None:
        self.project = project
        self.root = Path(os.path.realpath(project.root))
        self.source_roots = [Path(os.path.realpath(p)) for p in project.source_roots]
        self.exclude = tuple(exclude)
        self.module_files = module_files
        self.stdlib_names = set(interpreter.get("stdlib_names") or ()) | set(interpreter.get("builtin_names") or ())
        if not interpreter:
            # the warm-up never reported: the host's own list is the next best guess
            self.stdlib_names = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
        self.stdlib_dirs = [os.path.realpath(p) for p in interpreter.get("stdlib_dirs") or () if isinstance(p, str)]
        self.site_dirs = [os.path.realpath(p) for p in interpreter.get("site_dirs") or () if isinstance(p, str)]
        self._kinds: Dict[str, str] = {}

    def file_of(self, module: str) -> Optional[Path]:
        path = self.module_files.get(module)
        if not path:
            return None
        p = Path(path)
        return Path(os.path.realpath(p if p.is_absolute() else self.root / p))

    def relative(self, module: str) -> Optional[str]:
        """The module's file relative to the project root (posix), for a project module."""
        path = self.file_of(module)
        return relative_posix(path, self.root) if path is not None else None

    def kind(self, module: str) -> str:
        """project, third-party, stdlib, or not-loaded."""
        if module not in self._kinds:
            self._kinds[module] = self._kind(module)
        return self._kinds[module]

    def _kind(self, module: str) -> str:
        path = self.file_of(module)
        top = module.split(".")[0]
        if path is None:
            # built-in, frozen, or never reported: the name is all there is
            if top in self.stdlib_names:
                return STDLIB
            if top in self.project.packages:
                return PROJECT
            if module in self.module_files:
                return STDLIB  # loaded with no file at all: built into the interpreter, or frozen
            return NOT_LOADED if self.module_files else THIRD_PARTY
        if self._is_project_file(path):
            return PROJECT
        text = str(path)
        parts = set(PurePath(text).parts)
        if "site-packages" in parts or "dist-packages" in parts or _under_any(text, self.site_dirs):
            return THIRD_PARTY
        if top in self.stdlib_names or _under_any(text, self.stdlib_dirs):
            return STDLIB
        return THIRD_PARTY

    def _is_project_file(self, path: Path) -> bool:
        rel = relative_posix(path, self.root)
        if rel is None:
            return False
        if not any(relative_posix(path, src) is not None for src in self.source_roots):
            return False
        if path.is_dir():  # a namespace package: its folder stands for it
            rel = rel + "/__init__.py"
        return is_project_path(rel, self.exclude)


def _under_any(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)
