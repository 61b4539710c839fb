"""CPU patterns (docs/design.md "The passes" CPU, and "Vocabulary"): each pattern on the positive and
negative cases of tests/fixtures/cpu_patterns_cases.py, then the choice rule `choose()`."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from perfscan.passes.cpu import patterns
from perfscan.passes.cpu.patterns import astkit, n_plus_one_query, nested_loop, sort_in_loop
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, QuerySite, WaitSite
from perfscan.passes.cpu.patterns.loop_invariant_call import is_pure
from perfscan.passes.cpu.waitfacts import statement_loop, wait_sites

FIXTURE = Path(__file__).parent / "fixtures" / "cpu_patterns_cases.py"
SOURCE = FIXTURE.read_text(encoding="utf-8")
LINES = SOURCE.splitlines()
TREE = ast.parse(SOURCE)
ALIASES = astkit.module_aliases(TREE)
CONSTANTS = astkit.module_constants(TREE)

MODULES = {m.__name__.rsplit(".", 1)[-1]: m for m in patterns.REGISTRY}
# a project function is one defined at the fixture's top level
PROJECT_FUNCTIONS = {n.name for n in TREE.body if isinstance(n, ast.FunctionDef)}
PURE = {n.name: is_pure(n, ALIASES) for n in TREE.body if isinstance(n, ast.FunctionDef)}
CALLS = re.compile(r"#\s*calls:\s*(\d+)/(\d+)")
STATEMENTS = re.compile(r"#\s*statements:\s*(\d+)")


def _cases() -> Dict[str, Tuple[ast.AST, Optional[ast.ClassDef]]]:
    out = {}
    for node in TREE.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = (node, None)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out[item.name] = (item, node)
    return out


CASES = _cases()


def _pattern_of(name: str) -> str:
    """`pos_sort_in_loop_2` -> `sort_in_loop` (the longest module name that prefixes the rest)."""
    rest = name.split("_", 1)[1]
    found = [m for m in MODULES if rest.startswith(m + "_")]
    assert found, f"{name}: no pattern module named in it"
    return max(found, key=len)


def _names(prefix: str) -> List[str]:
    return sorted(n for n in CASES if n.startswith(prefix + "_"))


def facts_for(name: str) -> FunctionFacts:
    node, class_node = CASES[name]
    calls = CALLS.search(LINES[node.lineno - 1])
    total, primitive = (int(calls.group(1)), int(calls.group(2))) if calls else (1, 1)
    lines = range(node.lineno, node.end_lineno + 1)
    waits = {i: 1.0 for i in lines if "# waits" in LINES[i - 1]}
    return FunctionFacts(
        node=node,
        class_node=class_node,
        aliases=ALIASES,
        own_seconds=1.0,
        attributable_seconds=1.0,
        calls_total=total,
        calls_primitive=primitive,
        callee_seconds=lambda test: 1.0,
        project_callee_seconds=lambda fn: 1.0 if fn in PROJECT_FUNCTIONS else 0.0,
        wait_sites=wait_sites(node, ALIASES, waits, {}, {}, {}, 1),
        queries=tuple(_queries(node, lines)),
        wall_seconds=1.0 + len(waits),
        module_constants=CONSTANTS,
        callee_is_pure=lambda fn: PURE.get(fn, False),
    )


def _queries(node: ast.AST, lines: range) -> List[QuerySite]:
    """`# statements: N` lines: N statements of the line's string's shape, in the function's own loop
    (as the CPU pass finds it: the loop around the statement call, none for a batch call)."""
    out = []
    for i in lines:
        found = STATEMENTS.search(LINES[i - 1])
        if found is None:
            continue
        text = re.search(r'"([^"]*)"', LINES[i - 1])
        loop, _batch = statement_loop(node, i)
        where = ("cases.py", getattr(loop.node, "lineno", 0), "") if loop is not None else None
        out.append(QuerySite(i, text.group(1) if text else "SELECT ... FROM price", int(found.group(1)), 1.0, where))
    return out


def marked_line(name: str) -> int:
    node, _ = CASES[name]
    marked = [i for i in range(node.lineno, node.end_lineno + 1) if LINES[i - 1].rstrip().endswith("# here")]
    assert len(marked) == 1, f"{name}: mark exactly one line with `# here`"
    return marked[0]


def test_every_pattern_has_positive_and_negative_cases():
    assert set(MODULES) == {
        "quadratic_membership",
        "nested_loop",
        "pop_front",
        "sort_in_loop",
        "deepcopy",
        "repeated_computation",
        "loop_invariant_call",
        "string_concat",
        "serialize_in_loop",
        "regex_in_loop",
        "sleep_in_code",
        "lock_contention",
        "io_in_loop",
        "n_plus_one_query",
    }
    for mod in MODULES:
        assert [n for n in _names("pos") if _pattern_of(n) == mod], f"no positive case for {mod}"
        assert [n for n in _names("neg") if _pattern_of(n) == mod], f"no negative case for {mod}"
    assert len(_names("clean")) >= 5


KNOWN_BUGS: dict = {}  # case name -> reason, for a bug found and not yet fixed (strict xfail)


def _params(names):
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_BUGS[n], strict=True)) if n in KNOWN_BUGS else n
        for n in names
    ]


@pytest.mark.parametrize("name", _params(_names("pos")))
def test_positive_case_matches_on_the_offending_line(name):
    module = MODULES[_pattern_of(name)]
    found = module.match(facts_for(name))
    assert isinstance(found, Match), f"{module.ID} missed {name}"
    assert found.pattern == module.ID
    line = marked_line(name)
    assert found.line == line, (
        f"points at {found.line}: {LINES[found.line - 1].strip()!r}, expected {LINES[line - 1].strip()!r}"
    )
    assert found.backing > 0
    assert found.evidence


@pytest.mark.parametrize("name", _params(_names("neg")))
def test_negative_case_does_not_match(name):
    module = MODULES[_pattern_of(name)]
    assert module.match(facts_for(name)) is None


@pytest.mark.parametrize("pattern", sorted(MODULES))
@pytest.mark.parametrize("name", _names("clean"))
def test_clean_code_matches_no_pattern(name, pattern):
    assert MODULES[pattern].match(facts_for(name)) is None


# --- choose(): the best-backed pattern, or none ---------------------------------------------


def _facts_from_source(
    src: str,
    *,
    callees: Dict[Tuple[str, str], float] = None,
    own=0.0,
    attributable=1.0,
    calls_total=1,
    calls_primitive=1,
    name: Optional[str] = None,
    **more,
) -> FunctionFacts:
    """Facts for the (named, else the first) function in src; callee_seconds sums the seconds of
    the sample profiled callees (file, name) that the pattern's test accepts, as cProfile's caller
    data would. `more`: the other FunctionFacts fields (line_seconds, loop_trips, ...)."""
    tree = ast.parse(textwrap.dedent(src))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and name in (None, n.name))
    samples = callees or {}
    more.setdefault("module_constants", astkit.module_constants(tree))
    return FunctionFacts(
        node=node,
        class_node=None,
        aliases=astkit.module_aliases(tree),
        own_seconds=own,
        attributable_seconds=attributable,
        calls_total=calls_total,
        calls_primitive=calls_primitive,
        callee_seconds=lambda test: sum(s for (f, n), s in samples.items() if test(f, n)),
        **more,
    )


DEEPCOPY_AND_SORT = """
import copy

