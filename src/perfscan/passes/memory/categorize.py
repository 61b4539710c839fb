"""What an allocating line's expression is: its category and how far it can be reduced.

Read from the source (the AST), not measured: the statement holding the line, the calls and
operators on it, whether it sits in a loop, and the decorators of the function around it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, cast

from perfscan.astutil import dotted_loose
from perfscan.locate import Location

CACHE_DECORATORS = {"lru_cache", "cache", "cached", "memoize", "memoized", "cached_property"}
PARSERS = {
    ("json", "loads"),
    ("json", "load"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("marshal", "loads"),
    ("yaml", "load"),
    ("yaml", "safe_load"),
    ("yaml", "full_load"),
    ("yaml", "load_all"),
    ("yaml", "safe_load_all"),
    ("tomllib", "loads"),
    ("tomllib", "load"),
    ("toml", "loads"),
    ("toml", "load"),
    ("csv", "reader"),
    ("csv", "DictReader"),
    ("ET", "fromstring"),
    ("ElementTree", "fromstring"),
    ("ET", "parse"),
    ("orjson", "loads"),
    ("ujson", "loads"),
    ("msgpack", "unpackb"),
    ("msgpack", "loads"),
}
BUFFER_METHODS = {
    "read",
    "readlines",
    "getvalue",
    "tobytes",
    "read_bytes",
    "read_text",
    "join",
    "encode",
    "decode",
    "readall",
    "recv",
    "content",
}


@dataclass(frozen=True)
class Category:
    category: str  # buffer | data structure | array | parsed data | cache
    reducibility: str  # high | medium | low | irreducible
    reason: str


def _statement_at(body_owner: ast.AST, line: int) -> Tuple[Optional[ast.stmt], List[ast.AST]]:
    """The innermost statement spanning `line`, and its ancestors (outermost first)."""
    best: Optional[ast.stmt] = None
    chain: List[ast.AST] = []

    def visit(node: ast.AST, ancestors: List[ast.AST]) -> None:
        nonlocal best, chain
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                end = getattr(child, "end_lineno", None) or child.lineno
                if child.lineno <= line <= end:
                    best, chain = child, ancestors + [node]
                    visit(child, ancestors + [node])
            elif isinstance(child, ast.excepthandler) or type(child).__name__ == "match_case":
                visit(child, ancestors + [node])

    visit(body_owner, [])
    return best, chain


def _in_loop(chain: Sequence[ast.AST], stmt: ast.stmt) -> bool:
    for node in list(chain) + [stmt]:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return True
    return False


def _nodes_on_line(stmt: ast.AST, line: int) -> List[ast.AST]:
    out = []
    for node in ast.walk(stmt):
        start = getattr(node, "lineno", None)
        if start is None:
            continue
        end = getattr(node, "end_lineno", None) or start
        if start <= line <= end:
            out.append(node)
    return out


def _number_kind(node: ast.AST) -> str:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant):
            if isinstance(sub.value, float):
                return "floats"
            if isinstance(sub.value, bool) or sub.value is None:
                return "objects"
            if isinstance(sub.value, int):
                return "ints"
    return "objects"


def _is_repeated_list(node: ast.AST) -> bool:
    """`[x] * n` or `n * [x]`."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and (isinstance(node.left, ast.List) or isinstance(node.right, ast.List))
    )


