"""The Markdown report's tables: rows from odd but legal pass data."""

from __future__ import annotations

from perfscan.models import PassResult
from perfscan.passes.cpu.section import CpuSection
from perfscan.report.markdown import _domain_tables


def _cpu_row(**kw):
    row = {
        "function": "pkg.plugin:get_runner",
        "file": "pkg/plugin.py",
        "line": 3,
        "attributable_pct": 4.0,
        "own_pct": 1.0,
        "cumulative_pct": 9.0,
        "calls": 12,
        "primitive_calls": 10,
    }
    row.update(kw)
    return row


def test_cpu_table_rows_with_and_without_call_counts():
    # a function loaded before the counters (the project's own pytest plugin) has no counts
    data = {
        "wall_seconds": 1.0,
        "phase_seconds": {"call": 1.0},
        "threads": 1,
        "top": [_cpu_row(), _cpu_row(calls=None, primitive_calls=None), _cpu_row(calls=7, primitive_calls=7)],
    }
    lines = _domain_tables("cpu", PassResult("cpu", "ok", 1.0, data=CpuSection.from_json(data)))
    rows = [ln for ln in lines if ln.startswith("| pkg.plugin")]
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == ["12 (10 primitive)", "not counted", "7"]
