"""How a scan spends its runs of the tests (docs/design.md "One run, two jobs", "Side by side"):
the timing run of the whole suite is also the CPU pass's sampled run, and the passes whose runs
tolerate a neighbour run side by side where a core is free. Real projects, scanned for real."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace

import pytest
from conftest import SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan.passes.cpu import SAME_RUN_NOTE
from perfscan.passes.registry import PASSES
from perfscan.scan import BESIDE_NOTE
from perfscan.schedule import stages, usable_cores
from perfscan.workers import merge_counts

PYPROJECT = "[project]\nname = '{name}'\nversion = '1'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n"

DEDUPE = (
    SLOW_UNIQUE + "\n\n"
    "def label(x):\n"
    "    return 'item-%d' % x\n\n\n"
    "def labels(xs):\n"
    "    return [label(x) for x in xs]\n"
)

# slow_unique runs 3 times per test, label 100 times per test: 7 tests
TESTS = (
    "import pytest\n\n"
    "from dedupe.core import labels, slow_unique\n\n\n"
    "@pytest.mark.parametrize('n', range(7))\n"
    "def test_dedupe(n):\n"
    "    data = [i % 900 for i in range(6000 + n)]\n"
    "    for _ in range(3):\n"
    "        assert len(slow_unique(data)) == 900\n"
    "    assert len(labels(range(100))) == 100\n"
)


def project(tmp_path):
    return write_project(
        tmp_path / "dedupe",
        {
            "pyproject.toml": PYPROJECT.format(name="dedupe"),
            "dedupe/__init__.py": "",
            "dedupe/core.py": DEDUPE,
            "tests/test_core.py": TESTS,
        },
    )


def scan(root, *args):
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    return load_report(root), proc.stderr


def cpu_finding(report, symbol):
    found = [f for f in report["findings"] if f["domain"] == "cpu" and f["symbol"] == symbol]
    assert found, [(f["domain"], f["symbol"]) for f in report["findings"]]
    return found[0]


@pytest.mark.slow
def test_the_timing_run_is_the_cpu_run_with_exact_counts_and_the_right_top_finding(tmp_path):
    root = project(tmp_path)
    report, _ = scan(root, "--passes", "cpu")
    cpu = report["passes"]["cpu"]
    assert cpu["status"] == "ok", cpu
    assert any(n.startswith(SAME_RUN_NOTE) for n in cpu["notes"]), cpu["notes"]
    top = [f for f in report["findings"] if f["domain"] == "cpu"][0]
    assert top["symbol"] == "slow_unique"
    # exact counts of the one run that was both: 7 tests x 3 calls, 7 x 100
    assert cpu_finding(report, "slow_unique")["details"]["calls"] == 21
    counted = {row["function"]: row["calls"] for row in cpu["data"]["top"]}
    assert counted.get("dedupe.core:label") == 700, counted


@pytest.mark.slow
def test_a_scan_with_every_pass_side_by_side_finishes_every_pass_and_reports_them_in_order(tmp_path):
    root = project(tmp_path)
    report, stderr = scan(root)
    assert list(report["passes"]) == [p.domain for p in PASSES]
    assert {d: p["status"] for d, p in report["passes"].items()} == {p.domain: "ok" for p in PASSES}
    assert cpu_finding(report, "slow_unique")["details"]["calls"] == 21
    assert [f for f in report["findings"] if f["domain"] == "cpu"][0]["symbol"] == "slow_unique"
    # import timing alone and first, before the timing run; the memory pass beside the timing run
    assert stderr.index("import pass: ok") < stderr.index("collecting and timing the tests")
    two = usable_cores() > 1  # on one core the memory pass waits for its turn
    assert ("memory pass: started beside the timing run, on the whole suite" in stderr) == two
    assert (report["passes"]["memory"]["notes"][0] == BESIDE_NOTE) == two
    assert len(report["passes"]["memory"]["data"]["peak_mib_by_test"]) == 7  # it measured every test


def names(stages_):
    return [[[p.domain for p in chain] for chain in stage] for stage in stages_]


def test_passes_that_tolerate_a_neighbour_share_a_stage_while_cores_allow():
    by_name = {p.domain: p for p in PASSES}
    # import timing alone and first; the async pass after the CPU pass, whose results it reads,
    # while the memory pass runs beside them
    assert names(stages(PASSES, 2)) == [[["import"]], [["cpu", "async"], ["memory"]]]
    assert names(stages(PASSES, 1)) == [[["import"]], [["cpu"]], [["memory"]], [["async"]]]
    # never more chains side by side than cores
    every = [replace(p, quiet=False, reads=(), side_by_side=True) for p in PASSES]
    assert names(stages(every, 2)) == [[["cpu"], ["memory"]], [["import"], ["async"]]]
    # a pass that is not side by side ends a stage
    lone = replace(by_name["async"], side_by_side=False)
    assert names(stages([by_name["cpu"], lone, by_name["memory"]], 8)) == [[["cpu"]], [["async"]], [["memory"]]]


WAITS = (
    "import time\n\n\n"
    "def fetch(n):\n"
    "    time.sleep(0.6)  # the upstream service's round trip\n"
    "    return list(range(n))\n\n\n"
    "def total(xs):\n"
    "    return sum(xs)\n"
)

WAIT_TESTS = (
    "import pytest\n\n"
    "from upstream.core import fetch, total\n\n\n"
    "@pytest.mark.parametrize('n', range(30))\n"
    "def test_fetch(n):\n"
    "    assert total(fetch(10 + n)) >= 0\n"
)


def across_workers(test):
    """A scan across pytest-xdist workers: slow, and only with two cores and pytest-xdist here."""
    test = pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist here")(test)
    test = pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")(test)
    return pytest.mark.slow(test)


def upstream(tmp_path, core: str, tests: str):
    """A package whose tests wait on an upstream service: 30 of them, 18 s in all."""
    files = {"upstream/__init__.py": "", "upstream/core.py": core, "tests/test_core.py": tests}
    return write_project(tmp_path / "upstream", dict(files, **{"pyproject.toml": PYPROJECT.format(name="upstream")}))


@across_workers
def test_a_suite_too_slow_for_one_core_is_profiled_whole_across_xdist_workers(tmp_path):
    root = upstream(tmp_path, WAITS, WAIT_TESTS)
    # 18 s of tests; the timing slice is a fifth of the budget, 10 s: one core cannot, two can
    # (the run across workers may use both timing slices)
    report, _ = scan(root, "--passes", "cpu", "--budget", "50")
    target = report["target"]
    assert target["mode"] == "all", target["note"]
    assert "pytest-xdist workers" in target["note"]
    assert any(c.startswith("pytest-xdist: ran with -n ") for c in target["changed"]), target["changed"]
    cpu = report["passes"]["cpu"]
    assert cpu["status"] == "ok", cpu
    assert any(n.startswith(SAME_RUN_NOTE) for n in cpu["notes"]), cpu["notes"]
    top = [f for f in report["findings"] if f["domain"] == "cpu"][0]
    assert top["symbol"] == "fetch"
    # every worker's counts, merged: one call per test
    assert top["details"]["calls"] == 30
    # the sleep is nearly all of every test's time, whichever worker ran it
    assert top["metric"]["value"] >= 80, top["metric"]


INDEX = WAITS + "\n\ndef build_index(n):\n    return {i: 'row-%d' % i for i in range(n)}\n"

INDEX_TESTS = WAIT_TESTS.replace("import fetch, total", "import build_index, fetch, total") + (
    "\n\ndef test_zz_index():\n    assert len(build_index(200_000)) == 200_000\n"
)


@across_workers
def test_the_memory_pass_of_a_suite_profiled_across_xdist_workers_runs_across_them_too(tmp_path):
    root = upstream(tmp_path, INDEX, INDEX_TESTS)
    # 18 s of tests, a 14 s timing slice: the target is the whole suite across two workers, and
    # in one process the memory pass would not get through it in its share
    report, _ = scan(root, "--passes", "memory", "--budget", "70")
    assert report["target"]["mode"] == "all" and "pytest-xdist workers" in report["target"]["note"]
    memory = report["passes"]["memory"]
    assert memory["status"] == "ok", memory
    assert any(n.startswith("measured across 2 pytest-xdist workers") for n in memory["notes"]), memory["notes"]
    # every test's phases, whichever worker ran it
    assert len(memory["data"]["peak_mib_by_test"]) == 31
    [found] = [f for f in report["findings"] if f["domain"] == "memory"]
    assert (found["symbol"], found["pattern"]) == ("build_index", "large-allocation")


def test_workers_counts_merge_by_function_whatever_order_each_worker_compiled_them():
    a = {
        "functions": [["pkg/a.py", 1, "f", 0], ["pkg/a.py", 9, "g", 0]],
        "phases": {"call": [[0, 3, 0], [1, 5, 1]]},
        "cost_ns": {"count": 40.0},
        "sites": {"sites": [["pkg/a.py", 3, "sleep"]], "phases": {"call": [[0, 2]]}},
        "loops": [["pkg/a.py", 4, 8, 100]],
    }
    b = {
        "functions": [["pkg/a.py", 9, "g", 0], ["pkg/b.py", 2, "h", 0]],
        "phases": {"call": [[0, 7, 0], [1, 1, 0]], "setup": [[1, 2, 0]]},
        "cost_ns": {"count": 30.0},
        "sites": {"sites": [["pkg/b.py", 5, "get"], ["pkg/a.py", 3, "sleep"]], "phases": {"call": [[1, 4]]}},
        "loops": [["pkg/a.py", 4, 8, 50]],
    }
    merged = merge_counts([a, b])
    assert merged is not None
    names = [f[2] for f in merged["functions"]]
    calls = {names[i]: (n, rec) for i, n, rec in merged["phases"]["call"]}
    assert calls == {"f": (3, 0), "g": (12, 1), "h": (1, 0)}
    assert [(names[i], n) for i, n, _ in merged["phases"]["setup"]] == [("h", 2)]
    assert merged["cost_ns"] == {"count": 30.0}
    sites = merged["sites"]
    assert {tuple(sites["sites"][i]): n for i, n in sites["phases"]["call"]} == {("pkg/a.py", 3, "sleep"): 6}
    assert sorted(loop[3] for loop in merged["loops"]) == [50, 100]
    # a worker that counted nothing: its tests would be missing, so no merged counts
    assert merge_counts([a, None]) is None
