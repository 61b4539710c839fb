"""Memory by holder: what one project function made, kept alive by a container another one built.

tracemalloc names the line that allocated an object, not what keeps it alive. When a function
builds a container from another project function's output (`data = list(numbers(n))`,
`[make_row(i) for i in ids]`, `rows.append(parse(line))`), the objects are made in the callee
(the ints a generator yields) and held by the caller's container: at the same peak the caller's
line holds the container itself (its pointer array) and the callee's lines hold the objects. The
fix is where they are held (stream instead of building the list), so the holder's line is named
as the finding and the allocator goes in its evidence.

Rules, on one test phase's groups (docs/design.md "The passes", Memory):
- the holder's line is alive at that peak and its statement builds a container from a direct call
  to the allocator (a call, a comprehension over it or over calls to it, `map(f, ...)`, an
  `.append`/`.extend`/`.add` or an item assignment of its result), resolved through the
  module's imports, `self.method` in the same class; or from an iterable the holder was passed
  (`list(iterable)` of a parameter), when exactly one project generator's escaping lines are
  alive at that peak (the maker is not in the source: with two, which one is held is a guess);
- only the allocator's escaping lines move: its `return` and `yield` statements and the
  assignments to (or `.append`s into) names they return or yield; what it keeps itself (a cache,
  an attribute) stays its own;
- the container is big enough to hold them: one pointer (8 bytes) per 16 allocations at least;
- an allocator with two candidate holders in one phase stays where it is (which one holds what
  cannot be told).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from perfscan.astutil import dotted, import_bindings, package_of
from perfscan.passes.memory.groups import MODULE_LEVEL, Group, GroupKey, Held

CONTAINERS = {"list", "tuple", "set", "frozenset", "dict", "sorted", "deque", "collections.deque", "bytearray"}
ADDERS = {"append", "extend", "add", "update", "appendleft", "insert"}
POINTER = 8
PER_ELEMENT = 16  # allocations one element of a container may stand for (a dict with its strings)


def credit_holders(groups: Mapping[GroupKey, Group]) -> Dict[GroupKey, Group]:
    """One phase's groups with each allocator's escaping bytes moved to the one holder line that keeps them."""
    candidates: Dict[GroupKey, List[Tuple[GroupKey, int]]] = {}
    generators: Optional[List[GroupKey]] = None  # groups whose own yields hold memory, read once per phase
    for hkey, holder in groups.items():
        if holder.location.function is None:
            continue
        for line, (own_bytes, _count) in holder.lines.items():
            if own_bytes <= 0:
                continue
            for callee in _fed_by(holder, line):
                if callee[0] == "param":
                    # built from an iterable the caller passed (`list(iterable)`): its maker is
                    # not in the source, so only the one project generator whose yields are alive
                    # at this peak is (a generator that only delegates, `yield from f(data)`, yields
                    # what another one made)
                    if generators is None:
                        generators = [k for k, g in groups.items() if _yielded_bytes(g) > 0]
                    akeys = [k for k in generators if k != hkey]
                    if len(akeys) == 1:
                        candidates.setdefault(akeys[0], []).append((hkey, line))
                    continue
                for akey, alloc in groups.items():
                    if akey != hkey and _is(alloc, callee, holder):
                        candidates.setdefault(akey, []).append((hkey, line))
    out = dict(groups)
    for akey, holders in candidates.items():
        if len(set(holders)) != 1:
            continue
        hkey, line = holders[0]
        alloc, holder = out[akey], out[hkey]
        moving = {ln: bc for ln, bc in alloc.lines.items() if ln in _escaping_lines(alloc)}
        moved_bytes = sum(b for b, _c in moving.values())
        moved_count = sum(c for _b, c in moving.values())
        if moved_bytes <= 0 or holder.lines[line][0] * PER_ELEMENT < POINTER * moved_count:
            continue
        top = max(moving.items(), key=lambda kv: kv[1][0])[0]
        held = Held(
            f"{alloc.module}:{alloc.qualname}",
            alloc.rel,
            top,
            _source_line(alloc, top),
            moved_bytes,
            moved_count,
            line,
        )
        kept = {ln: bc for ln, bc in alloc.lines.items() if ln not in moving}
        if kept:
            out[akey] = replace(alloc, bytes=alloc.bytes - moved_bytes, count=alloc.count - moved_count, lines=kept)
        else:
            del out[akey]
        b, c = holder.lines[line]
        lines = dict(holder.lines)
        lines[line] = (b + moved_bytes, c + moved_count)
        out[hkey] = replace(
            holder,
            bytes=holder.bytes + moved_bytes,
            count=holder.count + moved_count,
            lines=lines,
            held=holder.held + (held,),
        )
    return out


# -- the holder's side: which functions feed a container built at this line


def _fed_by(holder: Group, line: int) -> Set[Tuple[str, str]]:
    """(how the callee is named: "name", "self" or "module", the dotted name) of the calls whose
    results the statement at `line` puts into a container it builds."""
    fn = holder.location.function
    stmt = _statement_at(fn.node if fn else holder.location.tree, line)
    if stmt is None:
        return set()
    out: Set[Tuple[str, str]] = set()
    for node in ast.walk(stmt):
        fed: List[ast.AST] = []
        if isinstance(node, ast.Call):
            name = dotted(node.func) or ""
            if name in CONTAINERS or name.split(".")[-1] in ("deque",):
                fed += [a for a in node.args]
            elif isinstance(node.func, ast.Attribute) and node.func.attr in ADDERS:
                fed += [a for a in node.args]
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp)):
            fed += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            fed += [g.iter for g in node.generators]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) for t in node.targets):
            fed.append(node.value)
        for expr in fed:
            out |= _calls_in(expr)
            if isinstance(expr, ast.Name) and fn is not None and expr.id in _parameters(fn.node):
                out.add(("param", expr.id))
    return out


def _parameters(func: ast.AST) -> Set[str]:
    args = getattr(func, "args", None)
    if args is None:
        return set()
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in every}


def _yielded_bytes(group: Group) -> int:
    """Bytes alive from the lines of a project generator's own `yield` expressions."""
    fn = group.location.function
    if fn is None or group.qualname == MODULE_LEVEL:
        return 0
    lines: Set[int] = set()
    for node in _own(fn.node):
        if isinstance(node, ast.Yield) and node.value is not None:
            lines |= _span(node)
    return sum(b for ln, (b, _c) in group.lines.items() if ln in lines)


