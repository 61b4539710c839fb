"""What the CPU pass measures by line and by loop, and what the patterns do with it.

- The probe's loop counters (plain run only): exact iterations of every loop of a def that holds
  a nested loop, named by the loop's target position as the host names it; code runs as written.
- The sampler files a loop's back edge (a bytecode with no line of its own) under the loop's
  header, so a tight loop's time lands inside the loop's lines.
- aggregate(): attributable time by line, project callees' time by calling line, and each
  function's time by the call site that reached it.
- hoisting: a loop-invariant call's callee time moves to the caller, which carries the
  `loop-invariant-call` finding; not for an impure callee, a callee called once per call, or
  arguments the loop changes.
"""

from __future__ import annotations

import ast
import builtins
import dis
import sys
import textwrap

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.passes.cpu.findings import findings_of  # noqa: E402
from perfscan.passes.cpu.hoisting import hoist_invariant_calls  # noqa: E402
from perfscan.passes.cpu.patterns import astkit  # noqa: E402
from perfscan.passes.cpu.profile import build_profile  # noqa: E402
from perfscan.passes.cpu.records import CpuRun, Frame, Stack  # noqa: E402
from perfscan.passes.cpu.samples import aggregate  # noqa: E402
from perfscan.probe import calls as probe_calls  # noqa: E402
from perfscan.probe import loops as probe_loops  # noqa: E402
from perfscan.probe import sampler as probe_sampler  # noqa: E402

# -- probe: loop counters ------------------------------------------------------------------------

LOOPS = """\
def pairs(xs, ys):
    n = 0
    for x in xs:
        for y in ys:
            if x == y:
                n += 1
    return n


def arcs(tokens, table):
    n = 0
    i = 0
    while i < len(tokens):
        for a in table[tokens[i] % 2]:
            n += a
        i += 1
    return n


def matrix(xs):
    return [[x * y for y in xs if y % 2] for x in xs]


def flat(xs):
    return [x for x in xs]
"""


@pytest.fixture
def loop_counter(tmp_path):
    names = (probe_calls.CALLS, probe_calls.REC, probe_calls.DEPTH, probe_loops.LOOPS, probe_loops.TICKS)
    saved = {n: getattr(builtins, n, None) for n in names}
    c = probe_calls.CallCounter(str(tmp_path), loops=True)
    for name, value in (
        (probe_calls.CALLS, c.calls[""]),
        (probe_calls.REC, c.nonprimitive[""]),
        (probe_calls.DEPTH, c.depth),
    ):
        setattr(builtins, name, value)
    c.loops.install()
    yield c
    for n, v in saved.items():
        if v is None:
            if hasattr(builtins, n):
                delattr(builtins, n)
        else:
            setattr(builtins, n, v)


def test_loop_counters_count_every_loop_of_a_nested_def_exactly(loop_counter, tmp_path):
    path = str(tmp_path / "m.py")
    counted, plain = {}, {}
    exec(loop_counter.compile(LOOPS.encode(), path), counted)
    exec(compile(LOOPS, path, "exec"), plain)
    args = {"pairs": (list(range(7)), list(range(5))), "arcs": ([1, 2, 3, 4], [[1, 2, 3], [4]]), "matrix": (range(6),)}
    for name, a in args.items():
        assert counted[name](*a) == plain[name](*a), name  # runs as written
    assert counted["flat"]([1, 2]) == [1, 2]
    found = {(line, col): n for _f, line, col, n in loop_counter.export()["loops"]}
    tree = ast.parse(LOOPS)
    expected = {}
    for fn, sizes in (("pairs", [7, 35]), ("arcs", [4, 8]), ("matrix", [6, 36])):
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn)
        loops = [
            astkit.loop_position(n) if not isinstance(n, ast.ListComp) else astkit.loop_position(n, n.generators[0])
            for n in ast.walk(node)
            if isinstance(n, (ast.For, ast.While, ast.ListComp))
        ]
        expected.update(zip(loops, sizes))
    assert found == expected  # the host's positions name the probe's counts; flat() has no nesting: not counted


