"""The memory pass's two steps: the peak hook turned off where it costs too much, the peaks it
missed caught in a run of those tests alone; and the census's estimate of a value too big to walk."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from conftest import run_perfscan, write_project
from test_memory_pass import by_symbol, run_pass
from test_probe_pythons import venv_with_pytest

from perfscan.models import Target, other_rootdir
from perfscan.passes.memory.catch import catch_candidates, merge_caught
from perfscan.passes.memory.records import Phase
from perfscan.passes.memory.units import MIB
from perfscan.probe import census
from perfscan.probe.peakhook import arm_where_memory_rises, stop_arming

CALL_HEAVY = {
    # these tests are of the run that traces every test: the screen would trace only some
    "pyproject.toml": (
        "[project]\nname='calls'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n"
        "[tool.perfscan]\nmemory-screen = false\n"
    ),
    "calls/__init__.py": "",
    "calls/work.py": (
        "def step(x):\n"
        "    return x + 1\n\n"
        "def count(n, hold):\n"
        "    kept = [[] for _ in range(hold)]\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total = step(total)\n"
        "    return total\n"
        "def build(n):\n"
        "    return bytes(n * 1000)\n"
    ),
    # the first tests hold 0.6 MiB of lists (the collector's runs see them: the hook arms) while
    # they make millions of returns (the hook's cost; two of them, so the cost is no one test's
    # burst); the last makes 20 MB of bytes in one call, which no collection or timer tick sees
    # before the test lets it go
    "tests/test_a_calls.py": (
        "from calls.work import count\n\n"
        "def test_count():\n    assert count(1_500_000, 10_000) == 1_500_000\n\n"
        "def test_count_again():\n    assert count(1_500_000, 10_000) == 1_500_000\n"
    ),
    "tests/test_b_build.py": "from calls.work import build\n\ndef test_build():\n    assert len(build(20000)) == 20000\n",
}
BUILD_LISTS = "def build(n):\n    return [[0] * 120 for _ in range(n)]\n"  # the same line, objects the collector tracks
BUILD_BYTES = "def build(n):\n    return [bytes(1000) for _ in range(n)]\n"  # the same line, a step at a time


def test_a_costly_hook_is_turned_off_and_the_missed_peak_caught_again(tmp_path):
    root = write_project(tmp_path / "calls", CALL_HEAVY)
    _ctx, result = run_pass(Path(root))
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "build")
    assert 15 <= f.metric.value <= 25 and f.line == 11, f.metric  # 20,000 x 1 KB, caught by the second run
    assert f.details["test"] == "tests/test_b_build.py::test_build"
    assert any("the peak hook cost more than" in n and "1 test(s) whose peak rose" in n for n in result.notes), (
        result.notes
    )
    catch = result.data.to_json()["overhead"]["catch_run"]
    assert catch["tests"] == 1 and catch["snapshots"] >= 1


def test_one_tests_burst_of_returns_leaves_the_hook_on_and_the_pass_in_one_run(tmp_path):
    # once one test's burst is over, turning the hook off would save little against a catching run
    project = dict(CALL_HEAVY)
    project["tests/test_a_calls.py"] = (
        "from calls.work import count\n\ndef test_count():\n    assert count(3_000_000, 10_000) == 3_000_000\n"
    )
    project["calls/work.py"] = CALL_HEAVY["calls/work.py"].split("def build")[0] + BUILD_LISTS
    root = write_project(tmp_path / "calls", project)
    _ctx, result = run_pass(Path(root))
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "build")
    assert 15 <= f.metric.value <= 25 and f.line == 11, f.metric
    assert not any("the peak hook cost more than" in n for n in result.notes), result.notes
    assert result.data.to_json()["overhead"]["catch_run"]["tests"] == 0


@pytest.mark.parametrize("version", ["this", "3.12"])
@pytest.mark.parametrize("build", [BUILD_LISTS, BUILD_BYTES], ids=["lists", "bytes"])
def test_once_the_hook_costs_too_much_it_arms_only_where_memory_rises(version, build, tmp_path):
    # after the two costly tests the hook runs only once a collection or a tick of CPU time sees
    # a phase's traced memory halfway to its next mark: a test of millions of returns holding
    # 0.1 MiB pays none, and a test that builds 20 MiB arms it and is caught in the same run:
    # lists start collections, 20,000 bytes objects none (the tick arms it). From 3.12 the hook
    # is sys.monitoring's, armed for every thread at once.
    runner = sys.executable if version == "this" else str(venv_with_pytest(version))
    project = dict(CALL_HEAVY)
    project["tests/test_a_flat.py"] = (
        "from calls.work import count\n\ndef test_flat():\n    assert count(3_000_000, 2_000) == 3_000_000\n"
    )
    project["calls/work.py"] = CALL_HEAVY["calls/work.py"].split("def build")[0] + build
    root = write_project(tmp_path / "calls", project)
    _ctx, result = run_pass(Path(root), runner=runner)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "build")
    assert 15 <= f.metric.value <= 25 and f.line == 11, f.metric
    assert f.details["test"] == "tests/test_b_build.py::test_build"
    assert any("the peak hook cost more than" in n for n in result.notes), result.notes
    overhead = result.data.to_json()["overhead"]
    assert overhead["hook_returns"] < 4_000_000, overhead  # the costly tests' 3 million, not test_flat's
    assert overhead["catch_run"]["tests"] == 0, overhead


def test_a_peak_passed_between_two_checks_of_the_armed_hook_runs_no_test_again(tmp_path):
    # the test holds 0.6 MiB (a tick arms the hook), then makes and frees 20 MB inside one call:
    # the armed hook's checks miss it, and so would a run with the hook on from the start; the
    # ticks after it (before 3.12 they call the armed hook's arming again) change nothing
    project = dict(CALL_HEAVY)
    project["calls/work.py"] = CALL_HEAVY["calls/work.py"].split("def build")[0] + (
        "def hold(n):\n    return [bytes(1000) for _ in range(n)]\n\ndef spike(n):\n    return len(bytes(n))\n"
    )
    project["tests/test_b_build.py"] = (
        "from calls.work import hold, spike\n\n"
        "def test_spike():\n"
        "    kept = hold(600)\n"
        "    for _ in range(1_000_000):\n"
        "        pass\n"
        "    assert spike(20_000_000) == 20_000_000\n"
        "    for _ in range(1_000_000):\n"
        "        pass\n"
        "    assert len(kept) == 600\n"
    )
    root = write_project(tmp_path / "calls", project)
    _ctx, result = run_pass(Path(root))
    assert result.status == "ok", result.error
    data = result.data.to_json()
    assert data["peak_mib_by_test"]["tests/test_b_build.py::test_spike"] >= 15, data["peak_mib_by_test"]
    assert data["overhead"]["catch_run"]["tests"] == 0, (data["overhead"], result.notes)


@pytest.mark.parametrize("after_costly_tests", [False, True], ids=["hook-from-the-start", "hook-armed"])
def test_a_list_built_in_one_comprehension_is_snapshotted_once(after_costly_tests, tmp_path):
    # the comprehension's only returns would be the probe's own: while the hook runs from every
    # phase's start no arming callback is in place; after the costly tests a collection or a
    # tick arms it inside the comprehension, and the callbacks' returns are never checks. Each
    # 5% mark of the 40 MiB list had been a snapshot (16 where 1 holds it).
    project = {
        "pyproject.toml": CALL_HEAVY["pyproject.toml"],
        "rows/__init__.py": "",
        "rows/make.py": "def rows(n):\n    return [('acct%d' % (i % 4000), i % 97) for i in range(n)]\n",
        "tests/test_b_rows.py": "from rows.make import rows\n\ndef test_rows():\n    assert len(rows(300_000)) == 300_000\n",
    }
    costly = ("calls/__init__.py", "calls/work.py", "tests/test_a_calls.py")
    project.update({name: CALL_HEAVY.get(name, "") for name in costly if after_costly_tests})
    root = write_project(tmp_path / "rows", project)
    _ctx, result = run_pass(Path(root))
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "rows")
    assert f.metric.value >= 20, f.metric
    assert any("the peak hook cost more than" in n for n in result.notes) == after_costly_tests, result.notes
    overhead = result.data.to_json()["overhead"]
    assert overhead["snapshots"] <= 2 and overhead["catch_run"]["tests"] == 0, overhead


@pytest.mark.parametrize("screen", [True, False], ids=["screened", "every-test-traced"])
def test_a_project_under_a_folder_with_a_pytest_configuration_has_its_peaks_caught_again(screen, tmp_path):
    # pytest's rootdir is the folder above (its node ids start with the project's folder), and
    # each run starts in the project: the traced run after the screen, and the catching run,
    # name their tests from there. Screened, the buffer is made a kilobyte at a time (the
    # screen does not see one zeroed buffer that is never written: it takes no page)
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    files = {**CALL_HEAVY, "pyproject.toml": "[project]\nname='calls'\nversion='1'\n"}
    if screen:
        files["calls/work.py"] = CALL_HEAVY["calls/work.py"].split("def build")[0] + BUILD_BYTES
    else:
        files["pyproject.toml"] += "[tool.perfscan]\nmemory-screen = false\n"
    root = write_project(tmp_path / "calls", files)
    proc = run_perfscan(str(root), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "scan-report.json").read_text(encoding="utf-8"))
    memory = report["passes"]["memory"]
    assert screen == any(n.startswith("screened first") and "alone" in n for n in memory["notes"]), memory["notes"]
    assert screen or memory["data"]["overhead"]["catch_run"]["snapshots"] >= 1, memory["notes"]
    [build] = [f for f in report["findings"] if f["domain"] == "memory" and f["symbol"] == "build"]
    assert build["details"]["test"] == "calls/tests/test_b_build.py::test_build"
    assert 15 <= build["metric"]["value"] <= 25 and build["line"] == 11


def test_node_ids_relative_to_a_rootdir_above_the_project_are_named_from_it():
    target = Target(("calls/tests/test_a.py::test_x",), ("-q", "tests"), "selected", 3, rootdir="/srv/outer")
    assert target.pytest_argv() == ("-q", "/srv/outer/calls/tests/test_a.py::test_x")
    assert Target(("tests/test_a.py::test_x",), ("-q",), "selected", 3).pytest_argv() == (
        "-q",
        "tests/test_a.py::test_x",
    )
    assert other_rootdir("/srv/outer", Path("/srv/outer/calls")) == "/srv/outer"
    assert other_rootdir("/srv/outer/calls", Path("/srv/outer/calls")) == ""


def test_catch_candidates_and_merge():
    phases = [
        Phase("t::small", "call", start=0, peak=MIB // 2, hooked=False),
        Phase("t::big", "call", start=10 * MIB, peak=30 * MIB, hooked=False),
        Phase("t::big", "setup", start=0, peak=2 * MIB, hooked=False),
        Phase("t::hooked", "call", start=0, peak=50 * MIB, snapshot=50 * MIB, snapshots=1),
    ]
    picked = catch_candidates(phases, 1.0)
    assert [(p.test, p.phase) for p in picked] == [("t::big", "call"), ("t::big", "setup")]
    caught = [Phase("t::big", "call", start=10 * MIB, peak=30 * MIB, snapshot=29 * MIB, snapshots=1)]
    merged = merge_caught(phases, caught)
    assert [p.snapshot for p in merged] == [0, 29 * MIB, 0, 50 * MIB]


def test_a_value_too_big_to_walk_is_estimated_from_a_sample():
    value = {i: [{"row": j, "name": f"n{i}-{j}"} for j in range(200)] for i in range(50)}
    exact, nodes, truncated = census.deep_size(value)
    assert not truncated and nodes > 20000
    size, _nodes, trunc, estimated = census.value_size(value, cap=5000)
    assert estimated and not trunc
    assert 0.8 * exact <= size <= 1.25 * exact, (size, exact)
    assert census.entries(value) == 50
    # a capped walk alone sees the same size however the value grows: the estimate grows with it
    value.update({50 + i: [{"row": j, "name": f"m{i}-{j}"} for j in range(200)] for i in range(50)})
    assert census.value_size(value, cap=5000)[0] > 1.5 * size


class _Recorder:
    """What arm_where_memory_rises() reads of the memory recorder: the arming level, the arming
    call, the errors it reports."""

    def __init__(self):
        self._arm = [float("inf")]
        self._arm_hook = lambda: None
        self.errors = []


def test_the_arming_timer_is_taken_away_and_the_default_handler_put_back():
    recorder = _Recorder()
    arming = arm_where_memory_rises(recorder)
    try:
        assert signal.getitimer(signal.ITIMER_PROF)[0] > 0 and recorder.errors == []
        stop_arming(arming)
        left = signal.getitimer(signal.ITIMER_PROF), signal.getsignal(signal.SIGPROF)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)  # a timer left running would end the test process
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
    assert left == ((0.0, 0.0), signal.SIG_DFL)


def test_the_arming_timer_stops_under_a_handler_a_test_left_in_place():
    def tests_handler(signum, frame):
        pass

    arming = arm_where_memory_rises(_Recorder())
    try:
        signal.signal(signal.SIGPROF, tests_handler)  # a test's, never put back
        stop_arming(arming)
        left = signal.getitimer(signal.ITIMER_PROF), signal.getsignal(signal.SIGPROF)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
    assert left == ((0.0, 0.0), tests_handler)


def test_a_projects_own_sigprof_handler_is_left_in_place():
    def projects_handler(signum, frame):
        pass

    before = signal.signal(signal.SIGPROF, projects_handler)
    try:
        recorder = _Recorder()
        arming = arm_where_memory_rises(recorder)
        armed = signal.getsignal(signal.SIGPROF), signal.getitimer(signal.ITIMER_PROF)
        stop_arming(arming)
        left = signal.getsignal(signal.SIGPROF)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, before)
    assert armed == (projects_handler, (0.0, 0.0))
    assert ["garbage collections alone" in e for e in recorder.errors] == [True], recorder.errors
    assert left is projects_handler
