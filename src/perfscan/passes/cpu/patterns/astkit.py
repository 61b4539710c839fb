"""What the CPU patterns need to know about a function's body: loops, names, aliases, types.

Loops include comprehensions. A name is *per-iteration* in a loop when it is the loop's target
or is assigned inside the loop body from an expression that reads a per-iteration name: a
collection bound that way is fresh on every iteration, so work on it is not repeated work.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Set, Tuple

from perfscan.astutil import dotted, import_bindings

FuncNode = (ast.FunctionDef, ast.AsyncFunctionDef)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def names_in(node: Optional[ast.AST]) -> Set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def root_name(node: ast.AST) -> Optional[str]:
    """`a` for `a`, `a.b.c`, `a[1].b`; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def module_aliases(tree: ast.AST, package: Optional[str] = None) -> Dict[str, str]:
    """Local name -> real dotted name, from every import in the module (`import copy as c`,
    `from json import dumps`, `from .util import f`); `package` as for `astutil.import_bindings`.

    A name imported two ways means its last import: a CPU finding is measured at run time, the
    pattern only names its likely cause, so a guess between alternatives costs little.
    """
    return import_bindings(tree, package).last()


def resolve(node: ast.AST, aliases: Dict[str, str]) -> Optional[str]:
    """The real dotted name of a called expression, with imports resolved."""
    name = dotted(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    if head in aliases:
        return aliases[head] + ("." + rest if rest else "")
    return name


SMALL_COLLECTION = 16  # items: a constant tuple or frozenset this small is a fixed table, not input


def _small_display(value: ast.AST) -> Optional[int]:
    """The size of a tuple display, or of frozenset() of a display, with a few items; else None."""
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "frozenset"
        and len(value.args) == 1
        and not value.keywords
    ):
        value = value.args[0]
        if not isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            return None
    elif not isinstance(value, ast.Tuple):
        return None
    if any(isinstance(e, ast.Starred) for e in value.elts) or len(value.elts) > SMALL_COLLECTION:
        return None
    return len(value.elts)


