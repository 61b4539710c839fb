"""Run the rule table over one parsed module and turn hits into findings."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import AbstractSet, Dict, FrozenSet, List, Optional, Set

from perfscan.models import Finding, Metric
from perfscan.passes.async_pass.aliases import Aliases
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.passes.async_pass.registry import RULES
from perfscan.passes.async_pass.scope import ModuleInfo, Scope
from perfscan.sources import FunctionInfo, functions_in


@dataclass
class ModuleReport:
    findings: List[Finding] = field(default_factory=list)
    ranges: List[FunctionInfo] = field(default_factory=list)  # the function of each finding
    async_functions: int = 0
    uses_asyncio: bool = False
    errors: List[str] = field(default_factory=list)


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


def analyze_module(
    tree: ast.Module,
    module: str,
    file: str,
    package: str,
    catalog: BlockingCatalog,
    ran_functions: AbstractSet[str],
    sync_rules: bool = True,
) -> ModuleReport:
    """Findings of every rule in one module; `sync_rules=False` skips sync defs (no rule can hit them)."""
    report = ModuleReport()
    aliases = Aliases.from_tree(tree, module, package)
    report.uses_asyncio = any(
        target == "asyncio" or target.startswith("asyncio.") for target in aliases.imports.values()
    )
    functions = functions_in(tree)
    by_name: Dict[str, List[ast.AST]] = {}
    for fn in functions:
        by_name.setdefault(fn.name, []).append(fn.node)
    mod = ModuleInfo(module, file, aliases, catalog, by_name, module_types(tree, aliases, catalog))
    locals_by_qual: Dict[str, FrozenSet[str]] = {}
    hot_known = bool(ran_functions)
    holders = set() if sync_rules else _enclosing_async(functions)
    for fn in functions:
        report.async_functions += fn.is_async
        if not fn.is_async and not sync_rules and fn.qualname not in holders:
            continue
        outer = _enclosing(fn.qualname)
        try:
            scope = Scope(
                fn,
                mod,
                locals_by_qual.get(outer, frozenset()) if outer else frozenset(),
                f"{module}:{fn.qualname}" in ran_functions,
                hot_known,
            )
        except Exception as exc:  # e.g. RecursionError on absurdly deep code
            report.errors.append(f"{file}:{fn.lineno}: not analysed ({type(exc).__name__})")
            continue
        locals_by_qual[fn.qualname] = scope.local
        for rule in RULES:
            if rule.async_only and not fn.is_async:
                continue
            try:
                hit = rule.check(scope)
            except Exception as exc:  # one odd function must not cost the whole pass
                report.errors.append(f"{file}:{fn.lineno}: {rule.pattern} check failed ({type(exc).__name__}: {exc})")
                continue
            if hit is None:
                continue
            report.findings.append(
                Finding(
                    domain="async",
                    symbol=fn.name,
                    qualname=f"{module}:{fn.qualname}",
                    module=module,
                    file=file,
                    line=hit.line,
                    metric=Metric(hit.value, hit.unit, hit.label),
                    pattern=rule.pattern,
                    evidence=hit.evidence,
                    estimated_impact=hit.impact,
                    phase="static",
                    hot_path=scope.hot_path,
                    details=dict(hit.details),
                )
            )
            report.ranges.append(fn)
    return report


def _enclosing_async(functions: List[FunctionInfo]) -> Set[str]:
    """Qualnames of defs holding an async def: they must be scoped, the inner one sees their locals."""
    out: Set[str] = set()
    for fn in functions:
        outer = _enclosing(fn.qualname) if fn.is_async else None
        while outer:
            out.add(outer)
            outer = _enclosing(outer)
    return out


def _enclosing(qualname: str) -> Optional[str]:
    """`outer` for `outer.<locals>.inner`; None for module-level functions and methods."""
    head, sep, _ = qualname.rpartition(".<locals>.")
    return head if sep else None