def _target_names(stmt: ast.AST) -> List[str]:
    targets: List[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    return [dotted_loose(t.value if isinstance(t, ast.Subscript) else t) for t in targets]


def categorize(tree: ast.AST, func: Optional[ast.AST], line: int) -> Category:
    """Category and reducibility of what `line` allocates, from its expression (the AST)."""
    owner = func if func is not None else tree
    if func is not None:
        for deco in getattr(func, "decorator_list", []):
            if dotted_loose(deco).split(".")[-1] in CACHE_DECORATORS:
                return Category(
                    "cache",
                    "medium",
                    "memoized results kept for every distinct argument: bound the cache (maxsize) or key it on less",
                )
    stmt, chain = _statement_at(owner, line)
    if stmt is None:
        return Category(
            "data structure", "low", "data the code needs in this form: smaller only with another representation"
        )
    nodes = _nodes_on_line(stmt, line)
    loop = _in_loop(chain, stmt)
    calls = [n for n in nodes if isinstance(n, ast.Call)]
    names = [n.lower() for n in _target_names(stmt)]

    # a slice copy per iteration, kept in a container
    slices = [n for n in nodes if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Slice)]
    if slices and loop:
        kept = any(
            isinstance(c.func, ast.Attribute)
            and c.func.attr in ("append", "extend", "insert", "add")
            and any(s in list(ast.walk(c)) for s in slices)
            for c in calls
        )
        kept = kept or any(isinstance(t, ast.Subscript) for t in getattr(stmt, "targets", []))
        if kept:
            return Category(
                "data structure",
                "high",
                "copies of a growing prefix kept for every checkpoint: store indexes (or one shared list) instead",
            )
        return Category(
            "data structure", "medium", "a slice copy on every iteration: iterate with indexes or itertools.islice"
        )

    # dense arrays of Python numbers
    comps = [n for n in nodes if isinstance(n, (ast.ListComp, ast.GeneratorExp))]
    for comp in comps:
        if (
            _is_repeated_list(comp.elt)
            or isinstance(comp.elt, (ast.ListComp, ast.List))
            and any(_is_repeated_list(x) for x in ast.walk(comp.elt))
        ):
            kind = _number_kind(comp.elt)
            return Category("array", "medium", f"dense n×n matrix of Python {kind}: use array/numpy or a sparse dict")
    for node in nodes:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            if _is_repeated_list(node):
                # _is_repeated_list: one side is the list literal
                lst = cast(ast.List, node.left if isinstance(node.left, ast.List) else node.right)
                if any(_is_repeated_list(x) or isinstance(x, ast.List) for x in lst.elts):
                    return Category(
                        "array", "medium", "nested lists of Python numbers: use array/numpy or a sparse dict"
                    )
                return Category(
                    "array",
                    "medium",
                    f"list of Python {_number_kind(lst)}: array.array or numpy stores each in 8 bytes",
                )
            if (
                isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, (bytes, str))
                or isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, (bytes, str))
            ):
                return Category("buffer", "medium", "one large buffer: stream it in chunks or use a memoryview")

    # parsed documents
    for call in calls:
        dotted = dotted_loose(call.func)
        parts = tuple(dotted.split(".")[-2:])
        if parts in PARSERS:
            return Category(
                "parsed data",
                "medium",
                f"whole document parsed into Python objects ({dotted}): stream it or keep only the fields needed",
            )

    # caches: stores into something named like one
    cache_words = ("cache", "memo", "_seen", "registry")
    if any(w in n for n in names for w in cache_words) or any(
        isinstance(c.func, ast.Attribute)
        and c.func.attr in ("setdefault", "__setitem__", "update")
        and any(w in dotted_loose(c.func.value).lower() for w in cache_words)
        for c in calls
    ):
        return Category("cache", "medium", "cache without a bound: cap its size or evict old entries")

    # string building in a loop
    if loop and isinstance(stmt, (ast.Assign, ast.AugAssign)):
        value = stmt.value
        target = _target_names(stmt)
        if (
            isinstance(stmt, ast.AugAssign)
            and isinstance(stmt.op, ast.Add)
            or (
                isinstance(value, ast.BinOp)
                and isinstance(value.op, ast.Add)
                and target
                and target[0] in (dotted_loose(value.left), dotted_loose(value.right))
            )
        ):
            return Category(
                "buffer", "high", "string rebuilt on every iteration: collect the parts in a list and join once"
            )

    # buffers: whole reads, joins, encodings
    for call in calls:
        if isinstance(call.func, ast.Attribute) and call.func.attr in BUFFER_METHODS:
            if call.func.attr in ("read", "readlines", "read_bytes", "read_text", "readall") and not call.args:
                return Category(
                    "buffer", "medium", f"whole input read at once (.{call.func.attr}()): stream it in chunks"
                )
            if call.func.attr in ("join", "encode", "decode", "getvalue", "tobytes"):
                return Category(
                    "buffer",
                    "low",
                    f"one buffer built by .{call.func.attr}(): needed in full only if it is sent or stored whole",
                )
        if isinstance(call.func, ast.Name) and call.func.id in ("bytes", "bytearray", "memoryview"):
            return Category("buffer", "medium", "one large buffer: stream it in chunks or reuse it")

    # copies
    for call in calls:
        dotted = dotted_loose(call.func)
        if dotted.endswith("deepcopy") or dotted in ("copy.copy",):
            return Category("data structure", "medium", "copies of existing data: copy only what changes")
        if dotted in ("dict", "list", "set", "tuple", "sorted") and call.args:
            return Category(
                "data structure",
                "medium",
                f"a full copy ({dotted}(...)): work on the original or a view if it is only read",
            )

    # containers built element by element or in full
    if comps or any(isinstance(n, (ast.DictComp, ast.SetComp)) for n in nodes):
        if any(n.startswith("self.") for n in _target_names(stmt)):
            return Category(
                "data structure", "low", "the object's own state: smaller only with a more compact representation"
            )
        return Category(
            "data structure", "medium", "built in full before use: a generator streams it if it is consumed once"
        )
    if loop and any(
        isinstance(c.func, ast.Attribute) and c.func.attr in ("append", "extend", "add", "insert", "update")
        for c in calls
    ):
        return Category(
            "data structure",
            "medium",
            "grown on every iteration and kept whole: stream the items or keep only what is needed",
        )
    return Category(
        "data structure", "low", "data the code needs in this form: smaller only with another representation"
    )


def import_category(tree: ast.Module, line: Optional[int]) -> Category:
    """A module-level value made at import: its expression's category when that says more than
    "a table kept for the process"."""
    if line is not None:
        cat = categorize(tree, None, line)
        if cat.category in ("array", "parsed data", "buffer"):
            return cat
    return Category(
        "cache", "medium", "table built at import and kept for the process: build it lazily, or load a precomputed one"
    )


def categorize_at(location: Location, line: int) -> Category:
    """The category of `line` inside the function (or module level) at `location`."""
    return categorize(location.tree, location.function.node if location.function else None, line)