def normalize(records):
    levels = []
    for record in records:
        levels.append(copy.deepcopy(record))
        levels = sorted(levels, key=id)
    return levels
"""
DEEPCOPY = ("/usr/lib/python3.11/copy.py", "deepcopy")
SORTED = ("~", "<built-in method builtins.sorted>")


def test_choose_best_backed_call_pattern_wins_deepcopy():
    facts = _facts_from_source(DEEPCOPY_AND_SORT, callees={DEEPCOPY: 0.9, SORTED: 0.01}, own=0.05)
    assert {m.pattern for m in patterns.all_matches(facts)} >= {"deepcopy", "sort-in-loop"}
    chosen = patterns.choose(facts)
    assert chosen is not None and chosen.pattern == "deepcopy"
    assert chosen.backing == pytest.approx(0.9)


def test_choose_best_backed_call_pattern_wins_sort():
    facts = _facts_from_source(DEEPCOPY_AND_SORT, callees={DEEPCOPY: 0.01, SORTED: 0.9}, own=0.05)
    chosen = patterns.choose(facts)
    assert chosen is not None and chosen.pattern == "sort-in-loop"
    assert chosen.backing == pytest.approx(0.9)


def test_choose_is_none_when_no_backing_above_a_tenth_of_attributable():
    facts = _facts_from_source(DEEPCOPY_AND_SORT, callees={DEEPCOPY: 0.05, SORTED: 0.02}, own=0.01, attributable=1.0)
    assert patterns.all_matches(facts)  # the shapes are there ...
    assert patterns.choose(facts) is None  # ... but the time is not


def test_choose_tenth_of_attributable_is_the_boundary():
    at = _facts_from_source(DEEPCOPY_AND_SORT, callees={DEEPCOPY: 0.1}, attributable=1.0)
    above = _facts_from_source(DEEPCOPY_AND_SORT, callees={DEEPCOPY: 0.11}, attributable=1.0)
    assert patterns.choose(at) is None  # "above a tenth"
    assert patterns.choose(above).pattern == "deepcopy"


LIST_ORDERS = """
import json

