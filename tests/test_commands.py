"""The command line: the subcommand table, `perfscan explain`, and a `--version` that loads nothing."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from conftest import REPO, run_perfscan

from perfscan import catalog
from perfscan.commands import COMMANDS, SCAN


def test_explain_prints_the_pattern_doc():
    proc = run_perfscan("explain", "quadratic-membership")
    assert proc.returncode == 0, proc.stderr
    assert catalog.get("quadratic-membership").doc in proc.stdout
    assert proc.stdout.startswith("# quadratic-membership (CPU): quadratic membership test")
    assert proc.stderr == ""


def test_explain_unknown_pattern_is_one_line_naming_the_closest():
    proc = run_perfscan("explain", "quadratic-member")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("perfscan: error: no pattern named 'quadratic-member'")
    assert "quadratic-membership" in proc.stderr


def test_explain_lists_every_pattern():
    proc = run_perfscan("explain")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [(p.id, p.domain) for p in catalog.PATTERNS]
    assert all(" ".join(r[2:]) == p.title for r, p in zip(rows, catalog.PATTERNS))


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if n != SCAN))
def test_every_named_command_runs_from_the_table(name):
    assert callable(importlib.import_module(COMMANDS[name]).main)
    proc = run_perfscan(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: perfscan {name}")


def test_scan_has_no_name_on_the_command_line(tmp_path):
    # `perfscan scan` is a scan of a folder named scan, as before there were subcommands
    proc = run_perfscan("scan", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "perfscan: error: scan does not exist; pass the path of a project folder\n"


def test_version_loads_no_command():
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    code = (
        "import sys; from perfscan.cli import main; main(['--version']); "
        "print(sorted(m for m in sys.modules if m.startswith('perfscan') or m in ('argparse', 'dataclasses')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    version, loaded = proc.stdout.splitlines()
    assert version.startswith("perfscan ")
    assert loaded == "['perfscan', 'perfscan.cli', 'perfscan.commands']"
