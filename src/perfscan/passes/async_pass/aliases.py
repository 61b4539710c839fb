"""Per-module import and alias resolution: the real dotted name behind a name or call.

`import time as t` makes `t.sleep` mean `time.sleep`; `from requests import get` makes
`get` mean `requests.get`; a name bound at module level by a def, class or assignment means
the project's own `module.name`; an unbound name that is a builtin means `builtins.name`.
A name bound in two different ways (two imports, or an import and an assignment) is
ambiguous and resolves to nothing: a missed finding is better than a false one.
"""
from __future__ import annotations

import ast
import builtins
from typing import AbstractSet, Dict, FrozenSet, Iterator, List, Optional, Set

_BUILTINS: FrozenSet[str] = frozenset(dir(builtins))
_AMBIGUOUS = ""


class Aliases:
    def __init__(self, imports: Dict[str, str], modules: FrozenSet[str], bound: FrozenSet[str], module: str) -> None:
        self.imports = imports  # local name -> dotted target ("" when ambiguous)
        self.modules = modules  # local names bound by a plain `import x` / `import x.y as z`
        self.bound = bound  # names bound at module level other than by imports
        self.module = module

    @classmethod
    def from_tree(cls, tree: ast.Module, module: str, package: str) -> "Aliases":
        imports: Dict[str, str] = {}
        modules: Set[str] = set()

        def bind(name: str, target: str) -> None:
            old = imports.get(name)
            imports[name] = target if old is None or old == target else _AMBIGUOUS

        # Imports anywhere in the module count: a function-level `import time` is common,
        # and a name imported two different ways is marked ambiguous by bind().
        for node in statements(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        bind(a.asname, a.name)
                        modules.add(a.asname)
                    else:
                        top = a.name.split(".")[0]
                        bind(top, top)
                        modules.add(top)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module, node.level, package)
                if base is None:
                    continue
                for a in node.names:
                    if a.name != "*":
                        bind(a.asname or a.name, f"{base}.{a.name}" if base else a.name)
        bound = frozenset(module_level_bindings(tree))
        for name in bound & set(imports):
            imports[name] = _AMBIGUOUS
        return cls(imports, frozenset(modules), bound, module)

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
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.resolve_name(node.id, local)
        if base is None:
            return None
        return ".".join([base] + attrs[::-1])

    def is_module(self, name: str, local: AbstractSet[str] = frozenset()) -> bool:
        """Whether `name` is bound by a plain import of a module (so `name.f()` is a function call)."""
        return name not in local and name in self.modules and bool(self.imports.get(name))


def statements(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every statement, at any depth; expressions (most of a tree) are not entered."""
    stack: List[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, name, None)
            if isinstance(value, list):
                stack.extend(reversed(value))


def _absolute(module: Optional[str], level: int, package: str) -> Optional[str]:
    if not level:
        return module or None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base)


def module_level_bindings(tree: ast.Module) -> Set[str]:
    """Names a module binds itself (defs, classes, assignments), outside functions and classes."""
    names: Set[str] = set()
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Lambda, ast.ListComp, ast.SetComp,
                             ast.DictComp, ast.GeneratorExp)):
            continue  # imports are resolved apart; the others have their own scope
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names
