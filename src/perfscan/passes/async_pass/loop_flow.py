"""What flows between the iterations of a `for` loop's body, as full dotted chains.

An iteration reads what an earlier one wrote (a loop-carried dependency) when it reads a chain
that the body writes somewhere and that this iteration has not yet assigned on every path
before the read: `prev` in `v = await load(key, prev); prev = key`, `self.cursor` in
`self.cursor = await page(self.cursor)`, `seen` in `if key in seen: continue; seen.add(key)`.

Accumulating is not reading: `total += x`, `results.append(x)` and `results[key] = x` write
their target without reading what the last iteration left there, so a loop that only collects
its results stays independent. Only the container methods below count as writes of their
receiver; a method call on any other object (`self.load(key)`) is not taken as a change of it,
which is what "whatever the receiver" means for await-in-loop.

The loop variable, and chains assigned from it in this iteration, are the iteration's own
(`fresh`): an await that reads none of them does not work on the loop's items.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import FrozenSet, List, Optional, Sequence, Set

from perfscan.astutil import dotted
from perfscan.passes.async_pass.dataflow import related
from perfscan.passes.async_pass.scope import NESTED_SCOPES, walk

MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "add",
        "update",
        "insert",
        "setdefault",
        "pop",
        "popleft",
        "popitem",
        "remove",
        "discard",
        "clear",
        "sort",
        "reverse",
        "__setitem__",
    }
)


@dataclass(frozen=True)
class LoopFlow:
    carried: Optional[str]  # a chain a later iteration reads from an earlier one, or None
    fresh: FrozenSet[str]  # the loop variable and chains computed from it


def stores(target: ast.AST) -> Set[str]:
    """Chains an assignment target writes: names, attribute chains, a subscript's container."""
    out: Set[str] = set()
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            out |= stores(elt)
    elif isinstance(target, ast.Starred):
        out |= stores(target.value)
    elif isinstance(target, (ast.Name, ast.Attribute)):
        chain = dotted(target)
        if chain is not None:
            out.add(chain)
    elif isinstance(target, ast.Subscript):
        chain = dotted(target.value)
        if chain is not None:
            out.add(chain)
    return out


def data_reads(node: ast.AST) -> Set[str]:
    """Chains whose value `node` reads: not a method's receiver (`results.append`), not the
    container a subscript store writes into, not what nested defs and lambdas read."""
    nodes = walk(node, NESTED_SCOPES)
    skipped: Set[int] = set()
    for n in nodes:
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and dotted(n.func) is not None:
            skipped.add(id(n.func))  # calling a method is not reading its object's data
        elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            skipped.add(id(n.value))  # `d[k] = v`, `o.x = v`: d and o are written, not read
    out: Set[str] = set()
    inner: Set[int] = set()
    for n in nodes:
        if isinstance(n, ast.Attribute):
            inner.add(id(n.value))
    for n in nodes:
        if not isinstance(n, (ast.Name, ast.Attribute)) or id(n) in inner or id(n) in skipped:
            continue
        if isinstance(n.ctx, ast.Load):
            chain = dotted(n)
            if chain is not None:
                out.add(chain)
    return out


