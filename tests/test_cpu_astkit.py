"""What the CPU patterns read from a function's body (perfscan.passes.cpu.patterns.astkit).

Each rule here decides whether a pattern fires: which names are fresh per iteration (work on
them is not repeated work), which collections are small fixed tables (a loop over them is not a
nested loop), which names hold lists (a membership test on them scans), which loops run over
independent items (io-in-loop, await-in-loop). Every alternative the code spells out has a case.
"""

from __future__ import annotations

import ast
import textwrap
from typing import Dict, List, Optional, Set

import pytest

from perfscan.passes.cpu.patterns.astkit import (
    decorator_names,
    list_bound_names,
    loop_around,
    loop_position,
    module_aliases,
    module_constants,
    over_items,
    resolve,
    root_name,
    walk_with_loops,
)


def _tree(source: str) -> ast.Module:
    return ast.parse(textwrap.dedent(source))


def _func(source: str) -> ast.FunctionDef:
    node = _tree(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def _expr(source: str) -> ast.AST:
    return ast.parse(source, mode="eval").body


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "root"),
    [("a", "a"), ("a.b.c", "a"), ("a[1].b", "a"), ("a.b[k]", "a"), ("f().x", None), ("'s'.join", None)],
)
def test_root_name(expr: str, root: Optional[str]) -> None:
    assert root_name(_expr(expr)) == root


def test_resolve_follows_every_kind_of_import() -> None:
    aliases = module_aliases(_tree("import copy as c\nfrom json import dumps as d\nfrom re import compile\n"))
    assert resolve(_expr("c.deepcopy"), aliases) == "copy.deepcopy"
    assert resolve(_expr("d"), aliases) == "json.dumps"
    assert resolve(_expr("compile"), aliases) == "re.compile"
    assert resolve(_expr("local.method"), aliases) == "local.method"  # not imported: as written
    assert resolve(_expr("f()"), aliases) is None  # a call's result has no name


# --- small constant collections ------------------------------------------------------------------


def test_module_constants_are_small_displays_bound_once() -> None:
    found = module_constants(
        _tree("""
        FIELDS = ("name", "email")
        KINDS = frozenset({"a", "b", "c"})
        ORDER = frozenset(["x"])
        PAIR: tuple = (1, 2)
        SIXTEEN = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        """)
    )
    assert found == {"FIELDS": 2, "KINDS": 3, "ORDER": 1, "PAIR": 2, "SIXTEEN": 16}


@pytest.mark.parametrize(
    "source",
    [
        "BIG = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)",  # past the small bound
        "NAMES = ['a', 'b']",  # a list can change
        "MORE = (*BASE, 'c')",  # its size is not in the source
        "SEEN = frozenset(load())",
        "SEEN = frozenset(('a',), extra=1)",
        "SEEN = set(('a', 'b'))",
        "TWICE = ('a',)\nTWICE = ('a', 'b')",  # bound twice: which one a loop sees is unknown
        "GROWN = ('a',)\nGROWN += ('b',)",
        "GROWN: tuple = ('a',)\nGROWN += ('b',)",
        "A = B = ('a',)",
        "NOTHING: tuple",
    ],
)
def test_module_constants_leave_out_what_may_not_be_small_or_fixed(source: str) -> None:
    assert module_constants(_tree(source)) == {}


# --- loops ----------------------------------------------------------------------------------------


def test_loop_position_names_the_loop_as_the_probe_counts_it() -> None:
    func = _func("""
    def f(xs, q):
        for x in xs:
            pass
        while q:
            q.pop()
        return [y for y in xs if y]
    """)
    for_loop, while_loop = func.body[0], func.body[1]
    assert loop_position(for_loop) == (3, 8)
    assert loop_position(while_loop) == (5, 10)
    comp = func.body[2].value  # type: ignore[attr-defined]
    assert loop_position(comp, comp.generators[0]) == (7, 18)


def _frames_at(func: ast.AST, line: int) -> List[Set[str]]:
    """Per-iteration names of each loop around the statement on `line`, outermost first."""
    for site in walk_with_loops(func):
        if isinstance(site.node, ast.stmt) and site.node.lineno == line:
            return [lp.targets | lp.per_iteration for lp in site.loops]
    raise AssertionError(f"no statement on line {line}")


