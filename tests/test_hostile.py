"""Hostile projects: whatever the project does, the scan finishes within its budget, the report
says what happened, and the project is left as it was (apart from .codeflash/ and what its own
tests wrote)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

BASE = {
    "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n",
    "host/__init__.py": "",
    "host/core.py": SLOW_UNIQUE,
    "tests/test_core.py": "from host.core import slow_unique\n\ndef test_work():\n    assert len(slow_unique([i % 1500 for i in range(15000)])) == 1500\n",
}


def scan(root: Path, *extra: str, timeout: float = 300):
    start = time.monotonic()
    proc = run_perfscan(str(root), "--runner", sys.executable, *extra, timeout=timeout)
    return proc, time.monotonic() - start


def markdown(root: Path) -> str:
    return (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")


def make(tmp_path, extra_files, name="p"):
    return write_project(tmp_path / name, dict(BASE, **extra_files))


def test_syntax_error_file_is_skipped_and_listed(tmp_path):
    root = make(
        tmp_path,
        {"host/broken.py": "def oops(:\n    pass\n", "host/aio.py": "import time\nasync def f():\n    time.sleep(1)\n"},
    )
    before = tree_state(root)
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert any("host/broken.py" in w and "does not parse" in w for w in report["warnings"]), report["warnings"]
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert_unchanged(before, root)


def test_latin1_file(tmp_path):
    root = make(tmp_path, {})
    (root / "host" / "legacy.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nNAME = '\xe9t\xe9'\n\nasync def g():\n    return NAME\n"
    )
    (root / "host" / "undeclared.py").write_bytes(b"NAME = '\xe9t\xe9'\n")
    before = tree_state(root)
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    notes = " ".join(load_report(root)["warnings"])
    assert "host/undeclared.py" in notes and "does not decode" in notes and "legacy.py" not in notes
    json.loads((root / ".codeflash" / "scan-report.json").read_bytes().decode("utf-8"))
    assert_unchanged(before, root)


def test_symlink_loop(tmp_path):
    root = make(tmp_path, {})
    os.symlink("..", root / "host" / "loop")
    os.symlink("/", root / "host" / "outside")
    before = tree_state(root)
    proc, secs = scan(root, "--budget", "120")
    report = load_report(root)
    assert report["passes"]["async"]["status"] == "ok"
    # pytest itself walks into `/` and never finishes collecting: the scan finishes, says so and
    # fails, since its test passes measured nothing
    if report["target"]["mode"] == "none":
        assert proc.returncode == 2 and report["summary"]["unmeasured"].startswith("no tests"), proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
    assert_unchanged(before, root)


def test_hanging_test_costs_its_pass_not_the_scan(tmp_path):
    root = make(tmp_path, {"tests/test_hang.py": "import time\n\ndef test_zz_hang():\n    time.sleep(3600)\n"})
    before = tree_state(root)
    budget = 40
    proc, secs = scan(root, "--budget", str(budget), timeout=budget + 60)
    assert proc.returncode == 0, proc.stderr
    assert secs < budget + 10, f"took {secs:.0f} s with a {budget} s budget"
    report = load_report(root)
    assert report["target"]["mode"] == "selected"
    assert report["target"]["tests"] == ["tests/test_core.py::test_work"]
    [left] = report["target"]["left_out"]
    assert left["test"] == "tests/test_hang.py::test_zz_hang" and left["reason"].startswith("still running after")
    assert "left out tests/test_hang.py::test_zz_hang (still running after" in report["target"]["note"]
    assert "restarted" not in report["target"]["note"]  # it was the last test: nothing to restart for
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert_unchanged(before, root)


def _many_tests(n, special):
    """A test module of n tests, each doing the planted quadratic work, but test `i` -> special[i]."""
    lines = ["import os, signal, time", "from host.core import *", ""]
    for i in range(n):
        body = special.get(i, "assert len(slow_unique([j % 300 for j in range(3000)])) == 300")
        lines.append(f"def test_{i:02d}():\n    {body}\n")
    return "\n".join(lines)


def test_one_hanging_test_of_17_leaves_the_other_16_to_profile(tmp_path):
    late = "\n\ndef late_work():\n    return sum(i * i for i in range(300000))\n"
    root = make(
        tmp_path,
        {
            "host/core.py": SLOW_UNIQUE + late,
            "tests/test_core.py": _many_tests(17, {5: "time.sleep(3600)", 16: "assert late_work() > 0"}),
        },
    )
    before = tree_state(root)
    budget = 60
    proc, secs = scan(root, "--budget", str(budget), timeout=budget + 60)
    assert proc.returncode == 0, proc.stderr
    assert secs < budget + 10, f"took {secs:.0f} s with a {budget} s budget"
    report = load_report(root)
    target = report["target"]
    hang = "tests/test_core.py::test_05"
    assert target["mode"] == "selected" and target["collected"] == 17
    assert (
        len(target["tests"]) == 16 and hang not in target["tests"] and "tests/test_core.py::test_16" in target["tests"]
    )
    assert [x["test"] for x in target["left_out"]] == [hang]
    assert f"left out {hang} (still running after" in target["note"]
    assert "the timing run restarted without it; profiling the other 16 of 17 tests" in target["note"]
    assert f"- Target: left out {hang}" in markdown(root)
    assert report["passes"]["cpu"]["status"] == "ok" and report["passes"]["memory"]["status"] == "ok"
    # the memory pass started beside the timing run met the hang too: called off, it ran on the 16
    assert "memory pass: called off (the timing run did not run the whole suite)" in proc.stderr
    assert not any("beside the timing run" in n for n in report["passes"]["memory"]["notes"])
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    # the last test, after the hang, was profiled
    assert "host.core:late_work" in report["passes"]["cpu"]["data"]["functions"]
    assert_unchanged(before, root)


def test_a_hanging_test_that_ignores_sigterm_and_a_crash_after_it(tmp_path):
    # the hang cannot say it was running (SIGTERM ignored, so the process is killed), and a test
    # after it kills the process: both are left out, and the tests around them still profiled
    root = make(
        tmp_path,
        {
            "tests/test_core.py": _many_tests(
                6, {1: "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(3600)", 3: "os._exit(3)"}
            )
            # run after the restarts (it fails, so the report shows it ran): its id starts with an id
            # already run, which a prefix match (pytest's --deselect) would have dropped
            + "\ndef test_00_again():\n    assert slow_unique([1, 1]) == [1, 1]\n"
        },
    )
    before = tree_state(root)
    proc, _ = scan(root, "--budget", "60", "--passes", "cpu", timeout=120)
    assert proc.returncode == 0, proc.stderr
    target = load_report(root)["target"]
    assert [x["test"] for x in target["left_out"]] == ["tests/test_core.py::test_01", "tests/test_core.py::test_03"]
    assert "exited with code 3" in target["left_out"][1]["reason"]
    assert target["tests"] == [f"tests/test_core.py::test_0{i}" for i in (0, 2, 4, 5)] + [
        "tests/test_core.py::test_00_again"
    ], target
    assert "restarted without them" in target["note"]
    assert "tests/test_core.py::test_00_again (assert [1] == [1, 1])" in " ".join(load_report(root)["warnings"])
    assert_unchanged(before, root)


def test_a_slow_suite_is_cut_not_restarted(tmp_path):
    # no single test cut the run: every test is short, there are just too many for the slice
    # (and for the cores: 60 s of tests fit no two xdist workers in the time left, so no spread run)
    root = make(tmp_path, {"tests/test_core.py": _many_tests(150, {i: "time.sleep(0.4)" for i in range(150)})})
    # a 10 s slice: room to collect on a loaded machine, and far from the 60 s the suite takes
    proc, _ = scan(root, "--budget", "50", "--passes", "cpu", timeout=120)
    assert proc.returncode == 0, proc.stderr
    target = load_report(root)["target"]
    assert target["mode"] == "selected" and target["left_out"] == []
    assert "did not finish" in target["note"] and "(still running: tests/test_core.py::test_" in target["note"]
    assert "left out" not in target["note"]


def test_hanging_named_test_times_out_the_pass(tmp_path):
    root = make(tmp_path, {"tests/test_hang.py": "import time\n\ndef test_hang():\n    time.sleep(3600)\n"})
    budget = 30
    proc, secs = scan(
        root,
        "--budget",
        str(budget),
        "--test",
        "tests/test_hang.py::test_hang",
        "--passes",
        "cpu,async",
        timeout=budget + 60,
    )
    assert proc.returncode == 0, proc.stderr
    assert secs < budget + 10
    cpu = load_report(root)["passes"]["cpu"]
    assert cpu["status"] == "timed-out"
    assert "- CPU: timed-out" in markdown(root)


def test_crashing_test_is_left_out(tmp_path):
    root = make(tmp_path, {"tests/test_crash.py": "import os\n\ndef test_crash():\n    os._exit(3)\n"})
    before = tree_state(root)
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert "exited with code 3" in report["target"]["note"] and "test_crash" in report["target"]["note"]
    assert report["passes"]["cpu"]["status"] == "ok"
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert_unchanged(before, root)


def test_killed_test_process_names_the_signal(tmp_path):
    root = make(
        tmp_path,
        {"tests/test_core.py": "import os, signal\n\ndef test_kill():\n    os.kill(os.getpid(), signal.SIGKILL)\n"},
    )
    proc, _ = scan(root, "--test", "tests/test_core.py::test_kill", "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    cpu = load_report(root)["passes"]["cpu"]
    assert cpu["status"] == "failed" and "SIGKILL" in cpu["error"]


def test_test_printing_50_mb(tmp_path):
    root = make(
        tmp_path,
        {
            "tests/test_loud.py": "import sys\n\ndef test_loud():\n    for _ in range(50):\n        sys.stdout.write('x' * (1 << 20) + '\\n')\n"
        },
    )
    before = tree_state(root)
    proc, secs = scan(root, "-s" if False else "--budget", "120", "--", "-s")
    assert proc.returncode == 0, proc.stderr
    assert load_report(root)["passes"]["cpu"]["status"] == "ok"
    assert_unchanged(before, root)


def test_a_test_module_that_cannot_be_imported_does_not_stop_the_others(tmp_path):
    root = make(tmp_path, {"tests/test_broken.py": "import no_such_module_here\n\ndef test_never():\n    pass\n"})
    before = tree_state(root)
    proc, _ = scan(root, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    note = report["target"]["note"]
    assert report["target"]["mode"] == "all" and "collection error" in note and "test_broken.py" in note, note
    assert "exited with code" not in note  # pytest's exit code 1 after a finished session is no crash
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert_unchanged(before, root)


def test_odd_parametrized_ids(tmp_path):
    root = make(
        tmp_path,
        {
            "tests/test_odd.py": (
                "import pytest\n\nimport host.core\n\n"
                "@pytest.mark.parametrize('v', ['a|b', '`tick`', 'new\\nline', 'ünï|`x`'], ids=['a|b', '`tick`', 'new\\nline', 'ünï|`x`'])\n"
                "def test_odd(v):\n    assert 0, v\n"
            )
        },
    )
    before = tree_state(root)
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    md = markdown(root)
    header_pipes = None
    for line in md.splitlines():
        if not line.startswith("|"):
            header_pipes = None
            continue
        pipes = len(re.findall(r"(?<!\\)\|", line))  # unescaped pipes: the row's column count
        header_pipes = header_pipes or pipes
        assert pipes == header_pipes, line
    report = load_report(root)
    assert any("test_odd" in w for w in report["warnings"])
    # named on the command line, an id with a pipe reaches the header, whose fields split on pipes
    proc, _ = scan(root, "--passes", "cpu", "--test", "tests/test_odd.py::test_odd[a|b]")
    assert proc.returncode == 0, proc.stderr
    header = markdown(root).splitlines()[1]
    assert len(re.split(r"(?<!\\)\|", header)) == 4 and "test_odd[a\\|b]" in header, header
    assert_unchanged(before, root)


def test_undecodable_names_in_test_files_and_ids(tmp_path):
    # a file name holding a latin-1 byte and a test id holding a lone surrogate both reach the report
    root = make(
        tmp_path,
        {
            "tests/test_ids.py": (
                "import pytest\n\n@pytest.mark.parametrize('v', ['sur\\udce9'])\ndef test_id(v):\n    assert 0, v\n"
            )
        },
    )
    with open(os.path.join(os.fsencode(root / "tests"), b"test_caf\xe9.py"), "wb") as fh:
        fh.write(b"def test_named():\n    assert 0\n")
    before = tree_state(root)
    proc, _ = scan(root, "--format", "html,sarif")
    assert proc.returncode == 0, proc.stderr
    out = root / ".codeflash"
    for name in ("scan-report.md", "scan-report.json", "scan-report.html", "scan-report.sarif"):
        text = (out / name).read_bytes().decode("utf-8")  # strict UTF-8 throughout
        if name.endswith((".json", ".sarif")):
            # no lone surrogate escaped into the JSON either: strict parsers reject those
            json.dumps(json.loads(text), ensure_ascii=False).encode("utf-8")
    md = markdown(root)
    assert "test_caf\\xe9.py" in md and "test_named" in md and "test_id" in md
    assert proc.stdout.strip().splitlines()[-1].startswith("[scan] CPU: ")
    assert_unchanged(before, root)


def test_read_only_project_with_out_elsewhere(tmp_path):
    root = make(tmp_path, {})
    out = tmp_path / "reports"
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames + [""]:
            p = os.path.join(dirpath, n)
            os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = tree_state(root)  # read-only, permission bits included
    try:
        proc, _ = scan(root, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        assert (out / "scan-report.md").is_file() and not (root / ".codeflash").exists()
        assert_unchanged(before, root)
    finally:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames + [""]:
                p = os.path.join(dirpath, n)
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)


def test_unwritable_out_is_a_one_line_error(tmp_path):
    root = make(tmp_path, {})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc, _ = scan(root, "--out", str(blocker / "sub"))
    assert proc.returncode == 2
    assert "--out" in proc.stderr and "Traceback" not in proc.stderr


def test_malformed_pyproject_is_a_one_line_error(tmp_path):
    root = make(tmp_path, {"pyproject.toml": "[project\nname = 'x'\n"})
    before = tree_state(root, whole=True)
    proc, _ = scan(root)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("perfscan: error:")]
    assert len(errors) == 1 and "pyproject.toml" in errors[0] and "Traceback" not in proc.stderr
    assert_unchanged(before, root, whole=True)


def test_a_runner_that_cannot_start_leaves_no_empty_codeflash(tmp_path):
    root = make(tmp_path, {})
    before = tree_state(root, whole=True)
    proc = run_perfscan(str(root), "--runner", str(tmp_path / "no-such-python"))
    assert proc.returncode == 2 and "cannot be started" in proc.stderr, proc.stderr
    assert_unchanged(before, root, whole=True)  # no .codeflash/ made for a report never written


def test_a_fresh_uv_project_is_left_byte_identical(tmp_path):
    # a fresh clone: uv.lock, no .venv. `uv run` would create .venv (and install into it): the
    # scan says to run `uv sync` first, before running anything, and does not need uv to say so
    root = make(tmp_path, {"uv.lock": "version = 1\nrequires-python = '>=3.9'\n"})
    before = tree_state(root, whole=True)
    proc = run_perfscan(str(root))
    assert proc.returncode == 2, proc.stderr
    (error,) = proc.stderr.strip().splitlines()
    assert (
        error.startswith("perfscan: error: this uv project (uv.lock) has no environment yet") and "`uv sync`" in error
    )
    assert_unchanged(before, root, whole=True)


def test_a_poetry_project_without_its_environment_says_poetry_install(tmp_path):
    root = make(tmp_path, {"poetry.lock": "# poetry lock\n"})
    # poetry on PATH with no environment for the project: `poetry env info --path` answers nothing
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    poetry = bin_dir / "poetry"
    poetry.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "poetry-calls"}\nexit 1\n')
    poetry.chmod(0o755)
    before = tree_state(root, whole=True)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = run_perfscan(str(root), env=env)
    assert proc.returncode == 2, proc.stderr
    (error,) = proc.stderr.strip().splitlines()
    assert "has no poetry environment yet" in error and "`poetry install`" in error
    assert (tmp_path / "poetry-calls").read_text() == "env info --path\n"  # asked, never `poetry run`
    assert_unchanged(before, root, whole=True)


def test_malformed_setup_md_is_noted(tmp_path):
    root = make(tmp_path, {".codeflash/setup.md": "Runner: `uv run 'oops`\n\x00\x01garbage\n"})
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    assert "not a valid command line" in markdown(root)


def test_files_written_by_the_tests_are_listed(tmp_path):
    root = make(
        tmp_path,
        {
            "tests/test_writes.py": "from pathlib import Path\n\ndef test_w():\n    Path('written-by-test.txt').write_text('x')\n"
        },
    )
    before = tree_state(root)
    proc, _ = scan(root)
    assert proc.returncode == 0, proc.stderr
    assert any("written-by-test.txt" in w for w in load_report(root)["warnings"])
    assert_unchanged(before, root, allowed=("written-by-test.txt",))


def test_xdist_coverage_and_benchmark_are_neutralized(tmp_path):
    # the three plugins are in perfscan's test extras, so this runs wherever the suite runs
    for plugin in ("xdist", "pytest_cov", "pytest_benchmark"):
        __import__(plugin)
    root = make(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\nname='host'\nversion='1'\n[tool.pytest.ini_options]\n"
                "addopts = '-n 2 --cov=host --cov-report=html --benchmark-autosave'\n"
            ),
            "tests/test_bench.py": (
                "from host.core import slow_unique\n\n"
                "def test_bench(benchmark):\n    benchmark.pedantic(slow_unique, args=([i % 300 for i in range(3000)],), rounds=2)\n"
            ),
        },
    )
    before = tree_state(root)
    proc, _ = scan(root, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert report["target"]["changed"] == [
        "pytest-xdist: ran with -n 0 (profiles need one process)",
        "pytest-cov: ran with --no-cov (a coverage tracer distorts profiles)",
        "pytest-benchmark: results stored in perfscan's temp folder",
    ]
    md = markdown(root)
    assert "- Changed for profiling: pytest-xdist: ran with -n 0" in md
    assert "- Changed for profiling: pytest-cov: ran with --no-cov" in md
    # one process was profiled: the hotspot is there, measured in the test process itself
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    # no .coverage, htmlcov/ or .benchmarks/ appeared in the project
    assert_unchanged(before, root)


def _children_of(pid: int) -> list:
    """Command lines of every process descending from pid (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    out = []
    for p in found:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as fh:
                out.append(fh.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return out


def test_sigint_kills_children_and_leaves_no_report(tmp_path):
    root = make(tmp_path, {"tests/test_hang.py": "import time\n\ndef test_hang():\n    time.sleep(3600)\n"})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), TMPDIR=str(tmpdir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfscan", str(root), "--runner", sys.executable],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a suite started in the background (`pytest &`) ignores SIGINT, and
        # its children would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # interrupt only once a child of the scan (the project's tests under the probe) is running
    running = []
    deadline = time.monotonic() + 60
    while not running and time.monotonic() < deadline and proc.poll() is None:
        running = [c for c in _children_of(proc.pid) if "perfscan_probe" in c]
        time.sleep(0.2)
    assert running, "no probe child started before the interrupt"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "perfscan: interrupted; no report written" in err
    assert not (root / ".codeflash" / "scan-report.md").exists()
    assert list(tmpdir.iterdir()) == []
    leftover = subprocess.run(["pgrep", "-f", str(root)], capture_output=True, text=True).stdout.strip()
    assert leftover == ""


def test_two_scans_at_once_do_not_collide(tmp_path):
    a, b = make(tmp_path, {}, "a"), make(tmp_path, {}, "b")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "perfscan", str(r), "--runner", sys.executable, "--quiet"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (a, b)
    ]
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    for r in (a, b):
        assert load_report(r)["project"]["root"] == str(r)


def test_a_crash_under_the_sampler_falls_back_to_cprofile(tmp_path):
    # a test that dies only while the CPU-time timer is armed stands in for a crash the sampling
    # engine provokes: the CPU pass still gets its profile, from cProfile, and says why
    root = make(
        tmp_path,
        {
            "tests/test_fragile.py": (
                "import os, signal\n\n"
                "def test_fragile():\n"
                "    if signal.getitimer(signal.ITIMER_PROF)[0] > 0:\n"
                "        os.kill(os.getpid(), signal.SIGSEGV)\n"
            )
        },
    )
    before = tree_state(root)
    proc, _ = scan(root, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    cpu = load_report(root)["passes"]["cpu"]
    assert cpu["status"] == "ok", cpu
    assert any("killed by SIGSEGV" in n and "from cProfile instead" in n for n in cpu["notes"]), cpu["notes"]
    assert any(f["symbol"] == "slow_unique" for f in load_report(root)["findings"])
    assert_unchanged(before, root)


def test_the_projects_own_pytest_plugin_is_harness_not_a_hotspot(tmp_path):
    root = make(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n\n[project.entry-points.pytest11]\nhost = 'host.plugin'\n",
            "host/plugin.py": (
                "import pytest\n\n@pytest.fixture(autouse=True)\ndef warm_up():\n"
                "    busy = [i * i for i in range(400000)]\n    yield len(busy)\n"
            ),
            "conftest.py": "pytest_plugins = ['host.plugin']\n",
        },
    )
    proc, _ = scan(root, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert not [f for f in report["findings"] if f["module"] == "host.plugin"], report["findings"]
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert any("own pytest plugin (host.plugin)" in n for n in report["passes"]["cpu"]["notes"])
    # the plugin's time is still in the profile's table: only findings leave it out
    assert any(r["function"].startswith("host.plugin:") for r in report["passes"]["cpu"]["data"]["top"])


def test_a_failed_test_is_quoted_by_its_assertion(tmp_path):
    root = make(
        tmp_path,
        {
            "tests/test_fails.py": (
                "def test_count():\n    xs = list(range(5999))\n    assert len(xs) == 6000\n\n"
                "def test_lists():\n    assert [1, 2, 3, 4] == [1, 2, 3, 5]\n\n"
                "def test_raises():\n    raise ValueError('bad row 42')\n"
            )
        },
    )
    proc, _ = scan(root, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    [warning] = [w for w in report["warnings"] if "failed in the plain run" in w]
    assert warning.startswith("3 test(s) failed in the plain run: "), warning
    assert "tests/test_fails.py::test_count (assert 5999 == 6000)" in warning
    assert "tests/test_fails.py::test_lists (assert [1, 2, 3, 4] == [1, 2, 3, 5])" in warning
    assert "tests/test_fails.py::test_raises (ValueError: bad row 42)" in warning
    assert "Use -v" not in warning and "where" not in warning
    assert report["summary"]["failed_tests"] == 3
    summary = proc.stdout.strip().splitlines()[-1]
    assert "| Async: 0 targets | 3 tests failed | Top: " in summary, summary
    # a scan whose tests pass says nothing of failures
    (root / "tests" / "test_fails.py").unlink()
    proc, _ = scan(root, "--passes", "cpu", "--quiet")
    assert "failed" not in proc.stdout and load_report(root)["summary"]["failed_tests"] == 0
