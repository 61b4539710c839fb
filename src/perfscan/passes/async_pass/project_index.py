"""The project's modules for the async rules that look past one function: which project function
a call names, parsed only when a call reaches it (docs/design.md "The passes" -> Async). A module
name is looked up as a file under the source roots only when a call asks for it, so a tree of
10,000 files costs nothing until code calls into it.

A call resolves through the calling module's imports (`from .rates import fetch_rates`,
`import app.rates`), its own module-level defs, `self.method()` inside a class, and a package
that re-exports a name (`from .rates import fetch_rates` in `app/__init__.py`). Calling a
project class means its `__init__`. A qualname defined twice in one module resolves to nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

from perfscan.astutil import package_of
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.passes.async_pass.module_info import module_info
from perfscan.passes.async_pass.scope import ModuleInfo, Scope
from perfscan.sources import FunctionInfo, module_name, parse_source, relative_posix

MAX_REEXPORT_HOPS = 4

Target = Tuple[ModuleInfo, FunctionInfo]


class ProjectIndex:
    def __init__(
        self, paths: Iterable[Path], root: Path, source_roots: Sequence[Path], catalog: BlockingCatalog
    ) -> None:
        self.paths = frozenset(str(p) for p in paths)  # the project's files; named only when a call asks
        self.root = root
        self.source_roots = tuple(source_roots)
        self.catalog = catalog
        self._files: Dict[str, Optional[Tuple[Path, str]]] = {}
        self._modules: Dict[str, Optional[ModuleInfo]] = {}
        self._scopes: Dict[Tuple[str, str], Scope] = {}
        self.parsed = 0  # modules parsed only because a call led there

    def register(self, mod: ModuleInfo) -> None:
        """A module the pass parsed anyway: calls into it need no second parse."""
        self._modules.setdefault(mod.module, mod)

    def file_of(self, name: str) -> Optional[Tuple[Path, str]]:
        """The project file of a dotted module name and its root-relative name; None when no file
        or two files are that module."""
        if name in self._files:
            return self._files[name]
        parts = name.split(".")
        found = set()
        for src in self.source_roots:
            for path in (src.joinpath(*parts).with_suffix(".py"), src.joinpath(*parts, "__init__.py")):
                if str(path) in self.paths and module_name(path, self.source_roots) == name:
                    found.add(path)
        out = None
        if len(found) == 1:
            path = found.pop()
            out = (path, relative_posix(path, self.root) or path.as_posix())
        self._files[name] = out
        return out

    def module(self, name: str) -> Optional[ModuleInfo]:
        if name in self._modules:
            return self._modules[name]
        found = self.file_of(name)
        info = None
        if found is not None:
            path, rel = found
            parsed = parse_source(path)
            if parsed.tree is not None:
                self.parsed += 1
                package = package_of(name, path.name == "__init__.py")
                info = module_info(parsed.tree, name, rel, package, self.catalog, self)
        self._modules[name] = info
        return info

    def function(self, dotted: str, hops: int = 0) -> Optional[Target]:
        """The project function a resolved dotted name calls, or None (not project code, unknown)."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            mod = self.module(".".join(parts[:cut]))
            if mod is not None:
                break
        else:
            return None
        rest = parts[cut:]
        qual = ".".join(rest)
        fn = mod.functions.get(qual) or mod.functions.get(qual + ".__init__")
        if fn is not None:
            return mod, fn
        target = mod.aliases.imports.get(rest[0])
        if target and hops < MAX_REEXPORT_HOPS:  # a re-export: `from .rates import fetch_rates`
            return self.function(".".join([target] + rest[1:]), hops + 1)
        return None

    def method(self, mod: ModuleInfo, caller: FunctionInfo, name: str) -> Optional[Target]:
        """`self.name()` / `cls.name()` inside a method: the same class's own def, if any."""
        if "<locals>" in caller.qualname or "." not in caller.qualname:
            return None
        owner = caller.qualname.rpartition(".")[0]
        fn = mod.functions.get(f"{owner}.{name}")
        return (mod, fn) if fn is not None else None

    def scope(self, mod: ModuleInfo, fn: FunctionInfo) -> Scope:
        key = (mod.module, fn.qualname)
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = Scope(fn, mod, frozenset(), False, False)
        return found
