"""Bad input: each case gets a clear message or a note in the report, and the scan still finishes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

SLOW_LIB = {
    "calc/__init__.py": "",
    "calc/core.py": SLOW_UNIQUE,
}


def test_no_pyproject_still_scans(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            SLOW_LIB,
            **{
                "tests/test_core.py": "from calc.core import slow_unique\n\ndef test_u():\n    assert len(slow_unique([i % 3000 for i in range(30000)])) == 3000\n",
            },
        ),
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,async")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert report["deployment"]["model"] == "library"
    top = report["findings"][0]
    assert (top["symbol"], top["pattern"], top["file"]) == ("slow_unique", "quadratic-membership", "calc/core.py")
    assert_unchanged(before, root)


def test_no_tests_is_an_error_and_static_passes_still_run(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            SLOW_LIB,
            **{
                "pyproject.toml": "[project]\nname = 'calc'\nversion = '1'\n",
            },
        ),
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable)
    # the CPU and memory passes measured nothing: an error, with the report written and the reason
    assert proc.returncode == 2, proc.stderr
    assert "Top: no tests" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("perfscan: error: no tests")
    report = load_report(root)
    assert report["summary"]["unmeasured"].startswith("no tests")
    assert report["target"]["mode"] == "none"
    assert report["passes"]["cpu"]["status"] == "skipped"
    assert "no tests" in report["passes"]["cpu"]["error"]
    assert report["passes"]["async"]["status"] == "ok"
    assert "no tests" in (root / ".codeflash" / "scan-report.md").read_text()
    assert_unchanged(before, root)


def test_collection_error_fails_the_scan_even_with_fail_on_and_quiet(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(SLOW_LIB, **{"tests/test_core.py": "import not_installed_anywhere\n\ndef test_u():\n    pass\n"}),
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--fail-on", "low", "--quiet")
    assert proc.returncode == 2, proc.stderr
    (summary,) = proc.stdout.strip().splitlines()
    assert "Top: no tests" in summary and "not_installed_anywhere" in summary, summary
    (error,) = proc.stderr.strip().splitlines()
    assert error.startswith("perfscan: error: no tests") and "--passes import,async" in error
    md = (root / ".codeflash" / "scan-report.md").read_text()
    assert "measured nothing" in md and "the scan exits 2" in md
    assert_unchanged(before, root)


def test_static_passes_alone_need_no_tests(tmp_path):
    root = write_project(
        tmp_path / "p", dict(SLOW_LIB, **{"pyproject.toml": "[project]\nname = 'calc'\nversion = '1'\n"})
    )
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "import,async", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert load_report(root)["summary"]["unmeasured"] is None


def test_failing_test_profile_still_used(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            SLOW_LIB,
            **{
                "tests/test_core.py": (
                    "from calc.core import slow_unique\n\n"
                    "def test_fails_after_work():\n"
                    "    assert len(slow_unique([i % 3000 for i in range(30000)])) == 7, 'wrong count'\n"
                ),
            },
        ),
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    notes = " ".join(report["passes"]["cpu"]["notes"])
    assert "test_fails_after_work" in notes and "failed" in notes
    assert_unchanged(before, root)


def test_missing_runner_is_a_one_line_error(tmp_path):
    root = write_project(tmp_path / "p", SLOW_LIB)
    proc = run_perfscan(str(root), "--runner", "/nonexistent/bin/python")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--runner" in lines[0] and "cannot be started" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("where", ["flag", "pyproject-runner", "pyproject-pytest-args"])
def test_unclosed_quote_in_a_command_line_is_a_one_line_error(tmp_path, where):
    files = dict(SLOW_LIB, **{"pyproject.toml": "[project]\nname = 'calc'\nversion = '1'\n"})
    args = []
    if where == "flag":
        args = ["--runner", "'oops"]
    else:
        key = "runner" if where == "pyproject-runner" else "pytest-args"
        files["pyproject.toml"] = files["pyproject.toml"] + f'\n[tool.perfscan]\n{key} = "-k \'oops"\n'
    root = write_project(tmp_path / "p", files)
    before = tree_state(root)
    proc = run_perfscan(str(root), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No closing quotation" in lines[0] and "quoting" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert_unchanged(before, root)


def test_runner_without_pytest_is_a_one_line_error(tmp_path):
    root = write_project(tmp_path / "p", dict(SLOW_LIB, **{"tests/test_a.py": "def test_a():\n    pass\n"}))
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    proc = run_perfscan(str(root), "--runner", str(venv / "bin" / "python"))
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("perfscan: error:")]
    assert len(errors) == 1 and "cannot import pytest" in errors[0] and "--runner" in errors[0]
    assert "Traceback" not in proc.stderr


def test_path_that_does_not_exist(tmp_path):
    proc = run_perfscan(str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_relative_runner_path_is_relative_to_where_the_user_stands(tmp_path):
    root = write_project(
        tmp_path / "p",
        dict(
            SLOW_LIB,
            **{
                "tests/test_core.py": "from calc.core import slow_unique\n\ndef test_u():\n    assert len(slow_unique([i % 500 for i in range(5000)])) == 500\n",
            },
        ),
    )
    (tmp_path / "bin").mkdir()
    os.symlink(sys.executable, tmp_path / "bin" / "python")
    proc = run_perfscan("p", "--runner", "bin/python", "--passes", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_report(root)["passes"]["cpu"]["status"] == "ok"
