"""AST helpers shared by the passes: dotted names, packages, and what a module's imports bind.

One rule for imports, used by the CPU patterns and the async pass alike: `import time as t`
binds `t` to `time`; `import a.b` binds `a`; `from json import dumps` binds `dumps` to
`json.dumps`; a relative import is resolved against the module's package (`from .util import f`
in `pkg.mod` binds `f` to `pkg.util.f`); one whose package is unknown binds nothing. Imports anywhere in the module count (a
function-level `import time` is common).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterator, List, Optional, Set, Tuple


def dotted(node: ast.AST) -> Optional[str]:
    """`a.b.c` for an attribute chain on a name, else None (`f().x`, `a[0].b`)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def dotted_loose(node: ast.AST) -> str:
    """The dotted text of a chain, looking through calls (`a.b().c` -> `a.b.c`, `@cache(1)` ->
    `cache`) and keeping the attributes after anything else (`x[0].y` -> `y`); "" when none."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_loose(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Call):
        return dotted_loose(node.func)
    return ""


def package_of(module: str, is_package: bool) -> str:
    """The package a module's relative imports start from: itself for a package's __init__."""
    return module if is_package else module.rpartition(".")[0]


def absolute_module(module: Optional[str], level: int, package: Optional[str]) -> Optional[str]:
    """The absolute name `from <level dots><module> import ...` refers to inside `package`, or
    None when it cannot be known.

    One level above the top-level package is allowed and gives names without a package ("" for
    `from .. import x`): the folder perfscan names modules from may itself be a package, whose
    modules are then named without it, and their relative imports must name the same modules.
    """
    if not level:
        return module or None
    if package is None:
        return None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base)


def statements(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every statement, at any depth, in source order; expressions (most of a tree) are not entered."""
    stack: List[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            yield node
        blocks: List[ast.AST] = []
        for name in ("body", "handlers", "orelse", "finalbody", "cases"):  # the order they run in
            value = getattr(node, name, None)
            if isinstance(value, list):
                blocks.extend(value)
        stack.extend(reversed(blocks))


@dataclass(frozen=True)
class ImportBindings:
    """What a module's imports bind: local name -> every dotted target, in source order."""

    targets: Dict[str, Tuple[str, ...]]
    modules: FrozenSet[str]  # local names bound by a plain `import x` / `import x.y as z`

    def unique(self) -> Dict[str, str]:
        """Local name -> target; "" for a name imported two different ways (ambiguous)."""
        return {name: ts[0] if len(set(ts)) == 1 else "" for name, ts in self.targets.items()}

    def last(self) -> Dict[str, str]:
        """Local name -> the target of its last import in the source (a `try: import ujson as
        json` / `except ImportError: import json` pair means `json`)."""
        return {name: ts[-1] for name, ts in self.targets.items()}


@functools.lru_cache(maxsize=256)
def import_bindings(tree: ast.AST, package: Optional[str]) -> ImportBindings:
    """The one import-alias resolver; `package` is the module's package (see package_of), None
    when unknown (relative imports then bind nothing). Cached by tree (trees are never changed
    once parsed): the memory pass asks it of the same module for every pair of groups it
    weighs, 1,617 times on more-itertools' suite (4 s of walking before the cache)."""
    targets: Dict[str, List[str]] = {}
    modules: Set[str] = set()
    for node in statements(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                local, target = (a.asname, a.name) if a.asname else (a.name.split(".")[0],) * 2
                targets.setdefault(local, []).append(target)
                modules.add(local)
        elif isinstance(node, ast.ImportFrom):
            base = absolute_module(node.module, node.level, package)
            if base is None:
                continue
            for a in node.names:
                if a.name != "*":
                    targets.setdefault(a.asname or a.name, []).append(f"{base}.{a.name}" if base else a.name)
    return ImportBindings({k: tuple(v) for k, v in targets.items()}, frozenset(modules))