def module_constants(tree: ast.AST) -> Dict[str, int]:
    """Module-level names bound once to a small constant collection -> its size
    (`FIELDS = ("name", "email")`, `KINDS = frozenset({"a", "b"})`)."""
    sizes: Dict[str, int] = {}
    bound: Dict[str, int] = {}
    for node in getattr(tree, "body", []):
        targets: List[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for t in targets:
            for name in names_in(t):
                bound[name] = bound.get(name, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            size = _small_display(node.value)
            if size is not None:
                sizes[node.targets[0].id] = size
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            size = _small_display(node.value)
            if size is not None:
                sizes[node.target.id] = size
    return {name: size for name, size in sizes.items() if bound.get(name) == 1}


def loop_position(node: ast.AST, generator: Optional[ast.comprehension] = None) -> Tuple[int, int]:
    """(line, column) naming a loop, as the probe's loop counters do (probe/loops.py
    `loop_position`): its target's (a comprehension's generator: that generator's target; a while
    loop: its test's)."""
    if generator is not None:
        at: ast.AST = generator.target
    elif isinstance(node, ast.While):
        at = node.test
    else:
        at = getattr(node, "target", node)
    return getattr(at, "lineno", 0), getattr(at, "col_offset", 0)


@dataclass
class LoopFrame:
    node: ast.AST
    targets: Set[str]
    per_iteration: Set[str] = field(default_factory=set)
    iter_node: Optional[ast.AST] = None
    position: Tuple[int, int] = (0, 0)  # loop_position: where its iterations are counted


@dataclass(frozen=True)
class Site:
    node: ast.AST
    loops: Tuple[LoopFrame, ...]  # enclosing loops, outermost first

    @property
    def in_loop(self) -> bool:
        return bool(self.loops)

    def per_iteration(self) -> Set[str]:
        out: Set[str] = set()
        for lp in self.loops:
            out |= lp.targets | lp.per_iteration
        return out


def _assigned_from_iteration(body: List[ast.stmt], seeds: Set[str]) -> Set[str]:
    """Names assigned in body from expressions reading a seed (to a fixpoint)."""
    per = set(seeds)
    assigns = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                assigns.append((node.targets, node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                # `x += ...` is left out on purpose: an accumulator carries over between iterations
                assigns.append(([node.target], node.value))
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                assigns.append(([node.target], node.iter))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                assigns.append(([node.optional_vars], node.context_expr))
    changed = True
    while changed:
        changed = False
        for targets, value in assigns:
            if names_in(value) & per:
                for t in targets:
                    for n in names_in(t):
                        # `x = sorted(x)` keeps x a cross-iteration accumulator
                        if n not in per and n not in names_in(value):
                            per.add(n)
                            changed = True
    return per - seeds


def walk_with_loops(func: ast.AST) -> Iterator[Site]:
    """Every node in a function's body (nested defs excluded, lambdas and comprehensions included),
    with the loops around it."""

    def visit(node: ast.AST, loops: Tuple[LoopFrame, ...]) -> Iterator[Site]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FuncNode + (ast.ClassDef,)):
                continue
            yield Site(child, loops)
            yield from under(child, loops)

    def body(stmts: List[ast.stmt], loops: Tuple[LoopFrame, ...]) -> Iterator[Site]:
        # a statement of a loop's body is entered like any child: a loop right inside a loop
        # (`for p in ...: for rx in ...:`) makes its own frame
        for stmt in stmts:
            if isinstance(stmt, FuncNode + (ast.ClassDef,)):
                continue
            yield Site(stmt, loops)
            yield from under(stmt, loops)

    def under(child: ast.AST, loops: Tuple[LoopFrame, ...]) -> Iterator[Site]:
        """The nodes below child, inside the loop child makes when it is one."""
        if isinstance(child, (ast.For, ast.AsyncFor)):
            targets = names_in(child.target)
            frame = LoopFrame(
                child, targets, _assigned_from_iteration(child.body, targets), child.iter, loop_position(child)
            )
            yield from visit(child.iter, loops)
            yield from body(child.body, loops + (frame,))
            yield from body(child.orelse, loops)
        elif isinstance(child, ast.While):
            # a while loop's state lives in names the body reassigns
            frame = LoopFrame(child, set(), _while_per_iteration(child), None, loop_position(child))
            yield from visit(child.test, loops + (frame,))
            yield from body(child.body, loops + (frame,))
        elif isinstance(child, COMPS):
            frames = loops
            for gen in child.generators:
                yield from visit(gen.iter, frames)
                frames = frames + (LoopFrame(child, names_in(gen.target), set(), gen.iter, loop_position(child, gen)),)
                for cond in gen.ifs:
                    yield Site(cond, frames)
                    yield from visit(cond, frames)
            elts = [child.key, child.value] if isinstance(child, ast.DictComp) else [child.elt]
            for elt in elts:
                yield Site(elt, frames)
                yield from visit(elt, frames)
        else:
            yield from visit(child, loops)

    yield from visit(func, ())


def _while_per_iteration(node: ast.While) -> Set[str]:
    # names assigned from a pop/next each iteration are the loop's current item
    out = set()
    for stmt in node.body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                read = names_in(sub.value)
                for t in sub.targets:
                    # `levels = sorted(levels)` rebinds an accumulator, not the loop's current item
                    out |= names_in(t) - read
    return out | _assigned_from_iteration(node.body, out)


def list_bound_names(func: ast.AST, class_node: Optional[ast.ClassDef] = None) -> Set[str]:
    """Names (and `self.attr`s) known to hold a list or tuple that changes: bound to a list
    display, list(...), a list comprehension, or a list/tuple annotation."""
    known: Set[str] = set()

    def is_list_expr(v: ast.AST) -> bool:
        if isinstance(v, ast.ListComp):
            return True
        if isinstance(v, ast.List):
            return True
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("list", "tuple"):
            return True
        return False

    def scan(scope: ast.AST, prefix_self: bool) -> None:
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and is_list_expr(node.value):
                for t in node.targets:
                    if isinstance(t, ast.Name) and not prefix_self:
                        known.add(t.id)
                    elif isinstance(t, ast.Attribute):
                        name = dotted(t)
                        if name and name.startswith("self."):
                            known.add(name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and not prefix_self:
                ann = ast.dump(node.annotation)
                if "'list'" in ann or "'List'" in ann or (node.value is not None and is_list_expr(node.value)):
                    known.add(node.target.id)

    scan(func, False)
    if isinstance(func, FuncNode):
        for arg in func.args.args + func.args.kwonlyargs:
            if arg.annotation is not None:
                ann = arg.annotation
                base = ann.value if isinstance(ann, ast.Subscript) else ann
                if isinstance(base, ast.Name) and base.id in ("list", "List", "tuple", "Tuple"):
                    known.add(arg.arg)
    if class_node is not None:
        for item in class_node.body:
            if isinstance(item, FuncNode):
                scan(item, True)
    # a list literal of constants that never grows is a small fixed table, not a scan risk
    mutated = _mutated_names(func, class_node)
    fixed = _constant_list_names(func)
    return {n for n in known if n in mutated or n not in fixed}


def _mutated_names(func: ast.AST, class_node: Optional[ast.ClassDef]) -> Set[str]:
    scopes = [func] + ([class_node] if class_node is not None else [])
    out: Set[str] = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert", "__iadd__")
            ):
                name = dotted(node.func.value)
                if name:
                    out.add(name)
            elif isinstance(node, ast.AugAssign):
                name = dotted(node.target)
                if name:
                    out.add(name)
    return out


def _constant_list_names(func: ast.AST) -> Set[str]:
    out: Set[str] = set()
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, (ast.List, ast.Tuple))
            and node.value.elts
            and all(isinstance(e, ast.Constant) for e in node.value.elts)
        ):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out.add(t.id)
    return out


def decorator_names(func: ast.AST, aliases: Dict[str, str]) -> Set[str]:
    out = set()
    for dec in getattr(func, "decorator_list", []):
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = resolve(target, aliases)
        if name:
            out.add(name)
            out.add(name.split(".")[-1])
    return out


def loop_around(func: ast.AST, line: int, node: Optional[ast.AST] = None) -> Optional[LoopFrame]:
    """The innermost loop (comprehensions included) around `node`, or, without one, around the
    code that starts on `line` (a comprehension an argument holds is around its own code, not
    around the call that takes it: pass the call when it is known)."""
    best: Optional[LoopFrame] = None
    for site in walk_with_loops(func):
        if node is not None:
            if site.node is node:
                return site.loops[-1] if site.loops else None
            continue
        if site.loops and getattr(site.node, "lineno", None) == line:
            inner = site.loops[-1]
            if best is None or getattr(inner.node, "lineno", 0) >= getattr(best.node, "lineno", 0):
                best = inner
    return best


def over_items(loop: LoopFrame) -> bool:
    """A loop over independent items: a `for` or a comprehension whose body reads its item and
    never leaves early (no break or return: a search or a retry is not a batch)."""
    node = loop.node
    if isinstance(node, ast.While):
        return False
    if isinstance(node, (ast.For, ast.AsyncFor)):
        body: List[ast.AST] = list(node.body)
        for stmt in body:
            for sub in _own_nodes(stmt):
                if isinstance(sub, (ast.Break, ast.Return)):
                    return False
        read = set()
        for stmt in body:
            read |= names_in(stmt)
        return bool((loop.targets - {"_"}) & read)
    if not isinstance(node, COMPS):
        return bool(loop.targets)
    used: Set[str] = set()
    for part in [getattr(node, "elt", None), getattr(node, "key", None), getattr(node, "value", None)]:
        used |= names_in(part)
    for gen in node.generators:
        for cond in gen.ifs:
            used |= names_in(cond)
    return bool((loop.targets - {"_"}) & used)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if not isinstance(child, FuncNode + (ast.ClassDef, ast.Lambda)):
                stack.append(child)