def test_loop_counters_are_off_unless_asked(tmp_path):
    c = probe_calls.CallCounter(str(tmp_path))
    ns = {}
    saved = getattr(builtins, probe_calls.CALLS, None)
    setattr(builtins, probe_calls.CALLS, c.calls[""])
    try:
        exec(c.compile(LOOPS.encode(), str(tmp_path / "m.py")), ns)
        assert ns["pairs"]([1, 2], [2, 3]) == 1
    finally:
        if saved is None:
            delattr(builtins, probe_calls.CALLS)
        else:
            setattr(builtins, probe_calls.CALLS, saved)
    assert c.export()["loops"] == [] and c.loops is None


@pytest.mark.skipif(sys.version_info < (3, 10), reason="every bytecode has a line before 3.10")
def test_the_sampler_files_a_back_edge_under_its_loops_header():
    ns = {}
    exec(compile(LOOPS, "m.py", "exec"), ns)
    code = ns["pairs"].__code__
    table = probe_sampler._unnumbered_lines(code)
    lines = {off: line for start, end, line in code.co_lines() for off in range(start, end, 2)}
    back_edges = [
        ins
        for ins in dis.get_instructions(code)
        if "JUMP" in ins.opname and isinstance(ins.argval, int) and ins.argval < ins.offset
    ]
    unnumbered = [ins for ins in back_edges if lines.get(ins.offset) is None]
    for ins in unnumbered:
        assert table[ins.offset] == lines[ins.argval] and table[ins.offset] in (3, 4)  # the loop it jumps to


# -- aggregate(): time by line ---------------------------------------------------------------------

OWNERS = {0: None, 1: ("A", False), 2: ("B", False), 3: ("A", True), 4: None}
FRAMES = [
    Frame("/venv/pytest/python.py", 10, "runtest"),
    Frame("/p/a.py", 1, "a"),
    Frame("/p/b.py", 1, "b"),
    Frame("/p/a.py", 3, "<genexpr>"),
    Frame("/usr/lib/python3/json/__init__.py", 183, "dumps"),
]


def test_aggregate_keeps_attributable_time_by_line_and_call_site():
    stacks = [
        Stack("call", 0, ((0, 5), (1, 4)), 1.0),  # a, own time at line 4
        Stack("call", 0, ((0, 5), (1, 6), (4, 190)), 2.0),  # a calls json.dumps at line 6: still a's
        Stack("call", 0, ((0, 5), (1, 7), (2, 3)), 3.0),  # a calls b at line 7: b's time
        Stack("call", 0, ((0, 5), (1, 8), (3, 8), (2, 9)), 0.5),  # b from a's genexpr at line 8
    ]
    out = aggregate(stacks, OWNERS.get, FRAMES, label=lambda k: f"mod:{k}", name=lambda k: k.lower())
    a, b = out["A"], out["B"]
    assert dict(a.line_seconds) == {4: 1.0, 6: 2.0}  # the callee b's time is not a's
    assert dict(a.callee_lines) == {(7, "b"): 3.0, (8, "b"): 0.5}
    assert dict(b.line_seconds) == {3: 3.0, 9: 0.5}
    assert {site: dict(p) for site, p in b.via.items()} == {("mod:A", 7): {"call": 3.0}, ("mod:A", 8): {"call": 0.5}}


# -- hoisting a loop-invariant call's time to its caller -----------------------------------------

CALENDAR = textwrap.dedent("""\
    def opening_days(year, region):
        days = set()
        for d in range(1, 366):
            if (d + year) % 7 not in (0, 6):
                days.add(d)
        return days


    def mark_open(items, year, region):
        for item in items:
            item["open"] = item["day"] in opening_days(year, region)
        return items


    def per_region(items, year):
        for item in items:
            item["open"] = item["day"] in opening_days(year, item["region"])
        return items


    def stamp(items, log):
        for item in items:
            item["n"] = ticket(log)
        return items


    def ticket(log):
        log.append(len(log))
        return log[-1]
    """)