def _calls_in(expr: ast.AST) -> Set[Tuple[str, str]]:
    """The named calls an expression's value comes from: a call, a comprehension's element or
    iterable, `map(f, ...)`."""
    out: Set[Tuple[str, str]] = set()
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Name) and func.id == "map" and expr.args:
            name = dotted(expr.args[0])
            if name:
                out.add(_kind(name))
        else:
            name = dotted(func)
            if name:
                out.add(_kind(name))
    elif isinstance(expr, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
        out |= _calls_in(expr.elt)
        for gen in expr.generators:
            out |= _calls_in(gen.iter)
    elif isinstance(expr, ast.Starred):
        out |= _calls_in(expr.value)
    return out


def _kind(name: str) -> Tuple[str, str]:
    if name.startswith("self."):
        return "self", name[len("self.") :]
    return ("module", name) if "." in name else ("name", name)


def _is(alloc: Group, callee: Tuple[str, str], holder: Group) -> bool:
    """Whether the allocator group is the function the holder calls by that name."""
    fn = alloc.location.function
    hfn = holder.location.function
    if fn is None or hfn is None or alloc.qualname == MODULE_LEVEL:
        return False
    kind, name = callee
    if kind == "self":
        owner = hfn.qualname.rsplit(".", 1)[0] if "." in hfn.qualname else ""
        return bool(owner) and alloc.rel == holder.rel and fn.qualname == f"{owner}.{name}"
    bindings = import_bindings(
        holder.location.tree, package_of(holder.module, holder.rel.endswith("__init__.py"))
    ).last()
    head, _, rest = name.partition(".")
    if kind == "name" and head not in bindings:
        return alloc.rel == holder.rel and fn.qualname == name  # a function of the same module
    real = bindings.get(head)
    if real is None:
        return False
    full = real + ("." + rest if rest else "")
    return full == f"{alloc.module}.{fn.qualname}"


# -- the allocator's side: which of its lines hand their objects to the caller


def _escaping_lines(alloc: Group) -> Set[int]:
    fn = alloc.location.function
    if fn is None:
        return set()
    handed: Set[str] = set()  # names a return or yield hands to the caller
    out: Set[int] = set()
    body = [n for n in _own(fn.node)]
    for node in body:
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and node.value is not None:
            handed |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            out |= _span(node)
    for node in body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _bound_names(targets) & handed:
                out |= _span(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ADDERS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in handed
        ):
            out |= _span(node)
    return out


def _bound_names(targets: Sequence[ast.expr]) -> Set[str]:
    """Names an assignment binds (`a, b = ...` binds both; `x[k] = ...` and `o.a = ...` bind none)."""
    out: Set[str] = set()
    stack: List[ast.expr] = list(targets)
    while stack:
        t = stack.pop()
        if isinstance(t, ast.Name):
            out.add(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            stack.extend(t.elts)
        elif isinstance(t, ast.Starred):
            stack.append(t.value)
    return out


def _own(func: ast.AST) -> List[ast.AST]:
    """A def's own nodes (comprehensions and lambdas in, nested defs and classes out)."""
    out: List[ast.AST] = []
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _span(node: ast.AST) -> Set[int]:
    first = getattr(node, "lineno", 0)
    return set(range(first, (getattr(node, "end_lineno", None) or first) + 1))


def _statement_at(owner: ast.AST, line: int) -> Optional[ast.stmt]:
    """The innermost statement spanning `line` (a nested def's statements are its own)."""
    best: Optional[ast.stmt] = None
    stack = list(ast.iter_child_nodes(owner))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            first, last = node.lineno, getattr(node, "end_lineno", None) or node.lineno
            if not first <= line <= last:
                continue
            best = node
        stack.extend(ast.iter_child_nodes(node))
    return best


def _source_line(group: Group, line: int) -> str:
    lines = group.location.source.text.splitlines()
    return lines[line - 1].strip() if 1 <= line <= len(lines) else ""
