"""The screen's spare: the memory pass's later runs forked from the screen's process, taken after
collection, instead of processes of their own.

- pytest: the traced run and the 10-frame deep run are the spare's (their notes say so), the
  findings are those of the project's own lines and of its call into `copy.deepcopy`, and no
  process is left in the project when the pass ends.
- unittest: the traced run of a unittest suite is the spare's too.
- A run the screen's exit broke (a folder the suite made at import and removes at exit): a test
  that passed in the screen fails in the spare's run, so the run is made again by a process of
  its own; the finding stays and the test is not reported failed.
- No spare where a socket is open after collection: the traced run is a process, as before.
- A traced test that hangs in the spare's run: the worker is stopped at the pass's time limit,
  what it measured (the snapshot at its peak, before the hang) is kept, and nothing is left
  running.
- Each run of the spare writes its own output (pytest keeps copies of the first run's stdout).
- A spare that dies during a run (its worker's test kills it): a process makes the run.
- A process a worker's test starts and leaves ends with the worker's run: the next run of the
  spare (the deep run) would fail were it still there.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from test_memory_pass import by_symbol, make_ctx  # noqa: E402

from perfscan.models import Driver, Target  # noqa: E402
from perfscan.passes.memory import run_memory_pass  # noqa: E402
from perfscan.passes.memory.spare import FORKED  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the screen reads /proc/self")

PYPROJECT = "[project]\nname='{name}'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n"
WORK = (
    "import copy\n\n"
    "def row(i):\n"
    "    return [float(i)] * 8\n\n"
    "def table(n):\n"
    "    return [row(i) for i in range(n)]\n\n"
    "def clone(rows):\n"
    "    return copy.deepcopy(rows)\n"
)
QUIET = "".join(f"def test_quiet_{i}():\n    assert sum(range(100)) == 4950\n\n" for i in range(5))


def rows_project(tmp_path: Path, tests: str, extra: Optional[Dict[str, str]] = None) -> Path:
    """A pytest project with the package `rows` (WORK) and tests/test_rows.py holding `tests`."""
    files = {
        "pyproject.toml": PYPROJECT.format(name="rows"),
        "rows/__init__.py": "",
        "rows/work.py": WORK,
        "tests/test_rows.py": tests,
        **(extra or {}),
    }
    return write_project(tmp_path / "p", files)


def screened_note(result) -> str:
    [said] = [n for n in result.notes if n.startswith("screened first")]
    return said


def traced_by_a_process(result, root: Path) -> None:
    """The traced run was a process of its own, found `table`, and nothing is left running."""
    assert result.status == "ok", result.error
    said = screened_note(result)
    assert "(1 test(s) alone, " in said and FORKED not in said, said
    [f] = by_symbol(result, "table")
    assert f.metric.value >= 15, f.metric
    assert none_left_in(root) == []


def processes_in(root: Path) -> List[int]:
    """The live processes whose working folder is the project (every probe run's is)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(root):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def none_left_in(root: Path) -> List[int]:
    """Waits a little for killed processes to go; the ones still there."""
    until = time.monotonic() + 5
    left = processes_in(root)
    while left and time.monotonic() < until:
        time.sleep(0.1)
        left = processes_in(root)
    return left


def test_the_traced_and_deep_runs_are_the_spares(tmp_path):
    root = rows_project(
        tmp_path,
        (
            "from rows.work import clone, table\n\n"
            + QUIET
            + "def test_table():\n    assert len(table(200000)) == 200000\n\n"
            "def test_clone():\n    assert len(clone([[i] * 4 for i in range(40000)])) == 40000\n"
        ),
    )
    ctx = make_ctx(root)
    result = run_memory_pass(ctx)
    assert result.status == "ok", result.error
    said = screened_note(result)
    assert f"(2 test(s) alone, {FORKED}" in said, said
    [deep] = [n for n in result.notes if "10-frame run" in n]
    assert "10-frame run of 1 test phase(s)" in deep and f"that called them ({FORKED})" in deep, deep
    [f] = by_symbol(result, "table")
    assert f.file == "rows/work.py" and 15 <= f.metric.value <= 40, f.metric
    [c] = by_symbol(result, "clone")  # bytes made inside copy.py, given to the project's caller
    assert c.file == "rows/work.py" and c.metric.value >= 1, c.metric
    assert none_left_in(root) == []


def test_a_unittest_suite_is_traced_by_the_spare(tmp_path):
    root = write_project(
        tmp_path / "p",
        {
            "rows/__init__.py": "",
            "rows/work.py": WORK,
            "tests/__init__.py": "",
            "tests/test_rows.py": (
                "import unittest\n\n"
                "from rows.work import table\n\n\n"
                "class Rows(unittest.TestCase):\n"
                "    def test_quiet(self):\n"
                "        self.assertEqual(sum(range(100)), 4950)\n\n"
                "    def test_table(self):\n"
                "        self.assertEqual(len(table(200000)), 200000)\n"
            ),
        },
    )
    ctx = make_ctx(root)
    ctx = replace(ctx, target=Target((), ("discover", "-s", "tests", "-t", "."), "all", 0, driver=Driver("unittest")))
    result = run_memory_pass(ctx)
    assert result.status == "ok", result.error
    said = screened_note(result)
    assert f"(1 test(s) alone, {FORKED}" in said, said
    [f] = by_symbol(result, "table")
    assert f.details["test"] == "tests/test_rows.py::Rows::test_table" and f.metric.value >= 15, f
    assert none_left_in(root) == []


def test_a_run_the_screens_exit_broke_is_made_again_by_a_process(tmp_path):
    # the suite makes a folder at import and removes it at exit: the screen's exit removes it
    # before the spare's worker runs, where a fresh process makes its own
    root = rows_project(
        tmp_path,
        (
            "import os\n\n"
            "from rows.work import table\n\n" + QUIET + "def test_table(home):\n"
            "    with open(os.path.join(home, 'seen'), 'w') as fh:\n"
            "        fh.write('x')\n"
            "    assert len(table(200000)) == 200000\n"
        ),
        {
            "tests/conftest.py": (
                "import atexit, shutil, tempfile\n\n"
                "import pytest\n\n"
                "HOME = tempfile.mkdtemp(prefix='rows-home-')\n"
                "atexit.register(shutil.rmtree, HOME, True)\n\n\n"
                "@pytest.fixture\n"
                "def home():\n"
                "    return HOME\n"
            ),
        },
    )
    ctx = make_ctx(root)
    result = run_memory_pass(ctx)
    traced_by_a_process(result, root)
    assert result.facts.outcomes["tests/test_rows.py::test_table"][0] == "passed", result.facts.outcomes


def test_no_spare_where_a_socket_is_open_after_collection(tmp_path):
    root = rows_project(
        tmp_path,
        ("from rows.work import table\n\n" + QUIET + "def test_table():\n    assert len(table(200000)) == 200000\n"),
        {
            "tests/conftest.py": "import socket\n\nLISTENER = socket.socket()\n",
        },
    )
    result = run_memory_pass(make_ctx(root))
    traced_by_a_process(result, root)


def test_a_traced_test_that_hangs_in_the_spare_is_stopped_at_the_time_limit(tmp_path):
    # it hangs only where tracemalloc traces it: in the traced run, not in the screen
    root = rows_project(
        tmp_path,
        (
            "import time, tracemalloc\n\n"
            "from rows.work import table\n\n" + QUIET + "def test_table():\n"
            "    rows = table(200000)\n"
            "    while tracemalloc.is_tracing():\n"
            "        time.sleep(0.05)\n"
            "    assert len(rows) == 200000\n"
        ),
    )
    ctx = make_ctx(root, timeout=20.0)
    result = run_memory_pass(ctx)
    assert result.status == "ok", result.error
    said = screened_note(result)
    assert f"(1 test(s) alone, {FORKED}" in said, said
    # the worker wrote what it had measured when it was stopped: the peak's snapshot, taken before the hang
    [f] = by_symbol(result, "table")
    assert f.metric.value >= 15, f.metric
    assert none_left_in(root) == []


def test_each_run_of_the_spare_writes_its_own_output(tmp_path):
    root = rows_project(
        tmp_path,
        ("from rows.work import table\n\n" + QUIET + "def test_table():\n    assert len(table(200000)) == 200000\n"),
    )
    ctx = make_ctx(root)
    result = run_memory_pass(ctx)
    assert result.status == "ok", result.error
    runs = ctx.workdir / "runs"
    # pytest's capture keeps copies of the first run's stdout and puts them back after each phase
    screen = (runs / "memory" / "child.stdout").read_text()
    traced = (runs / "memory-traced" / "child.stdout").read_text()
    # the worker's progress (its one test of six: 16%) in its own file, none in the first run's
    assert "test_rows.py ." in traced and "[ 16%]" in traced, traced
    assert screen.count("test_rows.py") == 1 and "[ 16%]" not in screen, screen


def test_a_spare_that_dies_during_a_run_has_a_process_make_it(tmp_path):
    # the traced test kills its parent where that is the spare: the run is made by a process
    root = rows_project(
        tmp_path,
        (
            "import os, signal, tracemalloc\n\n"
            "from rows.work import table\n\n" + QUIET + "def test_table():\n"
            "    rows = table(200000)\n"
            "    if tracemalloc.is_tracing():\n"
            "        with open('/proc/%d/cmdline' % os.getppid(), 'rb') as fh:\n"
            "            if b'perfscan_probe' in fh.read():\n"
            "                os.kill(os.getppid(), signal.SIGKILL)\n"
            "    assert len(rows) == 200000\n"
        ),
    )
    result = run_memory_pass(make_ctx(root))
    traced_by_a_process(result, root)


def test_what_a_run_of_the_spare_started_ends_with_it(tmp_path):
    # each run of test_clone starts a process and leaves it; the next run fails if it is still
    # there: the deep run, the spare's second, is trusted only if the traced run's is gone
    pids = tmp_path / "pids"
    root = rows_project(
        tmp_path,
        (
            "import os, subprocess, sys\n\n"
            "from rows.work import clone\n\n"
            f"PIDS = {str(pids)!r}\n\n" + QUIET + "def alive(pid):\n"
            "    try:\n"
            "        with open('/proc/%s/stat' % pid) as fh:\n"
            "            return fh.read().rpartition(')')[2].split()[0] not in ('Z', 'X')\n"
            "    except OSError:\n"
            "        return False\n\n"
            "def test_clone():\n"
            "    left = [p for p in open(PIDS).read().split() if alive(p)] if os.path.exists(PIDS) else []\n"
            "    assert not left, left\n"
            "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "    with open(PIDS, 'a') as fh:\n"
            "        fh.write('%d ' % child.pid)\n"
            "    assert len(clone([[i] * 4 for i in range(40000)])) == 40000\n"
        ),
    )
    result = run_memory_pass(make_ctx(root))
    assert result.status == "ok", result.error
    [deep] = [n for n in result.notes if "10-frame run" in n]
    assert f"that called them ({FORKED})" in deep, deep
    assert none_left_in(root) == []