def calendar_json(root, calls):
    f = str(root / "pkg" / "cal.py")
    frames = [
        ["/venv/_pytest/python.py", 1, "pytest_pyfunc_call"],
        [f, 9, "mark_open"],
        [f, 1, "opening_days"],
        [f, 15, "per_region"],
        [f, 21, "stamp"],
        [f, 27, "ticket"],
    ]
    stacks = [
        ["call", 0, [[0, 2], [1, 11], [2, 4]], 4.0, 400],  # opening_days, from mark_open's line 11
        ["call", 0, [[0, 2], [1, 10]], 0.2, 20],  # mark_open's own loop
        ["call", 0, [[0, 2], [3, 17], [2, 4]], 2.0, 200],  # opening_days from per_region: a new region each time
        ["call", 0, [[0, 2], [4, 23], [5, 28]], 1.5, 150],  # ticket from stamp: changes its argument
    ]
    table = [[f, 9, "mark_open", False], [f, 1, "opening_days", False], [f, 15, "per_region", False]]
    table += [[f, 21, "stamp", False], [f, 27, "ticket", False]]
    return {
        "engine": "sample",
        "python": "3.11.7",
        "phases": {"setup": {"wall": 0.0}, "call": {"wall": 8.0}, "teardown": {"wall": 0.0}},
        "samples": {"timer": "ITIMER_PROF", "interval": 0.001, "tests": ["t::one"], "frames": frames, "stacks": stacks},
        "calls": {"functions": table, "phases": {"call": [[i, n, 0] for i, n in enumerate(calls)]}},
    }


