"""One function as the async rules see it: its own nodes, its names, and call resolution.

Only the function's own code counts: nested defs, lambdas and classes are left out, because
what runs in them is not run by this coroutine (a sync def handed to `asyncio.to_thread` or a
lambda handed to `run_in_executor` runs in a worker thread). Nested async defs are analysed
as functions of their own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Protocol, Sequence, Set, Tuple, Union

from perfscan.passes.async_pass.aliases import Aliases
from perfscan.passes.async_pass.blocking_calls import BlockingCatalog
from perfscan.sources import FunctionInfo

NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class Hit:
    """What a rule found in one function (one per function and pattern)."""

    line: int
    value: float
    unit: str
    label: str
    evidence: str
    impact: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    pattern: str
    check: Callable[[Scope], Optional[Hit]]
    async_only: bool = True  # False: also applies to sync defs (dangling tasks)


@dataclass(frozen=True)
class ModuleInfo:
    """What every function of one module shares."""

    module: str
    file: str  # posix, relative to the project root
    aliases: Aliases
    catalog: BlockingCatalog
    functions_by_name: Mapping[str, Sequence[ast.AST]]  # every def in the module, by simple name
    module_types: Mapping[str, str]  # module-level names holding a known instance
    functions: Mapping[str, FunctionInfo] = field(default_factory=dict)  # by qualname, when defined once
    project: Optional[ProjectLookup] = None  # the other project modules, for calls into them


class ProjectLookup(Protocol):
    """The project's functions as the rules that follow calls see them (`project_index.py`)."""

    def function(self, dotted: str) -> Optional[Tuple[ModuleInfo, FunctionInfo]]: ...

    def method(self, mod: ModuleInfo, caller: FunctionInfo, name: str) -> Optional[Tuple[ModuleInfo, FunctionInfo]]: ...

    def scope(self, mod: ModuleInfo, fn: FunctionInfo) -> Scope: ...


def own_nodes(roots: Sequence[ast.AST], nested: Optional[List[ast.AST]] = None) -> List[ast.AST]:
    """Every node under `roots` outside nested defs, lambdas and classes (collected in `nested`)."""
    return walk(roots, NESTED_SCOPES, nested)


def walk(roots: Any, skip: Tuple[type, ...] = (), skipped: Optional[List[ast.AST]] = None) -> List[ast.AST]:
    """Every node under `roots` (a node or a list), not entering nodes of the `skip` types.

    ast.walk with ast.iter_child_nodes inlined and expression contexts left out: this is the
    innermost loop of the pass, and the inlined form is about twice as fast.
    """
    out: List[ast.AST] = []
    stack: List[ast.AST] = list(roots) if isinstance(roots, list) else [roots]
    AST, contexts = ast.AST, ast.expr_context
    while stack:
        node = stack.pop()
        if skip and isinstance(node, skip):
            if skipped is not None:
                skipped.append(node)
            continue
        out.append(node)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, AST))
            elif isinstance(value, AST) and not isinstance(value, contexts):
                stack.append(value)
    return out


def all_args(fn: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]) -> List[ast.arg]:
    a = fn.args
    out = list(getattr(a, "posonlyargs", [])) + list(a.args) + list(a.kwonlyargs)
    out += [x for x in (a.vararg, a.kwarg) if x is not None]
    return out


def declared_outer(nodes: Sequence[ast.AST]) -> Set[str]:
    out: Set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
    return out


