"""`--fail-on SEVERITY` (and `fail-on` in [tool.perfscan]): exit 1 exactly when a finding is at or
above the severity. The project's findings sit on both sides of each bound: its async findings
have fixed severities (docs/design.md "Ranking": sequential awaits are high, an await in a loop is
medium), so the scan needs no profiler and the bound is never a matter of timing."""

from __future__ import annotations

import sys

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan import cli

AIO = """import asyncio


async def send_email(to):
    await asyncio.sleep(0)
    return 1


async def send_sms(to):
    await asyncio.sleep(0)
    return 1


async def push(to):
    await asyncio.sleep(0)
    return 1


async def notify_each(users):
    sent = []
    for user in users:
        sent.append(await send_email(user))
    return sent
"""
# three independent awaits one after the other: high (the other finding is medium)
SEQUENTIAL = """

async def notify(user):
    a = await send_email(user)
    b = await send_sms(user)
    c = await push(user)
    return a + b + c
"""
PYPROJECT = "[project]\nname = 'app'\nversion = '1'\n"


def project(tmp_path, *, high: bool, tool: str = ""):
    files = {
        "pyproject.toml": PYPROJECT + (f"\n[tool.perfscan]\n{tool}\n" if tool else ""),
        "app/__init__.py": "",
        "app/aio.py": AIO + (SEQUENTIAL if high else ""),
    }
    return write_project(tmp_path / ("high" if high else "medium"), files)


def scan(root, *args: str, capsys) -> int:
    """The scan in this process (async pass only: no test runs), as `perfscan ROOT ARGS` would run it."""
    before = tree_state(root)
    code = cli.main([str(root), "--runner", sys.executable, "--passes", "async", "--quiet", *args])
    capsys.readouterr()
    assert_unchanged(before, root)
    return code


def severities(root) -> list:
    return sorted(f["severity"] for f in load_report(root)["findings"])


@pytest.fixture
def mixed(tmp_path):
    root = project(tmp_path, high=True)
    return root


@pytest.fixture
def medium_only(tmp_path):
    return project(tmp_path, high=False)


@pytest.mark.parametrize("fail_on, code", [("critical", 0), ("high", 1), ("medium", 1), ("low", 1), ("info", 1)])
def test_fail_on_with_findings_on_both_sides_of_the_bound(mixed, capsys, fail_on, code):
    assert scan(mixed, "--fail-on", fail_on, capsys=capsys) == code
    assert severities(mixed) == ["high", "medium"]


@pytest.mark.parametrize("fail_on, code", [("critical", 0), ("high", 0), ("medium", 1), ("low", 1)])
def test_fail_on_with_only_a_medium_finding(medium_only, capsys, fail_on, code):
    assert scan(medium_only, "--fail-on", fail_on, capsys=capsys) == code
    assert severities(medium_only) == ["medium"]


def test_without_fail_on_findings_exit_0(mixed, capsys):
    assert scan(mixed, capsys=capsys) == 0
    assert severities(mixed) == ["high", "medium"]


@pytest.mark.parametrize("high, fail_on, code", [(True, "high", 1), (False, "high", 0), (False, "medium", 1)])
def test_fail_on_from_pyproject(tmp_path, capsys, high, fail_on, code):
    root = project(tmp_path, high=high, tool=f'fail-on = "{fail_on}"')
    assert scan(root, capsys=capsys) == code


def test_the_command_line_fail_on_beats_pyproject(tmp_path, capsys):
    root = project(tmp_path, high=True, tool='fail-on = "medium"')
    assert scan(root, "--fail-on", "critical", capsys=capsys) == 0
    root = project(tmp_path / "other", high=False, tool='fail-on = "critical"')
    assert scan(root, "--fail-on", "medium", capsys=capsys) == 1


def test_fail_on_as_a_ci_job_runs_it(tmp_path):
    # the real command line: exit code, the one summary line on stdout, the report written all the same
    root = project(tmp_path, high=False)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "async", "--fail-on", "medium")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("[scan] ") and "[medium Async]" in proc.stdout
    assert severities(root) == ["medium"]
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "async", "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr
    assert_unchanged(before, root)
