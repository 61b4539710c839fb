"""A short suite's pooled CPU runs come from one process whose test loop is forked after
collection (docs/design.md "The passes", CPU, pooled runs; probe/forkpool.py): each forked run
starts from the state after collection, as a fresh process would, and where a thread is alive
after collection nothing is forked and each run has a process of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Tuple

from conftest import assert_unchanged, load_report, probe_on, run_perfscan, tree_state, write_project

PROJECT = {
    "pyproject.toml": "[project]\nname = 'tally'\nversion = '1'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    "tally/__init__.py": "",
    "tally/count.py": (
        "SEEN = []\n\n\n"
        "def slow_sum(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += i % 7\n"
        "    return total\n"
    ),
    # the module-level list holds what earlier tests of the same run added: a run that started
    # from another run's state would fail here
    "tests/test_count.py": (
        "from tally import count\n\n\n"
        "def test_first():\n"
        "    count.SEEN.append(1)\n"
        "    assert count.slow_sum(300_000) > 0\n\n\n"
        "def test_second():\n"
        "    count.SEEN.append(2)\n"
        "    assert count.SEEN == [1, 2]\n"
    ),
}


def test_the_probe_forks_each_pooled_loop_from_the_state_after_collection(tmp_path):
    root = write_project(tmp_path / "tally", PROJECT)
    run = probe_on(root, "cpu", {"root": str(root), "engine": "sample", "pool": "2"})
    assert run.child.returncode == 0, run.child.tail(20)
    said = run.read("pool.json")
    assert said is not None and (said["asked"], said["forked"], said["refused"]) == (2, 2, "")
    for folder in (run.out_dir / "pool-1", run.out_dir / "pool-2", run.out_dir):
        outcomes = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))["tests"]
        assert {k: v["outcome"] for k, v in outcomes.items()} == {
            "tests/test_count.py::test_first": "passed",
            "tests/test_count.py::test_second": "passed",
        }, folder
        cpu = json.loads((folder / "cpu.json").read_text(encoding="utf-8"))
        assert cpu["engine"] == "sample" and cpu["phases"]["call"]["wall"] > 0, folder


def _scan_cpu(root: Path) -> Tuple[dict, List[str]]:
    """The CPU pass's scan of the project (the tree left as it was): its report and the pass's notes."""
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    report = load_report(root)
    return report, report["passes"]["cpu"]["notes"]


def _top_cpu_symbol(report: dict) -> str:
    return [f for f in report["findings"] if f["domain"] == "cpu"][0]["symbol"]


def test_a_short_suite_is_pooled_from_one_forked_process(tmp_path):
    report, notes = _scan_cpu(write_project(tmp_path / "tally", PROJECT))
    assert any("more sampled run(s) pooled" in n for n in notes), notes
    assert any("from one process, its test loop forked after collection" in n for n in notes), notes
    assert _top_cpu_symbol(report) == "slow_sum"


def test_a_thread_alive_after_collection_gets_a_process_per_pooled_run(tmp_path):
    project = dict(PROJECT)
    project["tests/conftest.py"] = (
        "import threading\nimport time\n\nthreading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
    )
    report, notes = _scan_cpu(write_project(tmp_path / "tally", project))
    assert any("pooled runs not forked (2 threads alive after collection): one process a run" in n for n in notes), (
        notes
    )
    assert any("3 more sampled run(s) pooled" in n for n in notes), notes
    assert _top_cpu_symbol(report) == "slow_sum"