def local_names(
    fn: Union[ast.FunctionDef, ast.AsyncFunctionDef], nodes: Sequence[ast.AST], nested: Sequence[ast.AST]
) -> Set[str]:
    """Names this function binds itself (parameters, assignments, nested defs), not globals."""
    names = {a.arg for a in all_args(fn)}
    names.update(n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)))
    names.update(n.name for n in nested if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names - declared_outer(nodes)


class Scope:
    def __init__(
        self, info: FunctionInfo, mod: ModuleInfo, outer_locals: FrozenSet[str], hot_path: bool, hot_known: bool
    ) -> None:
        self.info = info
        self.node = info.node
        self.mod = mod
        self.aliases = mod.aliases
        self.catalog = mod.catalog
        self.hot_path = hot_path
        self.hot_known = hot_known
        nested: List[ast.AST] = []
        self.nodes: List[ast.AST] = own_nodes(self.node.body, nested)
        self.awaits: List[ast.Await] = [n for n in self.nodes if isinstance(n, ast.Await)]
        self.outer_declared = frozenset(declared_outer(self.nodes))
        own = local_names(self.node, self.nodes, nested)
        globals_ = {n for node in self.nodes if isinstance(node, ast.Global) for n in node.names}
        # A nested function sees its enclosing functions' locals (a parameter named `sleep`
        # there shadows `from time import sleep`), unless it declares them global.
        self.local = frozenset((own | outer_locals) - globals_)
        self.local_types: Dict[str, str] = {}
        self._collect_types()

    # -- names -------------------------------------------------------------------------
    def resolve(self, node: ast.AST) -> Optional[str]:
        return self.aliases.resolve(node, self.local)

    def is_module(self, name: str) -> bool:
        return self.aliases.is_module(name, self.local)

    def call_name(self, call: ast.Call) -> Optional[str]:
        """The real name of the called function, methods on known instances included."""
        func = call.func
        if isinstance(func, ast.Attribute):
            owner = self.instance_type(func.value)
            if owner is not None:
                return f"{owner}.{func.attr}"
        return self.resolve(func)

    def instance_type(self, node: ast.AST) -> Optional[str]:
        """The class of the value of `node` when it is one the catalog knows, else None."""
        cat = self.catalog
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return self.local_types.get(node.id)
            if node.id in self.aliases.bound and self.resolve(node) is not None:
                return self.mod.module_types.get(node.id)
            return None
        if isinstance(node, ast.Call):
            name = self.call_name(node)
            if name is None:
                return None
            name = cat.canonical_class(name)
            if name in cat.classes:
                return name
            return cat.factories.get(name)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.instance_type(node.left)
            return left if left == "pathlib.Path" else None
        if isinstance(node, ast.Attribute):
            owner = self.instance_type(node.value)
            return cat.attributes.get(f"{owner}.{node.attr}") if owner else None
        return None

    def annotation_type(self, ann: Optional[ast.AST]) -> Optional[str]:
        if ann is None:
            return None
        name = self.aliases.resolve(ann, frozenset())
        if name is None:
            return None
        name = self.catalog.canonical_class(name)
        return name if name in self.catalog.classes else None

    def _collect_types(self) -> None:
        seen: Dict[str, Set[Optional[str]]] = {}

        def bind(name: str, kind: Optional[str]) -> None:
            kinds = seen.setdefault(name, set())
            kinds.add(kind)
            if len(kinds) == 1 and kind is not None:
                self.local_types[name] = kind
            else:
                self.local_types.pop(name, None)

        for arg in all_args(self.node):
            bind(arg.arg, self.annotation_type(arg.annotation))
        typed: List[ast.AST] = []
        for node in self.nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.With)):
                typed.append(node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                typed.append(node)
        typed.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        handled: Set[int] = set()
        for node in typed:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                handled.add(id(node.targets[0]))
                bind(node.targets[0].id, self.instance_type(node.value))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                handled.add(id(node.target))
                kind = self.instance_type(node.value) if node.value is not None else None
                bind(node.target.id, kind or self.annotation_type(node.annotation))
            elif isinstance(node, ast.With):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        handled.add(id(item.optional_vars))
                        bind(item.optional_vars.id, self.instance_type(item.context_expr))
            elif isinstance(node, ast.Name) and id(node) not in handled:
                bind(node.id, None)  # loop targets, unpacking, augmented assignment: unknown