def body_writes(body: Sequence[ast.stmt]) -> Set[str]:
    """Every chain the loop body may change: assignment targets anywhere, container mutations."""
    out: Set[str] = set()
    for node in walk(list(body), NESTED_SCOPES):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                out |= stores(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            out |= stores(node.target)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            out |= stores(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            out |= stores(node.optional_vars)
        elif isinstance(node, ast.NamedExpr):
            out.add(node.target.id)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                out |= stores(target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            receiver = dotted(node.func.value)
            if receiver is not None:
                out.add(receiver)
    return out


class _Scan:
    def __init__(self, written: Set[str], fresh: Set[str]) -> None:
        self.written = written
        self.fresh = fresh
        self.carried: Optional[str] = None

    def expr(self, node: ast.AST, defined: Set[str]) -> Set[str]:
        """Check what an expression reads; return `defined` with its walrus targets."""
        self.read(data_reads(node), defined)
        return defined | {n.target.id for n in walk(node, NESTED_SCOPES) if isinstance(n, ast.NamedExpr)}

    def derive(self, node: ast.AST, written: Set[str]) -> None:
        """Chains assigned from the loop's item are the iteration's own too."""
        if any(related(r, f) for r in data_reads(node) | _callee_chains(node) for f in self.fresh):
            self.fresh |= written

    def read(self, chains: Set[str], defined: Set[str]) -> None:
        if self.carried is not None:
            return
        for chain in sorted(chains):
            if any(related(chain, w) for w in self.written) and not any(
                chain == d or chain.startswith(d + ".") for d in defined
            ):
                self.carried = chain
                return

    def block(self, stmts: Sequence[ast.stmt], defined: Set[str]) -> Optional[Set[str]]:
        """Check each statement's reads against what this iteration has assigned so far; return
        what is assigned on every path through the block, or None when no path gets to its end
        (it ends in `continue`, `raise`, ...: what a later statement reads comes from the others)."""
        current: Optional[Set[str]] = set(defined)
        for stmt in stmts:
            if current is None:
                break  # unreachable
            current = self.stmt(stmt, current)
        return current

    def stmt(self, stmt: ast.stmt, defined: Set[str]) -> Optional[Set[str]]:
        if isinstance(stmt, NESTED_SCOPES):
            return defined
        if isinstance(stmt, (ast.Continue, ast.Break, ast.Return, ast.Raise)):
            self.expr(stmt, defined)
            return None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            value = stmt.value
            after = self.expr(value, defined) if value is not None else set(defined)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            written: Set[str] = set()
            for target in targets:
                self.read(data_reads(target), defined)
                written |= stores(target)
            if value is not None:
                self.derive(value, written)
            return after | written
        if isinstance(stmt, ast.AugAssign):
            # accumulating (`total += x`) does not read what the last iteration left for this one
            self.read(data_reads(stmt.target), defined)  # a subscript's key, not the target itself
            self.derive(stmt.value, stores(stmt.target))
            return self.expr(stmt.value, defined)
        if isinstance(stmt, ast.If):
            defined = self.expr(stmt.test, defined)
            return _meet([self.block(stmt.body, defined), self.block(stmt.orelse, defined)])
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            defined = self.expr(stmt.iter, defined)
            self.derive(stmt.iter, stores(stmt.target))
            self.block(stmt.body, defined | stores(stmt.target))
            self.block(stmt.orelse, defined)
            return defined  # it may run no iteration
        if isinstance(stmt, ast.While):
            defined = self.expr(stmt.test, defined)
            self.block(stmt.body, defined)
            self.block(stmt.orelse, defined)
            return defined
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            inner = set(defined)
            for item in stmt.items:
                inner = self.expr(item.context_expr, inner)
                if item.optional_vars is not None:
                    inner |= stores(item.optional_vars)
                    self.derive(item.context_expr, stores(item.optional_vars))
            return self.block(stmt.body, inner)
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            body = self.block(getattr(stmt, "body", []), defined)
            if body is not None:
                body = self.block(getattr(stmt, "orelse", []), body)
            ends = [body]
            for handler in getattr(stmt, "handlers", []):
                caught = set(defined) | ({handler.name} if handler.name else set())
                ends.append(self.block(handler.body, caught))
            joined = _meet(ends)
            final = self.block(getattr(stmt, "finalbody", []), defined if joined is None else joined)
            return None if joined is None else final
        return self.expr(stmt, defined)  # Expr, Assert, Delete, Match, ...


def _meet(ends: Sequence[Optional[Set[str]]]) -> Optional[Set[str]]:
    """What is assigned on every path that gets through (None: none gets through)."""
    through = [e for e in ends if e is not None]
    if not through:
        return None
    out = set(through[0])
    for e in through[1:]:
        out &= e
    return out


def _callee_chains(node: ast.AST) -> Set[str]:
    return {c for c in (dotted(n.func) for n in walk(node, NESTED_SCOPES) if isinstance(n, ast.Call)) if c}


def loop_flow(loop: ast.For, targets: Set[str]) -> LoopFlow:
    """What one iteration of `loop` takes from the previous ones, and what is its own."""
    scan = _Scan(body_writes(loop.body), set(targets))
    scan.block(loop.body, set(targets))
    return LoopFlow(scan.carried, frozenset(scan.fresh))


def chains_of_call(call: ast.Call) -> List[str]:
    """The chains an awaited call depends on: its arguments' data and the chains it calls
    methods on (`km.shutdown_kernel()` inside `ensure_async(...)` depends on `km`)."""
    return sorted(data_reads(call) | _callee_chains(call))