def test_names_assigned_from_the_item_are_per_iteration() -> None:
    func = _func("""
    def f(xs, acc, total):
        for x in xs:
            y = g(x)
            z = h(y)
            w: int = z
            with open(x) as fh:
                data = fh.read()
            for part in split(y):
                pass
            acc = sorted(acc)
            total += x
            k = 0
            marker = None
        return acc
    """)
    (names,) = _frames_at(func, 13)
    assert {"x", "y", "z", "w", "fh", "data", "part"} <= names
    assert not names & {"acc", "total", "k", "marker", "xs"}


def test_per_iteration_names_reach_a_fixpoint_whatever_the_order() -> None:
    # `b` reads `a` before `a` is assigned in source order: a second sweep marks it
    func = _func("""
    def f(xs, flag, a):
        for x in xs:
            if flag:
                b = g(a)
            a = h(x)
            use(b)
    """)
    (names,) = _frames_at(func, 7)
    assert {"a", "b"} <= names


def test_a_while_loop_item_comes_from_a_call_in_its_body() -> None:
    func = _func("""
    def f(queue, levels):
        while queue:
            item = queue.pop()
            child = item.child
            levels = sorted(levels)
            n = 1
    """)
    (names,) = _frames_at(func, 7)
    assert {"item", "child"} <= names
    assert "levels" not in names and "n" not in names


def test_walk_skips_nested_defs_and_leaves_else_outside_the_loop() -> None:
    func = _func("""
    def f(xs):
        for x in xs:
            def inner():
                return x
            class C:
                pass
        else:
            done = True
        return [x * 2 for x in xs if x]
    """)
    lines = {getattr(s.node, "lineno", None) for s in walk_with_loops(func)}
    assert 5 not in lines and 7 not in lines  # inside the nested def and class
    assert _frames_at(func, 9) == []  # the else runs once, after the loop
    comp_sites = [s for s in walk_with_loops(func) if isinstance(s.node, ast.BinOp)]
    assert [len(s.loops) for s in comp_sites] == [1]  # the element is inside the comprehension's loop
    ifs = [s for s in walk_with_loops(func) if isinstance(s.node, ast.Name) and s.node.id == "x" and s.loops]
    assert ifs, "a comprehension's condition runs per item"
    iters = [s for s in walk_with_loops(func) if isinstance(s.node, ast.Name) and s.node.id == "xs"]
    assert all(not s.loops for s in iters)  # what a loop iterates over is evaluated once


def test_dict_comprehension_key_and_value_are_in_its_loop() -> None:
    func = _func("""
    def f(xs):
        return {k(x): v(x) for x in xs}
    """)
    calls = [s for s in walk_with_loops(func) if isinstance(s.node, ast.Call)]
    assert sorted(s.node.func.id for s in calls if s.loops) == ["k", "v"]  # type: ignore[attr-defined]


def test_loop_around_finds_the_innermost_loop() -> None:
    func = _func("""
    def f(rows, cols):
        for r in rows:
            for c in cols:
                use(r, c)
            after(r)
        done()
    """)
    inner = loop_around(func, 5)
    assert inner is not None and inner.targets == {"c"}
    outer = loop_around(func, 6)
    assert outer is not None and outer.targets == {"r"}
    assert loop_around(func, 7) is None
    call = func.body[0].body[1].value  # type: ignore[attr-defined]
    around = loop_around(func, 0, call)
    assert around is not None and around.targets == {"r"}
    assert loop_around(func, 5, func.body[1]) is None  # a given node outside any loop


def test_loop_around_a_line_with_a_comprehension_is_the_comprehension() -> None:
    func = _func("""
    def f(rows):
        for r in rows:
            total = sum(v for v in r)
        return total
    """)
    around = loop_around(func, 4)
    assert around is not None and around.targets == {"v"}
    one_line = _func("def f(rows):\n    for r in rows: t = [v for v in r]\n")
    around = loop_around(one_line, 2)
    assert around is not None and around.targets == {"v"}  # both loops on the line: the inner one