def list_orders(orders):
    body = "["
    for i, order in enumerate(orders):
        item = json.dumps(order, indent=2, sort_keys=True)
        body = body + ("," if i else "") + item
    return body + "]"
"""
JSON_DUMPS = ("/usr/lib/python3.11/json/__init__.py", "dumps")


def test_choose_weighs_structural_pattern_by_own_time_against_call_pattern():
    concat = _facts_from_source(LIST_ORDERS, callees={JSON_DUMPS: 0.2}, own=0.6)
    serialize = _facts_from_source(LIST_ORDERS, callees={JSON_DUMPS: 0.6}, own=0.2)
    assert patterns.choose(concat).pattern == "string-concat-in-loop"
    assert patterns.choose(serialize).pattern == "serialize-in-loop"


COUNT_PATHS = """
def count_paths(rows, cols):
    if rows == 0 or cols == 0:
        return 1
    return count_paths(rows - 1, cols) + count_paths(rows, cols - 1)
"""


def test_choose_recursion_with_far_more_total_than_primitive_calls_is_repeated_computation():
    facts = _facts_from_source(COUNT_PATHS, attributable=2.0, own=2.0, calls_total=1_400_000, calls_primitive=1)
    chosen = patterns.choose(facts)
    assert chosen is not None and chosen.pattern == "repeated-computation"
    assert chosen.line == 2  # the def line


def test_choose_recursion_with_few_calls_is_none():
    facts = _facts_from_source(COUNT_PATHS, attributable=2.0, own=2.0, calls_total=5000, calls_primitive=1)
    assert patterns.choose(facts) is None


# --- backed at their line (sampling engine: time by source line) ---------------------------

RENDER = """
FIELDS = ("name", "email")

def render(records, groups):
    names = [r["name"].strip().title() for r in records]
    emails = [r["email"].lower() for r in records]
    hits = 0
    for rec in records:
        for g in groups:
            hits += g == rec["group"]
    return names, emails, hits
"""


def test_nested_loop_is_backed_by_the_time_at_the_inner_loops_lines():
    # 90% of the time in the two linear comprehensions: the nested loop is there, its time is not
    linear = _facts_from_source(RENDER, attributable=1.0, line_seconds={5: 0.5, 6: 0.4, 8: 0.05, 9: 0.03, 10: 0.02})
    assert nested_loop.match(linear).backing == pytest.approx(0.05)  # lines 9-10
    assert patterns.choose(linear) is None
    inner = _facts_from_source(RENDER, attributable=1.0, line_seconds={5: 0.1, 9: 0.3, 10: 0.6})
    chosen = patterns.choose(inner)
    assert chosen.pattern == "nested-loop" and chosen.line == 9 and chosen.backing == pytest.approx(0.9)


def test_without_time_by_line_the_structural_backing_is_the_functions_own_time():
    facts = _facts_from_source(RENDER, own=0.7, attributable=1.0)  # cProfile: no lines
    assert nested_loop.match(facts).backing == pytest.approx(0.7)


CONSTANT_INNER = """
FIELDS = ("name", "email")
KINDS = frozenset({"a", "b"})
BIG = tuple(range(100))
LATER = ("x",)
LATER = LATER + ("y",)

def by_tuple(records):
    return [[r[f] for f in FIELDS] for r in records]

def by_frozenset(records):
    return [[r.get(k) for k in KINDS if k in r] for r in records]

def by_changing(records):
    return [[r.get(k) for k in LATER if k in r] for r in records]
"""


def test_an_inner_loop_over_a_small_module_level_tuple_or_frozenset_is_no_nested_loop():
    assert astkit.module_constants(ast.parse(CONSTANT_INNER)) == {"FIELDS": 2, "KINDS": 2}
    for name in ("by_tuple", "by_frozenset"):
        assert nested_loop.match(_facts_from_source(CONSTANT_INNER, name=name, own=1.0)) is None, name
    # a name bound twice at module level is no constant table: still a candidate
    assert nested_loop.match(_facts_from_source(CONSTANT_INNER, name="by_changing", own=1.0)) is not None


PARSE = """
def parse(tokens, arcs):
    state = 0
    for tok in tokens:
        for label, nxt in arcs[state]:
            if label == tok:
                state = nxt
                break
    return state
