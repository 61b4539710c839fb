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
    assert "test_zz_hang" not in " ".join(report["target"]["tests"])
    assert "did not finish" in report["target"]["note"]
    assert "(still running: tests/test_hang.py::test_zz_hang)" in report["target"]["note"]
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert_unchanged(before, root)


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
                "import pytest\n\n"
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
    proc, _ = scan(root)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("perfscan: error:")]
    assert len(errors) == 1 and "pyproject.toml" in errors[0] and "Traceback" not in proc.stderr


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
