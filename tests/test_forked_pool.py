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

from perfscan.passes.cpu import SAME_RUN_NOTE

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


def test_a_fork_ends_with_its_run_written_and_leaves_the_session_end_and_exit_handlers_to_the_parent(tmp_path):
    # what the project arranged for its process's end happens once, in the process that started it
    ends = tmp_path / "ends.txt"
    files = dict(PROJECT)
    files["tests/conftest.py"] = (
        "import atexit, os\n\n"
        f"ENDS = {str(ends)!r}\n\n\n"
        "def _note(what):\n"
        "    with open(ENDS, 'a') as fh:\n"
        "        fh.write('%s %d\\n' % (what, os.getpid()))\n\n\n"
        "atexit.register(_note, 'exit')\n\n\n"
        "def pytest_sessionfinish(session, exitstatus):\n"
        "    _note('sessionfinish')\n"
    )
    # and a test's own exit handler (a temporary folder it removes at exit) runs in every run
    files["tests/test_count.py"] = PROJECT["tests/test_count.py"].replace(
        "def test_second():\n",
        "def test_second():\n    import atexit\n    from conftest import _note\n    atexit.register(_note, 'test-exit')\n",
    )
    root = write_project(tmp_path / "tally", files)
    run = probe_on(root, "cpu", {"root": str(root), "engine": "sample", "pool": "2"})
    assert run.child.returncode == 0, run.child.tail(20)
    assert (run.read("pool.json") or {}).get("forked") == 2
    for folder in (run.out_dir / "pool-1", run.out_dir / "pool-2"):  # each fork's run is whole
        outcomes = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))["tests"]
        assert [v["outcome"] for v in outcomes.values()] == ["passed", "passed"], folder
    pairs = ends.read_text(encoding="utf-8").split()
    seen = list(zip(pairs[0::2], pairs[1::2]))
    parent = [pid for what, pid in seen if what == "sessionfinish"]
    assert len(parent) == 1 and [pid for what, pid in seen if what == "exit"] == parent, seen  # the parent's, once
    assert len({pid for what, pid in seen if what == "test-exit"}) == 3, seen  # every run's own


def _scan_cpu(root: Path, passes: str = "cpu") -> Tuple[dict, List[str]]:
    """The CPU pass's scan of the project (the tree left as it was): its report and the pass's notes."""
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", passes)
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


def test_a_short_suite_profiled_apart_from_the_timing_run_forks_its_runs_from_its_first(tmp_path):
    # with async code the timing run runs in asyncio debug mode and does not sample: the CPU pass
    # runs the tests itself, and the timing run's test time says at once how many runs it needs
    project = dict(PROJECT)
    project["tally/aio.py"] = "import asyncio\n\n\nasync def pause():\n    await asyncio.sleep(0)\n"
    report, notes = _scan_cpu(write_project(tmp_path / "tally", project), "cpu,async")
    assert not any(n.startswith(SAME_RUN_NOTE) for n in notes), notes
    assert any(n.startswith("4 pooled run(s) from one process, its test loop forked") for n in notes), notes
    assert _top_cpu_symbol(report) == "slow_sum"
