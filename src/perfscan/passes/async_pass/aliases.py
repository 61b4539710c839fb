"""Per-module name resolution: the real dotted name behind a name or call.

Imports follow the one rule of `perfscan.astutil` (`import time as t` makes `t.sleep` mean
`time.sleep`; `from .util import f` in `pkg.mod` makes `f` mean `pkg.util.f`); a name bound
at module level by a def, class or assignment means the project's own `module.name`; an
unbound name that is a builtin means `builtins.name`.
A name bound in two different ways (two imports, or an import and an assignment) is
ambiguous and resolves to nothing: a missed finding is better than a false one.
"""

from __future__ import annotations

import ast
import builtins
from typing import AbstractSet, Dict, FrozenSet, List, Optional, Set

from perfscan.astutil import dotted, import_bindings

_BUILTINS: FrozenSet[str] = frozenset(dir(builtins))
_AMBIGUOUS = ""


class Aliases:
    def __init__(self, imports: Dict[str, str], modules: FrozenSet[str], bound: FrozenSet[str], module: str) -> None:
        self.imports = imports  # local name -> dotted target ("" when ambiguous)
        self.modules = modules  # local names bound by a plain `import x` / `import x.y as z`
        self.bound = bound  # names bound at module level other than by imports
        self.module = module

    @classmethod
    def from_tree(cls, tree: ast.Module, module: str, package: str) -> Aliases:
        found = import_bindings(tree, package)
        imports = found.unique()  # a static claim: a name imported two ways resolves to nothing
        bound = frozenset(module_level_bindings(tree))
        for name in bound & set(imports):
            imports[name] = _AMBIGUOUS
        return cls(imports, found.modules, bound, module)

    def resolve_name(self, name: str, local: AbstractSet[str] = frozenset()) -> Optional[str]:
        """The dotted name a bare name refers to, or None (a local, or unknown)."""
        if name in local:
            return None
        target = self.imports.get(name)
        if target is not None:
            return target or None
        if name in self.bound:
            return f"{self.module}.{name}" if self.module else name
        if name in _BUILTINS:
            return "builtins." + name
        return None

    def resolve(self, node: ast.AST, local: AbstractSet[str] = frozenset()) -> Optional[str]:
        """The dotted name of a Name/Attribute chain (`t.sleep` -> `time.sleep`), or None."""
        chain = dotted(node)
        if chain is None:
            return None
        head, _, rest = chain.partition(".")
        base = self.resolve_name(head, local)
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def is_module(self, name: str, local: AbstractSet[str] = frozenset()) -> bool:
        """Whether `name` is bound by a plain import of a module (so `name.f()` is a function call)."""
        return name not in local and name in self.modules and bool(self.imports.get(name))


def module_level_bindings(tree: ast.Module) -> Set[str]:
    """Names a module binds itself (defs, classes, assignments), outside functions and classes."""
    names: Set[str] = set()
    stack: List[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(
            node, (ast.Import, ast.ImportFrom, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        ):
            continue  # imports are resolved apart; the others have their own scope
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names
