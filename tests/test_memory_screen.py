"""The memory screen: every test run untraced first, only the tests whose memory rose traced.

- The probe's screen in a real interpreter: a phase that makes nothing reads under half a MiB; a
  temporary of small objects freed before the phase ends, made in the free room of the
  allocator's arenas (no new page), is seen by the count of live objects;
  a buffer freed and made again in each of three phases reads its size in every one (memory the
  C library kept would be reused unseen without `malloc_trim`).
- End to end: a suite of 40 tests where one holds 20 MiB at its peak and 39 run a
  generator-heavy loop that holds nothing: the screen's note says 1 of 40 tests rose, only that
  test ran traced, its first mark at half its screened rise (4 snapshots where the first mark
  at 1 MiB took 12), and the finding is the same as a traced run of every test gave.
- A first mark above the traced peak (40 MB of written anonymous map beside 6 MiB of strings):
  the phase is caught again with its traced peak known, and its strings are the finding.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, write_project

sys.path.insert(0, str(REPO / "src"))
from test_memory_pass import by_symbol, run_pass  # noqa: E402

from perfscan.passes.memory import MIB  # noqa: E402
from perfscan.probe_host import install_probe  # noqa: E402

LINUX = sys.platform.startswith("linux")


def screen_phases(tmp_path: Path, body: str) -> dict:
    """Run `body` in a fresh interpreter with the probe's screen; `phase(name)` is a context
    manager around each phase; returns {name: [estimate, resident, blocks]}."""
    probe = install_probe(tmp_path / "probe")
    script = textwrap.dedent(
        """
        import contextlib, json, sys
        sys.path.insert(0, {probe!r})
        from perfscan_probe.screen import Screen
        from perfscan_probe.peakhook import watch_memory, stop_arming
        screen = Screen()
        why = screen.unavailable()
        assert not why, why
        errors = []
        arming = watch_memory(screen.check, errors, "")
        out = {{}}

        @contextlib.contextmanager
        def phase(name):
            screen.start()
            yield
            out[name] = list(screen.stop())

        BODY
        stop_arming(arming)
        print(json.dumps(out))
        """
    ).format(probe=str(probe))
    script = script.replace("BODY\n", textwrap.dedent(body).strip() + "\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not LINUX, reason="the screen reads /proc/self")
def test_the_screen_sees_temporaries_and_reused_memory(tmp_path):
    out = screen_phases(
        tmp_path,
        """
        with phase("nothing"):
            x = sum(range(1000))
        # every 20th string kept: the allocator's arenas stay, their free room resident
        kept = [str(i) * 3 for i in range(200000)][::20]
        with phase("small objects"):
            names = [str(i) * 3 for i in range(150000)]  # about 9 MiB of small strings, in that room
            del names
        for i in range(3):
            with phase("buffer %d" % i):
                buf = b"x" * (24 << 20)  # written: a zeroed buffer never written takes no page
                del buf
        """,
    )
    assert out["nothing"][0] < MIB // 2, out
    estimate, resident, blocks = out["small objects"]
    assert blocks >= 100000 and estimate >= 8 * MIB and resident < estimate // 2, out
    for i in range(3):
        assert out[f"buffer {i}"][1] >= 20 * MIB, out  # resident: freed memory given back each time


@pytest.mark.skipif(not LINUX, reason="the screen reads /proc/self")
def test_only_the_tests_that_rose_run_traced(tmp_path):
    calls = "".join(f"def test_walk_{i}():\n    assert walk(3000) == {sum(range(3000))}\n\n" for i in range(39))
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname='busy'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n",
            "busy/__init__.py": "",
            "busy/work.py": (
                "def steps(n):\n"
                "    for i in range(n):\n"
                "        yield {'i': i}\n\n"
                "def walk(n):\n"
                "    return sum(row['i'] for row in steps(n))\n\n"
                "def row(i):\n"
                "    return [float(i)] * 8\n\n"
                "def table(n):\n"
                "    return [row(i) for i in range(n)]\n"
            ),
            "tests/test_busy.py": (
                "from busy.work import table, walk\n\n"
                + calls
                + "def test_table():\n    assert len(table(200000)) == 200000\n"
            ),
        },
    )
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "table")
    assert f.file == "busy/work.py" and 15 <= f.metric.value <= 40, f.metric  # 200,000 lists of 8: 18.3 MiB
    assert f.details["test"] == "tests/test_busy.py::test_table"
    [said] = [n for n in result.notes if n.startswith("screened first")]
    assert "of 1 of 40 test(s)" in said and "(1 test(s) alone" in said, said
    overhead = result.data.to_json()["overhead"]
    assert overhead["screen"]["traced_tests"] == 1 and overhead["screen"]["phases"] == 120, overhead
    # the first mark at half the screened rise: a few snapshots here, 12 with the first at 1 MiB
    assert 1 <= overhead["snapshots"] <= 7 and overhead["catch_run"]["tests"] == 0, overhead
    peaks = result.data.to_json()["peak_mib_by_test"]
    assert peaks["tests/test_busy.py::test_walk_0"] < 0.5 and peaks["tests/test_busy.py::test_table"] >= 15


@pytest.mark.skipif(not LINUX, reason="the screen reads /proc/self")
def test_a_first_mark_above_the_traced_peak_has_the_phase_caught_again(tmp_path):
    # 40 MB of anonymous mapped memory, written (resident, never traced), beside 100,000 small
    # strings (traced, about 6 MiB, let go before the test ends): the screen's lesser figure
    # (the count of live objects, 256 bytes each) puts the first mark above the traced peak, and
    # the phase runs again with its traced peak known
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname='mapped'\nversion='1'\n[tool.pytest.ini_options]\ntestpaths=['tests']\n",
            "mapped/__init__.py": "",
            "mapped/work.py": (
                "import mmap\n\n"
                "def names(n):\n"
                "    return [str(i) * 3 for i in range(n)]\n\n"
                "def mapped_and_names(n):\n"
                "    area = mmap.mmap(-1, 40 << 20)\n"
                "    for _ in range(40):\n"
                "        area.write(b'x' * (1 << 20))\n"
                "    found = len(names(n))\n"
                "    area.close()\n"
                "    return found\n"
            ),
            "tests/test_mapped.py": (
                "from mapped.work import mapped_and_names\n\n"
                "def test_both():\n    assert mapped_and_names(100000) == 100000\n"
            ),
        },
    )
    _ctx, result = run_pass(root)
    assert result.status == "ok", result.error
    [f] = by_symbol(result, "names")
    assert 4 <= f.metric.value <= 10, f.metric
    overhead = result.data.to_json()["overhead"]
    assert overhead["catch_run"]["tests"] == 1, (overhead, result.notes)
