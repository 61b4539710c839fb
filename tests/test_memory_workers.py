"""The memory pass's measured run across pytest-xdist workers, merged (passes/memory/workers.py).
The end-to-end scan across real workers is in test_scan_runs.py."""

from __future__ import annotations

import json
from pathlib import Path

from perfscan.children import ChildResult
from perfscan.passes.memory.records import MemoryRun
from perfscan.passes.memory.workers import merge_workers, read_measured
from perfscan.probe.contract import SCHEMA_VERSION
from perfscan.probe_host import ProbeRun


def merge_read(raws) -> MemoryRun:
    """The workers' memory.json files, read and merged (collection order: none here)."""
    return merge_workers([MemoryRun.from_json(raw) for raw in raws], {})


def phase(test: str, peak: int) -> dict:
    return {"test": test, "phase": "call", "start": 0, "peak": peak, "end": 0, "lines": []}


def worker(tests, growth=(), imported=(), repeat=None, loop=1.0) -> dict:
    return {
        "python": "3.11.7",
        "mode": "measure",
        "phases": [phase(t, p) for t, p in tests],
        "import": list(imported),
        "growth": list(growth),
        "repeat": repeat or {"done": 2, "failures": 0, "seconds": 0.5, "tests": 1},
        "overhead": {"loop_seconds": loop},
        "errors": [],
    }


def grows(sizes, entries) -> dict:
    return {"module": "shop.cache", "name": "SEEN", "file": "shop/cache.py", "sizes": sizes, "entries": entries}


def test_every_workers_phases_and_the_census_once():
    value = {"module": "shop.data", "name": "TABLE", "file": "shop/data.py", "bytes": 3 << 20}
    a = worker([("t::a", 1 << 20), ("t::c", 5 << 20)], imported=[value], loop=2.0)
    b = worker([("t::b", 2 << 20)], imported=[value], loop=3.0)
    run = merge_read([a, b])
    assert [p.test for p in run.phases] == ["t::a", "t::c", "t::b"]
    assert len(run.import_values) == 1  # the same modules in every worker: not counted twice
    assert run.overhead["loop_seconds"] == 3.0 and run.overhead["workers"] == 2
    assert run.dropped == 0


def test_a_value_growing_in_two_workers_grows_by_what_both_added():
    # each worker's repetitions ran its own share of the tests that add to SEEN
    a = worker([("t::a", 1)], growth=[grows([1000, 1600, 2200], [10, 16, 22])])
    b = worker([("t::b", 1)], growth=[grows([1200, 1500, 1800], [12, 15, 18])])
    [merged] = merge_read([a, b]).growth
    # from the larger start, both workers' growth per repetition added: 600 + 300 bytes, 6 + 3 entries
    assert merged.sizes == (1200, 2100, 3000)
    assert merged.entries == (12, 21, 30)


def test_repetitions_count_as_far_as_every_worker_got():
    a = worker([("t::a", 1)], repeat={"done": 2, "failures": 1, "seconds": 0.4, "tests": 2})
    b = worker([("t::b", 1)], repeat={"done": 1, "failures": 0, "seconds": 0.9, "tests": 1})
    repeat = merge_read([a, b]).repeat
    assert (repeat.done, repeat.failures, repeat.seconds, repeat.tests) == (1, 1, 0.9, 3)


def test_a_worker_whose_tests_changed_no_container_repeats_nothing_and_counts_for_nothing():
    skipped = {"done": 0, "failures": 0, "seconds": 0.0, "tests": 0, "skipped": "no test changed a container"}
    a = worker([("t::a", 1)], repeat=skipped)
    b = worker([("t::b", 1)], growth=[grows([1000, 1600, 2200], [10, 16, 22])])
    repeat = merge_read([a, b]).repeat
    assert (repeat.done, repeat.skipped, repeat.tests) == (2, "", 1)
    both = merge_read([a, worker([("t::b", 1)], repeat=skipped)]).repeat
    assert both.done == 0 and both.skipped == "no test changed a container"


def test_the_merged_growth_is_most_first():
    small = dict(grows([1000, 1100, 1200], [1, 2, 3]), name="SMALL")
    a = worker([("t::a", 1)], growth=[small])
    b = worker([("t::b", 1)], growth=[grows([1000, 5000, 9000], [1, 5, 9])])
    assert [g.name for g in merge_read([a, b]).growth] == ["SEEN", "SMALL"]


def test_the_merged_phases_are_in_collection_order_as_one_process_runs_them(tmp_path: Path):
    # the catching and deep runs take their tests in this order: a module's tests stay together
    def put(folder: Path, name: str, data: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(dict(data, schema_version=SCHEMA_VERSION)), encoding="utf-8")

    put(tmp_path, "collected.json", {"nodeids": ["a.py::t1", "a.py::t2", "b.py::t1", "b.py::t2"]})
    put(tmp_path / "workers" / "gw0", "memory.json", worker([("a.py::t1", 1), ("b.py::t1", 1)]))
    put(tmp_path / "workers" / "gw1", "memory.json", worker([("a.py::t2", 1), ("b.py::t2", 1)]))
    child = ChildResult((), 0, False, 1.0, tmp_path / "child.stdout", tmp_path / "child.stderr")
    run, notes = read_measured(ProbeRun(child, tmp_path), 2)
    assert run is not None and notes[0].startswith("measured across 2 pytest-xdist workers")
    assert [p.test for p in run.phases] == ["a.py::t1", "a.py::t2", "b.py::t1", "b.py::t2"]
