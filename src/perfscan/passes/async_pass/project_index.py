"""The project's modules for the async rules that look past one function: which project function
a call names, parsed only when a call reaches it (docs/design.md "The passes" -> Async).

A call resolves through the calling module's imports (`from .rates import fetch_rates`,
`import app.rates`), its own module-level defs, `self.method()` inside a class, and a package
that re-exports a name (`from .rates import fetch_rates` in `app/__init__.py`). Calling a
project class means its `__init__`. A qualname defined twice in one module resolves to nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

from perfscan.astutil import package_of
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.passes.async_pass.module_info import module_info
from perfscan.passes.async_pass.scope import ModuleInfo, Scope
from perfscan.sources import FunctionInfo, parse_source

MAX_REEXPORT_HOPS = 4

Target = Tuple[ModuleInfo, FunctionInfo]


class ProjectIndex:
    def __init__(self, files: Mapping[str, Tuple[Path, str]], catalog: BlockingCatalog) -> None:
        self.files = files  # module name -> (path, root-relative posix file)
        self.catalog = catalog
        self._modules: Dict[str, Optional[ModuleInfo]] = {}
        self._scopes: Dict[Tuple[str, str], Scope] = {}
        self.parsed = 0  # modules parsed only because a call led there

    def register(self, mod: ModuleInfo) -> None:
        """A module the pass parsed anyway: calls into it need no second parse."""
        self._modules.setdefault(mod.module, mod)

    def module(self, name: str) -> Optional[ModuleInfo]:
        if name in self._modules:
            return self._modules[name]
        found = self.files.get(name)
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
            name = ".".join(parts[:cut])
            if name in self.files:
                break
        else:
            return None
        mod = self.module(name)
        if mod is None:
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
