"""Memory by holder (passes/memory/holders.py): objects one project function allocated and a
container built in another keeps alive are that container's finding, the allocator in its evidence.

- Unit, on hand-made peak lines over a real source tree: the link through a call, an import, a
  comprehension and `.append`; only the allocator's escaping lines move; no move without a
  container, with two candidate holders, or with a container too small to hold them.
- End to end: a planted `list(numbers(n))` scanned by the memory pass for real.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.locate import Locator  # noqa: E402
from perfscan.passes.memory import MIB, group_phase_lines, merge_peaks  # noqa: E402
from perfscan.passes.memory.holders import credit_holders  # noqa: E402
from perfscan.passes.memory.records import LineRow, Phase  # noqa: E402

GEN = textwrap.dedent("""\
    _CACHE = {}


    def numbers(n):
        for i in range(n):
            yield i * 3 + 1000


    def record(i):
        name = "r%d" % i
        tags, labels = ["a"], ["b"]
        _CACHE[i] = [0] * 100
        return {"id": i, "name": name, "tags": tags}


    def evens(n):
        for i in range(n):
            yield i * 2 + 1000
    """)
LOAD = textwrap.dedent("""\
    from .gen import numbers, record


    def load(n):
        data = list(numbers(n))
        return data


    def records(ids):
        return [record(i) for i in ids]


    def appended(ids):
        out = []
        for i in ids:
            out.append(record(i))
        return out


    def total(n):
        return sum(numbers(n))


    def twice(n):
        a = list(numbers(n))
        b = tuple(numbers(n))
        return a, b


    def count(iterable):
        items = list(iterable)
        return len(items)
    """)


@pytest.fixture
def tree(tmp_path):
    root = write_project(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/gen.py": GEN, "pkg/load.py": LOAD})
    return root, Locator(root, [root], ())


def rows(root: Path, lines):
    return [LineRow(str(root / "pkg" / f), line, b, c) for f, line, b, c in lines]


def groups_of(root, locator, lines):
    return credit_holders(group_phase_lines(rows(root, lines), locator))


def test_a_generators_objects_are_held_by_the_list_built_from_it(tree):
    root, locator = tree
    out = groups_of(root, locator, [("gen.py", 6, 50 * MIB, 1_800_000), ("load.py", 5, 14 * MIB, 3)])
    assert ("pkg/gen.py", "numbers") not in out  # nothing of numbers' is left: it all escaped to the list
    load = out[("pkg/load.py", "load")]
    assert load.bytes == 64 * MIB and load.biggest_line == 5 and load.count == 1_800_003
    (held,) = load.held
    assert (held.qualname, held.rel, held.line, held.holder_line) == ("pkg.gen:numbers", "pkg/gen.py", 6, 5)
    assert held.bytes == 50 * MIB and held.source == "yield i * 3 + 1000"


def test_a_comprehension_and_append_hold_what_a_function_returns_but_not_what_it_keeps(tree):
    root, locator = tree
    for holder, line in (("records", 10), ("appended", 16)):
        made = [("gen.py", 10, 2 * MIB, 20_000), ("gen.py", 11, 3 * MIB, 40_000)]
        made += [("gen.py", 12, 80 * MIB, 20_000), ("gen.py", 13, 9 * MIB, 20_000)]
        out = groups_of(root, locator, made + [("load.py", line, 1 * MIB, 4)])
        held = out[("pkg/load.py", holder)]
        assert held.bytes == (1 + 2 + 3 + 9) * MIB, holder  # the name, the tag lists, the returned dict
        # what record keeps in its own cache stays its own
        assert out[("pkg/gen.py", "record")].bytes == 80 * MIB and set(out[("pkg/gen.py", "record")].lines) == {12}


def test_a_list_of_a_passed_iterable_holds_the_one_generator_alive(tree):
    root, locator = tree
    out = groups_of(root, locator, [("gen.py", 6, 50 * MIB, 1_800_000), ("load.py", 31, 14 * MIB, 3)])
    assert ("pkg/gen.py", "numbers") not in out
    (held,) = out[("pkg/load.py", "count")].held
    assert (held.qualname, held.line, held.holder_line) == ("pkg.gen:numbers", 6, 31)


def test_a_passed_iterable_with_no_generator_or_what_a_function_returns_is_not_credited(tree):
    root, locator = tree
    # record() returns its objects but is no generator: a passed iterable cannot be told to hold them
    out = groups_of(root, locator, [("gen.py", 13, 9 * MIB, 20_000), ("load.py", 31, 1 * MIB, 4)])
    assert out[("pkg/gen.py", "record")].bytes == 9 * MIB and not out[("pkg/load.py", "count")].held


def test_a_passed_iterable_with_two_generators_alive_is_not_credited(tree):
    root, locator = tree
    made = [("gen.py", 6, 50 * MIB, 1_800_000), ("gen.py", 18, 20 * MIB, 700_000)]
    out = groups_of(root, locator, made + [("load.py", 31, 14 * MIB, 3)])
    assert out[("pkg/gen.py", "numbers")].bytes == 50 * MIB and out[("pkg/gen.py", "evens")].bytes == 20 * MIB
    assert not out[("pkg/load.py", "count")].held


def test_no_container_no_holder(tree):
    root, locator = tree
    out = groups_of(root, locator, [("gen.py", 6, 5 * MIB, 150_000), ("load.py", 21, 1000, 1)])
    assert out[("pkg/gen.py", "numbers")].bytes == 5 * MIB and not out[("pkg/load.py", "total")].held


def test_two_candidate_holders_leave_the_allocator_where_it_is(tree):
    root, locator = tree
    out = groups_of(
        root, locator, [("gen.py", 6, 50 * MIB, 1_800_000), ("load.py", 25, 14 * MIB, 3), ("load.py", 26, 14 * MIB, 3)]
    )
    assert out[("pkg/gen.py", "numbers")].bytes == 50 * MIB and not out[("pkg/load.py", "twice")].held


def test_a_container_too_small_to_hold_them_is_not_their_holder(tree):
    root, locator = tree
    out = groups_of(root, locator, [("gen.py", 6, 50 * MIB, 1_800_000), ("load.py", 5, 4096, 1)])
    assert out[("pkg/gen.py", "numbers")].bytes == 50 * MIB and not out[("pkg/load.py", "load")].held


def test_holders_are_credited_within_one_peak(tree):
    root, locator = tree
    gen, load = str(root / "pkg" / "gen.py"), str(root / "pkg" / "load.py")
    phases = [
        # the allocator's objects at one test's peak, the list at another's: no link
        {"test": "t::a", "phase": "call", "peak": 60 * MIB, "snapshot": 60 * MIB, "lines": [[gen, 6, 50 * MIB, 9]]},
        {"test": "t::b", "phase": "call", "peak": 20 * MIB, "snapshot": 20 * MIB, "lines": [[load, 5, 14 * MIB, 3]]},
    ]
    best = merge_peaks([Phase.from_json(p) for p in phases], locator)
    assert best[("pkg/gen.py", "numbers")].bytes == 50 * MIB and best[("pkg/load.py", "load")].bytes == 14 * MIB


PLANTED = {
    "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1"\n',
    "pkg/__init__.py": "",
    "pkg/gen.py": "def numbers(n):\n    for i in range(n):\n        yield i * 3 + 1000\n",
    "pkg/load.py": textwrap.dedent("""\
        from .gen import numbers


        def load(n):
            data = list(numbers(n))
            return sum(data) + len(data)


        def streamed(n):
            return sum(numbers(n))
        """),
    "tests/test_load.py": textwrap.dedent("""\
        from pkg.load import load, streamed


        def test_load():
            assert load(1_800_000) > 0


        def test_streamed():
            assert streamed(1_800_000) > 0
        """),
}


@pytest.mark.slow
def test_the_list_holding_a_generators_ints_is_the_finding(tmp_path):
    from test_memory_pass import by_symbol, run_pass

    root = write_project(tmp_path / "proj", PLANTED)
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "load")
    assert f.line == 5 and f.metric.value >= 40, f  # ~50 MiB of ints and the list's own ~14 MiB
    assert "allocated in pkg.gen:numbers (pkg/gen.py:3: `yield i * 3 + 1000`)" in f.evidence
    assert f.details["allocated_in"][0]["qualname"] == "pkg.gen:numbers"
    assert not by_symbol(result, "numbers")  # its objects are the list's, not a finding of their own
    assert not by_symbol(result, "streamed")  # streamed: nothing held
    assert result.findings[0].symbol == "load"