"""
OUTER, INNER = (4, 8), (5, 12)  # the loops' targets: where the probe counts their iterations


@pytest.mark.parametrize(
    "trips,calls,nested",
    [
        ({OUTER: 100_000, INNER: 150_000}, 1, False),  # 1.5 arcs per token: a small fixed fan-out
        ({OUTER: 100_000, INNER: 1_000_000}, 1, False),  # 10 per token, 100,000 tokens: does not grow with them
        ({OUTER: 1_000, INNER: 500_000}, 1, True),  # 500 per outer iteration over 1,000: grows together
        ({OUTER: 20_000, INNER: 4_000_000}, 100, True),  # 200 x 200 per call, called 100 times
        ({OUTER: 1_000}, 1, False),  # the inner loop never ran
        (None, 1, True),  # not counted (cProfile, or a run without the plain counts): no verdict from counts
    ],
)
def test_nested_loop_needs_an_inner_loop_that_grows_with_the_outer_one(trips, calls, nested):
    # arcs[state] reads `state`, which the loop assigns: the static rule alone cannot tell
    facts = _facts_from_source(PARSE, own=1.0, attributable=1.0, loop_trips=trips, calls_total=calls)
    found = nested_loop.match(facts)
    assert (found is not None) == nested
    # the counts that decided it are in the evidence
    decided_by_counts = found is not None and bool(trips)
    assert not decided_by_counts or f"{trips[INNER] // trips[OUTER]:,} inner iterations per outer one" in found.evidence


def test_loop_positions_are_where_the_probes_counters_name_them():
    tree = ast.parse(textwrap.dedent(PARSE))
    loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
    assert [astkit.loop_position(n) for n in loops] == [OUTER, INNER]
    comp = ast.parse("[[p for p in ps] for q in qs]").body[0].value
    assert astkit.loop_position(comp, comp.generators[0]) == (1, 21)


DEDUPE = """
def dedupe(words, extra):
    seen = []
    for w in words:
        if w not in seen:
            seen.append(w)
    return sorted(seen + extra)
"""


def test_a_membership_test_is_backed_by_its_loops_lines():
    # the interpreter sees the `in` scan at the loop's back edge (filed under line 4) or at the
    # next call (line 6), never at line 5 itself: the loop's lines back the test
    at_loop = _facts_from_source(DEDUPE, attributable=1.0, line_seconds={4: 0.6, 6: 0.2, 7: 0.2})
    chosen = patterns.choose(at_loop)
    assert chosen.pattern == "quadratic-membership" and chosen.line == 5 and chosen.backing == pytest.approx(0.8)
    # time after the loop (the final sort) does not back it
    after = _facts_from_source(DEDUPE, attributable=1.0, line_seconds={4: 0.05, 7: 0.95})
    assert patterns.choose(after) is None


SORT_ONCE = """
def ranks(rows, keys):
    ordered = sorted(rows)
    out = []
    for k in keys:
        out = sorted(out + [k])
    return ordered, out
"""
SORTED = ("~", "<built-in method builtins.sorted>")


def test_a_call_pattern_is_backed_by_its_callees_time_at_the_calls_line():
    # 0.9 s of sorted() in all, 0.85 of it in the one sort before the loop
    facts = _facts_from_source(SORT_ONCE, callees={SORTED: 0.9}, attributable=1.0, line_seconds={3: 0.85, 6: 0.05})
    assert sort_in_loop.match(facts).backing == pytest.approx(0.05)
    assert patterns.choose(facts) is None
    in_loop = _facts_from_source(SORT_ONCE, callees={SORTED: 0.9}, attributable=1.0, line_seconds={3: 0.1, 6: 0.8})
    assert patterns.choose(in_loop).pattern == "sort-in-loop"


MARK_OPEN = """
def opening_days(year, region):
    return {d for d in range(365) if (d + year) % 7}

def mark_open(items, year, region):
    for item in items:
        item["open"] = item["day"] in opening_days(year, region)
    return [opening_days(year, item["region"]) for item in items]
