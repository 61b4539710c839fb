"""What the async rules know about one module: its names, its functions, its known instances."""

from __future__ import annotations

import ast
from typing import Dict, List, Optional

from perfscan.passes.async_pass.aliases import Aliases
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.passes.async_pass.scope import ModuleInfo, ProjectLookup
from perfscan.sources import FunctionInfo, functions_in


def module_types(tree: ast.Module, aliases: Aliases, catalog: BlockingCatalog) -> Dict[str, str]:
    """Module-level names assigned once from a known class (`SESSION = requests.Session()`)."""
    seen: Dict[str, List[Optional[str]]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            kind = None
            if isinstance(stmt.value, ast.Call):
                name = aliases.resolve(stmt.value.func)
                if name is not None:
                    name = catalog.canonical_class(name)
                    kind = name if name in catalog.classes else catalog.factories.get(name)
            seen.setdefault(stmt.targets[0].id, []).append(kind)
    return {name: kinds[0] for name, kinds in seen.items() if len(kinds) == 1 and kinds[0]}


def module_info(
    tree: ast.Module,
    module: str,
    file: str,
    package: str,
    catalog: BlockingCatalog,
    project: Optional[ProjectLookup] = None,
    functions: Optional[List[FunctionInfo]] = None,
) -> ModuleInfo:
    """One module as the rules see it; `functions` is functions_in(tree) when already made."""
    aliases = Aliases.from_tree(tree, module, package)
    functions = functions_in(tree) if functions is None else functions
    by_name: Dict[str, List[ast.AST]] = {}
    by_qualname: Dict[str, Optional[FunctionInfo]] = {}
    for fn in functions:
        by_name.setdefault(fn.name, []).append(fn.node)
        # a qualname defined twice (`if PY2: def f` / `else: def f`) is ambiguous: no entry
        by_qualname[fn.qualname] = None if fn.qualname in by_qualname else fn
    return ModuleInfo(
        module,
        file,
        aliases,
        catalog,
        by_name,
        module_types(tree, aliases, catalog),
        {q: fn for q, fn in by_qualname.items() if fn is not None},
        project,
    )
