"""Read and write sets of statements, for deciding whether two awaits depend on each other.

Names are full dotted chains (`self.db`, `api.stock`, `a`): `api.stock` and `api.prices` are
different objects under one root name. A subscript counts as its container (`d[k] = v` writes
`d`). A method call on an object may change it, so it writes its receiver (`self.db.get()`
writes `self.db`), except a call on an imported module (`asyncio.sleep`). Two chains are related
when one is a prefix of the other (`self` and `self.db`).
"""

from __future__ import annotations

import ast
from typing import List, Optional, Set, Tuple

from perfscan.astutil import dotted
from perfscan.passes.async_pass.scope import NESTED_SCOPES, Scope, walk


def related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def any_related(xs: Set[str], ys: Set[str]) -> bool:
    return any(related(x, y) for x in xs for y in ys)


def _targets(node: ast.AST, writes: Set[str], reads: Set[str]) -> None:
    """Record what an assignment target writes (and reads: subscripts' keys, attribute owners)."""
    if isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            _targets(elt, writes, reads)
    elif isinstance(node, ast.Starred):
        _targets(node.value, writes, reads)
    elif isinstance(node, ast.Name):
        writes.add(node.id)
    elif isinstance(node, ast.Attribute):
        chain = dotted(node)
        if chain is not None:
            writes.add(chain)
        else:
            reads.update(load_chains(node.value))
    elif isinstance(node, ast.Subscript):
        chain = dotted(node.value)
        if chain is not None:
            writes.add(chain)
        else:
            reads.update(load_chains(node.value))
        reads.update(load_chains(node.slice))


def load_chains(node: ast.AST, nodes: Optional[List[ast.AST]] = None) -> Set[str]:
    """The longest Name/Attribute chains read under `node` (`nodes`: its walk, if already made)."""
    nodes = walk(node) if nodes is None else nodes
    chains = {id(n): dotted(n) for n in nodes if isinstance(n, (ast.Name, ast.Attribute))}
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute) and chains[id(n)] is not None}
    out: Set[str] = set()
    for n in nodes:
        if isinstance(n, (ast.Name, ast.Attribute)) and id(n) not in inner and isinstance(n.ctx, ast.Load):
            chain = chains[id(n)]
            if chain is not None:
                out.add(chain)
    return out


def value_of(stmt: ast.stmt) -> Optional[ast.AST]:
    """The expression a simple statement evaluates (None for `x: int`)."""
    return (
        getattr(stmt, "value", None) if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)) else stmt
    )


def effects(
    scope: Scope, stmt: ast.stmt, value_nodes: Optional[List[ast.AST]] = None
) -> Tuple[Set[str], Set[str], Set[str]]:
    """(reads, writes, stores) of one simple statement; `value_nodes` is the walk of its value.

    `stores` are the chains the statement assigns (its targets, a walrus); `writes` adds the
    receivers of its method calls, which the call may change.
    """
    reads: Set[str] = set()
    stores: Set[str] = set()
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            _targets(target, stores, reads)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        _targets(stmt.target, stores, reads)
        if isinstance(stmt, ast.AugAssign):
            reads.update(stores)
    writes = set(stores)
    value = value_of(stmt)
    if value is not None:
        nodes = walk(value) if value_nodes is None else value_nodes
        reads.update(load_chains(value, nodes))
        for node in nodes:
            if isinstance(node, ast.NamedExpr):
                stores.add(node.target.id)
                writes.add(node.target.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = dotted(node.func.value)
                if receiver is not None and not _module_path(scope, receiver):
                    writes.add(receiver)
    return reads, writes, stores


def _module_path(scope: Scope, chain: str) -> bool:
    return scope.is_module(chain.split(".")[0])


def own_awaits(stmt: ast.AST) -> List[ast.Await]:
    return [node for node in walk(stmt, NESTED_SCOPES) if isinstance(node, ast.Await)]