"""


def test_loop_invariant_call_is_backed_by_the_callees_time_from_its_call_site():
    def facts(callee_lines):
        return _facts_from_source(
            MARK_OPEN, name="mark_open", attributable=1.0, callee_lines=callee_lines, callee_is_pure=lambda n: True
        )

    hot = patterns.choose(facts({(7, "opening_days"): 0.9, (8, "opening_days"): 0.05}))
    assert hot.pattern == "loop-invariant-call" and hot.line == 7 and hot.backing == pytest.approx(0.9)
    assert "opening_days" in hot.evidence
    # the time comes from the call whose argument changes per item (line 8): nothing to hoist
    assert patterns.choose(facts({(7, "opening_days"): 0.02, (8, "opening_days"): 0.9})) is None


@pytest.mark.parametrize(
    "body,pure",
    [
        ("return {d for d in range(365) if (d + year) % 7}", True),
        ("days.append(year)\n    return days", False),  # changes its argument
        ("yield year", False),  # a generator: each call makes a fresh one
        ("global CACHE\n    CACHE = year\n    return CACHE", False),
        ("return random.random() + year", False),
        ("return time.time() - year", False),
    ],
)
def test_is_pure(body, pure):
    src = f"import random\nimport time\n\ndef f(year, days):\n    {body}\n"
    tree = ast.parse(src)
    assert is_pure(tree.body[-1], astkit.module_aliases(tree)) == pure


# --- what the report says: each positive case's evidence, word for word ------------------------------

EVIDENCE = Path(__file__).parent / "data" / "pattern_evidence.golden.json"


def test_evidence_of_every_positive_case_as_reviewed():
    # the evidence is the report's explanation of a label; after adding a case or changing a wording,
    # regenerate with PERFSCAN_UPDATE_GOLDEN=1 and read the diff
    import json
    import os

    got = {}
    for name in _names("pos"):
        if name in KNOWN_BUGS:
            continue
        found = MODULES[_pattern_of(name)].match(facts_for(name))
        # the line as "<here>" (checked above), any other line counted from the case's def: a case
        # added higher up the fixture moves no golden line
        first = CASES[name][0].lineno
        text = found.evidence.replace(f"line {found.line}", "line <here>")
        got[name] = [
            found.pattern,
            re.sub(r"line (\d+)", lambda m, first=first: f"line <def+{int(m.group(1)) - first}>", text),
        ]
    if os.environ.get("PERFSCAN_UPDATE_GOLDEN") == "1":
        EVIDENCE.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert got == json.loads(EVIDENCE.read_text(encoding="utf-8"))


def test_callee_tests_match_exactly_what_they_name():
    from perfscan.passes.cpu.patterns.base import builtin, either, python_function

    pop = builtin("'pop' of 'list'")
    assert pop("~", "<method 'pop' of 'list' objects>")
    assert not pop("/lib/x.py", "<method 'pop' of 'list' objects>")  # a Python function of that name is not it
    assert not pop("~", "<method 'pop' of 'dict' objects>")
    dumps = python_function(("/json/__init__.py",), ("dumps",))
    assert dumps("/usr/lib/python3.11/json/__init__.py", "dumps")
    assert dumps("C:\\Python311\\Lib\\json\\__init__.py", "dumps")  # Windows paths too
    assert not dumps("/usr/lib/python3.11/json/__init__.py", "loads")
    assert not dumps("/app/my_json.py", "dumps")
    both = either(pop, dumps)
    assert both("~", "<method 'pop' of 'list' objects>") and both("/x/json/__init__.py", "dumps")
    assert both("/x/json/__init__.py", "dumps") is True and both("~", "sorted") is False


JOINED = """
def price_list_joined(request):
    rows = [{'name': i.name, 'price': i.price.amount} for i in Item.objects.select_related('price')]
    return rows
"""


def test_waiting_at_a_line_whose_statements_were_counted_is_judged_by_the_count():
    # a thread preempted on a loaded machine reads as waiting; the ORM's `__iter__` names no call
    # on the line, so the site has no node and the comprehension on the line looks like its loop
    site = WaitSite(3, None, "django.db.models.query.__iter__", "django.db.models.query.__iter__", "query", 0.01)
    one = QuerySite(3, 'SELECT ... FROM "shop_item" INNER JOIN "shop_price" ...', 1, 0.01, None)
    counted = _facts_from_source(JOINED, wait_sites=(site,), queries=(one,))
    assert n_plus_one_query.match(counted) is None
    # a driver the probe does not count: the waiting in the loop is all there is to go by
    uncounted = _facts_from_source(JOINED, wait_sites=(site,))
    assert n_plus_one_query.match(uncounted).line == 3