@pytest.mark.parametrize(
    ("body", "independent"),
    [
        ("for x in xs:\n        send(x)", True),
        ("for x in xs:\n        if send(x):\n            break", False),  # a search stops early
        ("for x in xs:\n        if send(x):\n            return x", False),
        ("for _ in range(3):\n        send(1)", False),  # a repetition, not items
        ("for x in xs:\n        send(1)", False),
        ("for x in xs:\n        cb = lambda: x\n        send(x)", True),
        ("for x in xs:\n        def h():\n            return x\n        send(x)", True),  # the return is h's
        ("while xs:\n        send(xs.pop())", False),
        ("return [send(x) for x in xs]", True),
        ("return [1 for x in xs if x]", True),
        ("return [1 for x in xs]", False),
        ("return {x: 1 for x in xs}", True),
    ],
)
def test_over_items(body: str, independent: bool) -> None:
    func = _func(f"def f(xs):\n    {body}\n")
    loops = [s.loops[-1] for s in walk_with_loops(func) if s.loops]
    assert loops, body
    assert over_items(loops[0]) is independent


# --- names that hold lists --------------------------------------------------------------------------


def test_list_bound_names_every_way_a_list_is_made() -> None:
    func = _func("""
    def f(a: list, b: List[int], c: Tuple[int, ...], d: tuple, e: dict, g, *, h: list):
        x1 = []
        x2 = list(g)
        x3 = tuple(g)
        x4 = [i for i in g]
        x5: List[int] = load()
        x6: list = load()
        x7: int = 0
        x8 = set(g)
        x9 = {i for i in g}
        x10: Optional[int] = []
        x11: Dict[str, int] = {}
        self.items = []
        other.items = []
        return x1
    """)
    found = list_bound_names(func)
    assert {"a", "b", "c", "d", "h", "x1", "x2", "x3", "x4", "x5", "x6", "x10"} <= found
    assert "self.items" in found  # an attribute of self bound to a list, as in a method
    assert not found & {"e", "g", "x7", "x8", "x9", "x11", "other.items"}


def test_list_bound_names_reads_the_class_attributes() -> None:
    cls = _tree("""
    class Store:
        def __init__(self):
            self.items = []
            self.count = 0
            self.names = list()
        def reset(self):
            scratch = []
            return scratch
        def has(self, x):
            return x in self.items
    """).body[0]
    assert isinstance(cls, ast.ClassDef)
    method = cls.body[2]
    found = list_bound_names(method, cls)
    assert {"self.items", "self.names"} <= found
    assert "self.count" not in found
    assert "scratch" not in found  # another method's local is not this method's name


@pytest.mark.parametrize(
    "change", ["names.append(x)", "names.extend([x])", "names.insert(0, x)", "names.__iadd__([x])", "names += [x]"]
)
def test_a_constant_list_that_grows_is_a_list(change: str) -> None:
    func = _func(f"def f(x):\n    names = ['a', 'b']\n    {change}\n    return x in names\n")
    assert "names" in list_bound_names(func)


@pytest.mark.parametrize("change", ["names.count(x)", "other.append(x)", "names.index(x)"])
def test_a_constant_list_that_never_grows_is_a_fixed_table(change: str) -> None:
    func = _func(f"def f(x, other):\n    names = ['a', 'b']\n    {change}\n    return x in names\n")
    assert "names" not in list_bound_names(func)


def test_a_list_of_computed_items_is_a_list_even_unchanged() -> None:
    func = _func("def f(x, y):\n    names = [x, y]\n    empty = []\n    return x in names\n")
    assert {"names", "empty"} <= list_bound_names(func)


# --- decorators ---------------------------------------------------------------------------------------


def test_decorator_names_full_and_short() -> None:
    tree = _tree("""
    import functools
    from functools import cache as memo
    @functools.lru_cache(maxsize=None)
    @memo
    @app.route("/x")
    @pkg.hooks.traced
    def f():
        pass
    """)
    aliases: Dict[str, str] = module_aliases(tree)
    func = tree.body[2]
    assert decorator_names(func, aliases) == {
        "functools.lru_cache",
        "lru_cache",
        "functools.cache",
        "cache",
        "app.route",
        "route",
        "pkg.hooks.traced",
        "traced",
    }
    assert decorator_names(tree, aliases) == set()  # a module has no decorators
