"""The CPU pass's typed records: cpu.json read once (malformed input never raises), sampled runs
pooled by combine(), and the report section read back from its JSON."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import replace

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from perfscan.passes.cpu.flame import FlameNode  # noqa: E402
from perfscan.passes.cpu.profile import build_profile  # noqa: E402
from perfscan.passes.cpu.records import CpuRun, Frame, combine, with_counts  # noqa: E402
from perfscan.passes.cpu.section import CpuSection  # noqa: E402

SOURCE = textwrap.dedent("""\
    def bfs(graph, queue):
        order = []
        while queue:
            v = queue.pop(0)
            order.append(v)
        return order


    def dedupe(words):
        seen = []
        for w in words:
            if w not in seen:
                seen.append(w)
        return seen
    """)


@pytest.fixture
def tree(tmp_path):
    return write_project(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/algo.py": SOURCE})


def sampled(root, frames, stacks, tests, wall=1.0, errors=()):
    f = str(root / "pkg" / "algo.py")
    table = {
        "bfs": [f, 1, "bfs"],
        "dedupe": [f, 9, "dedupe"],
        "pytest": ["/venv/_pytest/python.py", 1, "pytest_pyfunc_call"],
    }
    return {
        "engine": "sample",
        "python": "3.11.7",
        "threads": "all",
        "phases": {"setup": {"wall": 0.0, "cpu": 0.0, "stats": []}, "call": {"wall": wall, "cpu": wall, "stats": []}},
        "samples": {
            "timer": "ITIMER_PROF",
            "interval": 0.001,
            "mean_interval": 0.004,
            "clock": "runnable",
            "samples": 10,
            "sampled_seconds": wall,
            "handler_seconds": 0.01,
            "tests": list(tests),
            "frames": [table[n] for n in frames],
            "stacks": stacks,
        },
        "calls": None,
        "errors": list(errors),
    }


MALFORMED = [
    None,
    [],
    "cpu",
    3,
    {},
    {"phases": "x"},
    {"phases": {"call": None}},
    {"phases": {"call": {"wall": "1", "stats": "x"}}},
    {"phases": {"call": {"wall": float("nan"), "stats": [["f.py", "one", "g", 1, 1, 0.1, 0.1]]}}},
    {"phases": {"call": {"wall": 1.0, "stats": [["f.py", 1, "g", 1, 1, 0.1, 0.1, [[5, 1, 1, 0.1, 0.1]]]]}}},
    {"samples": "x"},
    {"samples": {"frames": "x", "stacks": [1, [2]]}},
    {
        "samples": {
            "frames": [["f.py", 1, "g"]],
            "stacks": [
                ["call", 0, [[7, 1]], 1.0, 1],
                ["nophase", 0, [], 1, 1],
                ["call", "t", [[0, 1]], 1.0, 1],
                ["call", 0, [[0, None]], "s"],
            ],
        }
    },
    {
        "calls": {
            "functions": [None, ["f.py", 1]],
            "phases": {"call": [[9, 1, 0], "x", [0, "n", 0]], "bogus": [[0, 1, 0]]},
            "cost_ns": "x",
        }
    },
    {"engine": None, "threads": True, "errors": "boom", "engine_asked": 5},
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_cpu_json_reads_without_raising_and_profiles_empty(raw, tree):
    run = CpuRun.from_json(raw)
    assert isinstance(run.engine, str) and isinstance(run.errors, tuple)
    for phase in run.phases.values():
        for entry in phase.stats:
            assert all(0 <= c.index < len(phase.stats) for c in entry.callers)
    if run.samples is not None:
        assert all(0 <= fi < len(run.samples.frames) for s in run.samples.stacks for fi, _ in s.frames)
    profile = build_profile(run, tree, [tree])
    assert profile.total_wall >= 0 and not profile.functions


def test_a_stack_with_a_broken_step_is_left_out_and_the_rest_kept(tree):
    raw = sampled(
        tree,
        ["pytest", "bfs"],
        [["call", 0, [[0, 2], [1, 4]], 0.75, 3], ["call", 0, [[0, 2], [9, 4]], 5.0, 9]],
        ["t::a"],
    )
    run = CpuRun.from_json(raw)
    assert len(run.samples.stacks) == 1 and run.samples.stacks[0].seconds == 0.75
    bfs = next(iter(build_profile(run, tree, [tree]).functions.values()))
    assert bfs.qualname == "bfs" and bfs.attributable() == pytest.approx(0.75)


def test_combine_pools_two_sampled_runs(tree):
    a = CpuRun.from_json(
        sampled(
            tree,
            ["pytest", "bfs"],
            [["call", 0, [[0, 2], [1, 4]], 1.0, 10]],
            ["t::a"],
            wall=1.0,
            errors=["slow handler"],
        )
    )
    # the second run lists its frames and tests in another order, and adds a test and a function
    b = CpuRun.from_json(
        sampled(
            tree,
            ["dedupe", "pytest", "bfs"],
            [["call", 1, [[1, 2], [2, 4]], 2.0, 20], ["call", 0, [[1, 2], [0, 12]], 0.5, 5]],
            ["t::b", "t::a"],
            wall=3.0,
            errors=["slow handler", "late thread"],
        )
    )
    both = combine(a, b)
    assert both.runs == 2 and both.engine == "sample"
    assert both.phases["call"].wall == pytest.approx(4.0) and both.wall == pytest.approx(4.0)
    assert both.errors == ("slow handler", "late thread")
    s = both.samples
    assert s.tests == ("t::a", "t::b") and len(s.frames) == 3 and s.samples == 20
    assert s.sampled_seconds == pytest.approx(4.0) and s.handler_seconds == pytest.approx(0.02)
    named = [tuple((s.frames[fi].name, line) for fi, line in st.frames) + (s.tests[st.test],) for st in s.stacks]
    assert named == [
        (("pytest_pyfunc_call", 2), ("bfs", 4), "t::a"),
        (("pytest_pyfunc_call", 2), ("bfs", 4), "t::a"),
        (("pytest_pyfunc_call", 2), ("dedupe", 12), "t::b"),
    ]
    fns = {fp.qualname: fp for fp in build_profile(both, tree, [tree]).functions.values()}
    assert fns["bfs"].attributable() == pytest.approx(3.0) and dict(fns["bfs"].tests) == {"t::a": 3.0}
    assert dict(fns["dedupe"].tests) == {"t::b": 0.5}
    assert combine(both, a).runs == 3 and a.runs == 1  # records are values: pooling changes neither input


def test_counts_of_the_plain_run_are_exact_and_cost_nothing(tree):
    f = str(tree / "pkg" / "algo.py")
    run = CpuRun.from_json(sampled(tree, ["pytest", "bfs"], [["call", 0, [[0, 2], [1, 4]], 1.0, 10]], ["t::a"]))
    assert run.calls is None
    counted = with_counts(
        run, {"functions": [[f, 1, "bfs", False]], "phases": {"call": [[0, 7, 2]]}, "cost_ns": {"count": 1e6}}
    )
    assert counted.calls.cost_ns == {} and counted.calls.method.endswith("in the plain run")
    profile = build_profile(counted, tree, [tree])
    bfs = next(iter(profile.functions.values()))
    assert (bfs.calls_total, bfs.calls_primitive) == (7, 5) and profile.counting_seconds == 0.0
    assert "exact call counts" in profile.engine_detail


def test_frames_are_values():
    assert Frame("a.py", 1, "f") == Frame("a.py", 1, "f") and len({Frame("a.py", 1, "f"), Frame("a.py", 1, "f")}) == 1


SECTION = {
    "engine": "cProfile",
    "engine_id": "cprofile",
    "engine_asked": "cprofile",
    "wall_seconds": 2.0,
    "phase_seconds": {"setup": 0.5, "call": 1.5, "teardown": 0.0},
    "threads": 1,
    "counting_seconds": 0.0,
    "functions_seen": 1,
    "top": [
        {
            "function": "pkg.algo:bfs",
            "file": "pkg/algo.py",
            "line": 1,
            "attributable_pct": 50.0,
            "own_pct": 40.0,
            "cumulative_pct": 60.0,
            "calls": None,
            "primitive_calls": None,
            "wall_pct": 62.5,
            "wait_pct": 12.5,
        }
    ],
    "functions": {"pkg.algo:bfs": 1.0},
    "flame": {
        "n": "all profiled code",
        "q": "",
        "k": "root",
        "t": 1.0,
        "f": "",
        "c": [{"n": "bfs", "q": "pkg.algo:bfs", "k": "project", "t": 1.0, "f": "pkg/algo.py:1", "c": []}],
    },
    "waiting": "waiting sampled on the wall clock every 5 ms",
    "wait_seconds": 0.25,
    "harness_wait_seconds": 0.1,
    "waits": {"pkg.algo:bfs": 0.25},
    "wait_sites": [
        {
            "function": "pkg.algo:bfs",
            "file": "pkg/algo.py",
            "line": 4,
            "call": "sock.recv",
            "kind": "io",
            "seconds": 0.25,
            "pct": 12.5,
            "count": 40,
        }
    ],
    "flame_wall": {
        "n": "all profiled code",
        "q": "",
        "k": "root",
        "t": 1.25,
        "f": "",
        "c": [
            {
                "n": "bfs",
                "q": "pkg.algo:bfs",
                "k": "project",
                "t": 1.25,
                "f": "pkg/algo.py:1",
                "c": [{"n": "waiting", "q": "waiting", "k": "waiting", "t": 0.25, "f": "", "c": []}],
            }
        ],
    },
}


def test_section_json_round_trips_and_keeps_ran_out():
    section = CpuSection.from_json(SECTION)
    assert section.to_json() == SECTION and list(section.to_json()) == list(SECTION)
    handed = replace(section, ran=frozenset({"pkg.algo:bfs"}))
    assert handed.ran == {"pkg.algo:bfs"} and "ran" not in handed.to_json()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"top": "x", "functions": [1], "phase_seconds": None, "flame": []},
        {"top": [None, {"function": 3}], "wall_seconds": "2", "flame": {"t": "x"}},
        {"flame": {"n": "r", "t": 1, "k": "weird", "c": [None, {"t": None}, {"n": "ok", "t": 0.5}]}},
    ],
)
def test_a_malformed_section_reads_as_empty_parts(raw):
    section = CpuSection.from_json(raw)
    assert section.top == () and section.wall_seconds == 0.0
    section.to_json()  # always serialisable
    if section.flame is not None:
        assert section.flame.kind == "library" and [c.name for c in section.flame.children] == ["ok"]


def test_flame_nodes_deeper_than_the_chart_are_not_read():
    node = {"n": "x", "t": 1.0, "c": []}
    for _ in range(200):
        node = {"n": "x", "t": 1.0, "c": [node]}
    depth, n = 0, FlameNode.from_json(node)
    while n.children:
        depth, n = depth + 1, n.children[0]
    assert depth <= 41
