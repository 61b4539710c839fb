"""Run the rule table over one parsed module and turn hits into findings."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import AbstractSet, Dict, FrozenSet, List, Optional, Set

from perfscan.models import Finding, Metric
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.passes.async_pass.module_info import module_info
from perfscan.passes.async_pass.project_index import ProjectIndex
from perfscan.passes.async_pass.registry import RULES
from perfscan.passes.async_pass.scope import Scope
from perfscan.sources import FunctionInfo, functions_in


@dataclass
class ModuleReport:
    findings: List[Finding] = field(default_factory=list)
    ranges: List[FunctionInfo] = field(default_factory=list)  # the function of each finding
    async_functions: int = 0
    uses_asyncio: bool = False
    errors: List[str] = field(default_factory=list)


def analyze_module(
    tree: ast.Module,
    module: str,
    file: str,
    package: str,
    catalog: BlockingCatalog,
    ran_functions: AbstractSet[str],
    sync_rules: bool = True,
    project: Optional[ProjectIndex] = None,
) -> ModuleReport:
    """Findings of every rule in one module; `sync_rules=False` skips sync defs (no rule can hit
    them); `project` lets the rules follow calls into the project's other modules."""
    report = ModuleReport()
    functions = functions_in(tree)
    mod = module_info(tree, module, file, package, catalog, project, functions)
    if project is not None:
        project.register(mod)
    report.uses_asyncio = any(
        target == "asyncio" or target.startswith("asyncio.") for target in mod.aliases.imports.values()
    )
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