@pytest.fixture
def calendar_tree(tmp_path):
    return write_project(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/cal.py": CALENDAR})


def _profile(root, calls):
    prof = build_profile(CpuRun.from_json(calendar_json(root, calls)), root, [root])
    return prof, {fp.qualname: fp for fp in prof.functions.values()}


def test_a_loop_invariant_calls_time_moves_to_the_caller(calendar_tree):
    prof, fns = _profile(calendar_tree, [1, 3001, 1, 1, 500])
    assert fns["mark_open"].attributable() == pytest.approx(0.2)
    hoist_invariant_calls(prof.functions)
    assert fns["mark_open"].attributable() == pytest.approx(4.2)
    assert fns["opening_days"].attributable() == pytest.approx(2.0)  # what per_region's calls cost stays
    assert fns["per_region"].attributable() == 0.0
    assert fns["ticket"].attributable() == pytest.approx(1.5)  # impure: stamp's call is no repeated answer
    found = {f.symbol: f for f in findings_of(prof)}
    assert found["mark_open"].pattern == "loop-invariant-call" and found["mark_open"].line == 11
    assert "`opening_days(...)` is called with the same arguments on every iteration" in found["mark_open"].evidence
    assert found["mark_open"].metric.value == pytest.approx(52.5)  # 4.2 of 8 s
    assert found["opening_days"].pattern == "none"
    assert "reached from pkg.cal:mark_open line 11, a loop-invariant call" in found["opening_days"].evidence
    assert found["ticket"].pattern == "none" and "stamp" not in found


def test_a_callee_called_once_per_call_is_not_hoisted(calendar_tree):
    prof, fns = _profile(calendar_tree, [3000, 3001, 1, 1, 500])
    hoist_invariant_calls(prof.functions)
    assert fns["mark_open"].attributable() == pytest.approx(0.2)
    assert fns["opening_days"].attributable() == pytest.approx(6.0)


# -- end to end: a small project's own suite, scanned for real ---------------------------------

APP = {
    "pyproject.toml": '[project]\nname = "app"\nversion = "0.1"\n\n[tool.setuptools]\npackages = ["app"]\n',
    "app/__init__.py": "",
    # an inner comprehension over one or two arrays per row: 2 iterations per row, no nested loop
    "app/stats.py": textwrap.dedent("""\
        def column_means(rows, arrays):
            out = []
            for row in rows:
                out.append([sum(a[i] for i in row) / len(row) for a in arrays])
            return out
        """),
    # a parser's inner loop over the few arcs of the current state: does not grow with the tokens
    "app/grammar.py": textwrap.dedent("""\
        ARCS = {0: [(1, 1), (2, 2)], 1: [(1, 0), (2, 2), (3, 0)], 2: [(0, 0)]}


        def parse(tokens):
            state = 0
            taken = 0
            for tok in tokens:
                for label, nxt in ARCS[state]:
                    if label == tok % 4:
                        state = nxt
                        taken += 1
                        break
                else:
                    state = 0
            return taken
        """),
    # the time is in linear comprehensions; the inner loop walks a module-level tuple of two names
    "app/report.py": textwrap.dedent("""\
        FIELDS = ("name", "email")


        def render(records):
            names = [r["name"].strip().title() for r in records]
            emails = [r["email"].lower().replace(" ", "") for r in records]
            keys = [n + ":" + e for n, e in zip(names, emails)]
            checks = 0
            for rec in records:
                for field in FIELDS:
                    checks += len(rec[field])
            return keys, checks
        """),
    # the real thing: every customer scanned for every order
    "app/orders.py": textwrap.dedent("""\
        def attach_customers(orders, customers):
            for order in orders:
                for c in customers:
                    if c["id"] == order["customer"]:
                        order["c"] = c
            return orders
        """),
    # every pair is an element of the result: the output's size, not a search
    "app/dense.py": textwrap.dedent("""\
        import math


        def distance_matrix(points):
            return [[math.dist(p, q) for q in points] for p in points]
        """),
    "app/calendar.py": textwrap.dedent("""\
        def opening_days(year, region):
            days = set()
            for d in range(1, 366):
                if (d + year + len(region)) % 7 not in (0, 6):
                    days.add(d)
            return days


        def mark_open(items, year, region):
            for item in items:
                item["open"] = item["day"] in opening_days(year, region)
            return items
        """),
    "tests/test_app.py": textwrap.dedent("""\
        from app.calendar import mark_open
        from app.dense import distance_matrix
        from app.grammar import parse
        from app.orders import attach_customers
        from app.report import render
        from app.stats import column_means


        def test_stats():
            arrays = [list(range(3000)), list(range(3000, 6000))]
            rows = [list(range(i % 2900, i % 2900 + 60)) for i in range(8000)]
            assert len(column_means(rows, arrays)) == 8000


        def test_parse():
            assert parse(list(range(1_500_000))) > 0


        def test_render():
            recs = [{"name": " ann %d " % i, "email": "A %d@x" % i} for i in range(120_000)]
            keys, checks = render(recs)
            assert len(keys) == 120_000


        def test_orders():
            customers = [{"id": i} for i in range(1500)]
            orders = [{"customer": i % 1500} for i in range(1500)]
            assert attach_customers(orders, customers)[0]["c"]["id"] == 0


        def test_distances():
            points = [(i % 37, i // 37) for i in range(700)]
            assert len(distance_matrix(points)) == 700


        def test_calendar():
            items = [{"day": d % 365} for d in range(3000)]
            assert sum(i["open"] for i in mark_open(items, 2024, "eu")) > 0
        """),
}


@pytest.mark.slow
def test_patterns_are_backed_at_their_line_on_a_real_suite(tmp_path):
    from conftest import assert_unchanged, load_report, run_perfscan, tree_state

    root = write_project(tmp_path / "app", APP)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--passes", "cpu", "--runner", sys.executable, "--cpu-engine", "sample")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_unchanged(before, root)
    found = {f["symbol"]: f for f in load_report(root)["findings"]}
    for name in ("column_means", "parse", "render", "distance_matrix"):
        assert name in found and found[name]["pattern"] != "nested-loop", (name, found.get(name))
    assert found["attach_customers"]["pattern"] == "nested-loop"
    mark_open = found["mark_open"]
    assert mark_open["pattern"] == "loop-invariant-call" and mark_open["line"] == 11
    assert "opening_days(...)" in mark_open["evidence"]
    # the callee's time moved to the caller sits at the call's line: its hottest line
    hottest = mark_open["details"]["hot_lines"][0]
    assert hottest["line"] == 11 and hottest["seconds"] >= 0.8 * mark_open["details"]["attributable_seconds"]
    # the callee's time from that call site is the caller's now: it ranks above its callee, if that is left at all
    callee = found.get("opening_days")
    assert callee is None or callee["rank"] > mark_open["rank"]
