"""perfscan never modifies the project it scans: it writes its reports into .codeflash/ and nothing
else, leaves the user's own files there (setup.md) as they were, changes no permission, and
writes nothing where it was started. The check every scanning test uses (`tree_state` and
`assert_unchanged` in conftest.py) is tested here too, so a scan that broke these would be seen."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from conftest import (
    SLOW_UNIQUE,
    assert_unchanged,
    load_report,
    perfscan_outputs,
    run_perfscan,
    tree_state,
    write_project,
)

SETUP_MD = "# Setup\n- Runner: `{python}`\n- Test command: `$RUNNER -m pytest tests/`\n"


def project(tmp_path):
    root = write_project(
        tmp_path / "proj",
        {
            "pyproject.toml": "[project]\nname = 'proj'\nversion = '1'\n",
            "proj/__init__.py": "",
            "proj/core.py": SLOW_UNIQUE + "\n\nasync def fetch(path):\n    return open(path).read()\n",
            "tests/test_core.py": (
                "from proj.core import slow_unique\n\n"
                "def test_u():\n    assert len(slow_unique([i % 1500 for i in range(15000)])) == 1500\n"
            ),
            "tools/run.sh": "#!/bin/sh\necho run\n",
            "data/frozen.txt": "do not touch\n",
            # the user's own files in the output folder
            ".codeflash/setup.md": SETUP_MD.format(python=sys.executable),
            ".codeflash/notes.md": "what I found last week\n",
        },
    )
    os.chmod(root / "tools" / "run.sh", 0o755)
    os.chmod(root / "data" / "frozen.txt", 0o444)
    os.chmod(root / ".codeflash" / "notes.md", 0o600)
    return root


# --- the check itself ---------------------------------------------------------------------------


def test_the_check_sees_a_users_file_in_codeflash_removed(tmp_path):
    root = project(tmp_path)
    before = tree_state(root)
    (root / ".codeflash" / "setup.md").unlink()
    with pytest.raises(AssertionError, match=r"\.codeflash/setup\.md"):
        assert_unchanged(before, root)


def test_the_check_sees_a_users_file_in_codeflash_rewritten(tmp_path):
    root = project(tmp_path)
    before = tree_state(root)
    (root / ".codeflash" / "notes.md").write_text("what I found last week\n\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"\.codeflash/notes\.md"):
        assert_unchanged(before, root)


@pytest.mark.parametrize("rel, mode", [("tools/run.sh", 0o644), ("data/frozen.txt", 0o644), ("data", 0o700)])
def test_the_check_sees_a_permission_change(tmp_path, rel, mode):
    root = project(tmp_path)
    before = tree_state(root)
    os.chmod(root / rel, mode)
    with pytest.raises(AssertionError, match=rel):
        assert_unchanged(before, root)


def test_the_check_sees_a_stray_file_in_codeflash(tmp_path):
    root = project(tmp_path)
    before = tree_state(root)
    (root / ".codeflash" / ".scan-report.json.123.tmp").write_text("{", encoding="utf-8")
    with pytest.raises(AssertionError, match="tmp"):
        assert_unchanged(before, root)


def test_the_check_lets_perfscan_write_its_own_outputs(tmp_path):
    root = write_project(tmp_path / "bare", {"pyproject.toml": "[project]\nname = 'bare'\n"})
    before = tree_state(root)
    assert {"scan-report.json", "scan-report.md", "scan-report.sarif", "cpu.pstats"} <= perfscan_outputs()
    (root / ".codeflash").mkdir()
    for name in perfscan_outputs():
        (root / ".codeflash" / name).write_text("x", encoding="utf-8")
    assert_unchanged(before, root)


# --- a real scan ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_scan_leaves_the_users_files_permissions_and_working_directory_alone(tmp_path):
    root = project(tmp_path)
    before = tree_state(root)
    modes = {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel in ("tools/run.sh", "data/frozen.txt")}
    # run_perfscan starts perfscan in an empty folder of its own and fails if anything appears there
    proc = run_perfscan(str(root), "--passes", "cpu,async", "--format", "sarif,html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = load_report(root)
    # setup.md was read (its runner is the one used), not rewritten
    assert f"via {sys.executable} (.codeflash/setup.md" in proc.stderr, proc.stderr[:2000]
    assert {f["symbol"] for f in report["findings"]} >= {"slow_unique", "fetch"}
    assert (root / ".codeflash" / "setup.md").read_text(encoding="utf-8") == SETUP_MD.format(python=sys.executable)
    assert (root / ".codeflash" / "notes.md").read_text(encoding="utf-8") == "what I found last week\n"
    assert {rel: stat.S_IMODE(os.stat(root / rel).st_mode) for rel in modes} == modes
    assert_unchanged(before, root)
    # a second scan that writes fewer formats removes its own stale outputs, and only those
    proc = run_perfscan(str(root), "--passes", "async")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (root / ".codeflash").iterdir()) == [
        "notes.md",
        "scan-report.json",
        "scan-report.md",
        "setup.md",
    ]
    assert_unchanged(before, root)
