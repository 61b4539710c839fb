"""A saved scan-report.json read back (`load_report`): what it holds comes back the same."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import SLOW_UNIQUE, run_perfscan, write_project

from perfscan.diff import compare
from perfscan.passes.async_pass.section import AsyncSection
from perfscan.passes.imports.section import ImportSection
from perfscan.report.json_report import render_json, to_dict
from perfscan.report.markdown import render_markdown
from perfscan.report.saved import load_report

PROJECT = {
    "pyproject.toml": "[project]\nname = 'saved'\nversion = '1'\n[tool.perfscan.thresholds]\nimport = { low = 10 }\n",
    "saved/__init__.py": "import time as _t\n_s = _t.process_time()\nwhile _t.process_time() - _s < 0.03:\n    pass\n",
    "saved/core.py": SLOW_UNIQUE + "\n\nasync def fetch(path):\n    return open(path).read()\n",
    "tests/test_core.py": (
        "from saved.core import slow_unique\n\n"
        "def test_u():\n    assert len(slow_unique([i % 2000 for i in range(20000)])) == 2000\n"
    ),
}


@pytest.mark.slow
def test_a_real_scan_reads_back_the_same(tmp_path):
    root = write_project(tmp_path / "saved", PROJECT)
    proc = run_perfscan(str(root), "--runner", sys.executable)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = root / ".codeflash"
    text = (out / "scan-report.json").read_text(encoding="utf-8")
    saved = json.loads(text)
    assert {f["domain"] for f in saved["findings"]} >= {"cpu", "import", "async"}, saved["findings"]

    result = load_report(saved)
    assert to_dict(result) == saved
    assert render_json(result) == text
    assert isinstance(result.passes["import"].data, ImportSection) and result.passes["import"].data.waterfall.rows
    assert isinstance(result.passes["async"].data, AsyncSection) and result.passes["async"].data.has_async
    assert result.settings.thresholds.levels("import")[-1] == (10.0, "low")

    # the Markdown report's ranked table comes out the same from the saved JSON
    def table(md: str) -> list:
        return [ln for ln in md.splitlines() if ln.startswith("| ") and "|---" not in ln][: len(saved["findings"]) + 1]

    assert table(render_markdown(result)) == table((out / "scan-report.md").read_text(encoding="utf-8"))
    assert {c.kind for c in compare(saved, saved)} == {"unchanged"}


def test_a_partial_report_loads_with_defaults():
    result = load_report(
        {"findings": [{"domain": "cpu", "qualname": "m:f", "severity": "high", "metric": {"value": 12, "unit": "%"}}]}
    )
    (r,) = result.findings
    assert (r.severity, r.base_severity, r.finding.metric.value, r.finding.pattern) == ("high", "high", 12, "none")
    assert result.passes == {} and result.project.root == Path(".")


def test_a_report_of_another_schema_is_refused():
    with pytest.raises(ValueError, match="schema version 99"):
        load_report({"schema_version": 99, "findings": []})
