"""The report writers, word for word: the Markdown report (which a router parses), the JSON report,
the summary line and the terminal table, rendered from saved scans and compared with the reviewed
text in tests/data/reports/. The layout changes only on purpose (CONTRIBUTING.md): when it does,
regenerate with `PERFSCAN_UPDATE_GOLDEN=1 pytest tests/test_report_writers.py`, read the diff,
and commit it with the change.

The scans: a real scan of the corpus's srv_inventory (every domain, every section's tables), the
same with what a scan can add (a failed pass, user thresholds, warnings, hostile text, adjusted
severities), and a `perfscan exec` that measured nothing.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from conftest import REPO

from perfscan.diff import compare, engine_note, to_json
from perfscan.diff import render_markdown as render_diff
from perfscan.report.json_report import render_json, to_dict
from perfscan.report.markdown import cell, inline, render_markdown
from perfscan.report.sarif import render_sarif
from perfscan.report.saved import load_report
from perfscan.report.summary import summary_line, top_table

DATA = REPO / "tests" / "data" / "reports"
UPDATE = os.environ.get("PERFSCAN_UPDATE_GOLDEN") == "1"


def real() -> Dict[str, Any]:
    return json.loads((DATA / "srv_inventory.json").read_text(encoding="utf-8"))


def eventful() -> Dict[str, Any]:
    d = real()
    d["target"].update(
        mode="selected",
        collected=9,
        tests=["tests/test_service.py::test_export[a|b]", "tests/test_service.py::test_not_found"],
        note="2 of 9 tests fit in the time slice",
    )
    d["thresholds"]["cpu"] = {"critical": 30.0, "high": 5.0, "medium": 2.0}
    d["passes"]["memory"].update(status="failed", error="internal error in the memory pass: boom | `x`\nsecond line")
    d["warnings"] = ["files changed in the project during the scan: out.txt", "a `tick` and a | pipe"]
    top = d["findings"][0]
    top["evidence"] = "json.dumps called in a loop | twice `quoted`\nover two lines"
    top["severity"], top["note"] = "low", "in test setup: one-time start-up work for a server, not per request"
    top["runtime_confirmed"] = True
    # hot lines (a report older than them, like the real scan's, shows none): the top finding's
    # with a waiting split, and Stock.load's: its inner loop, and a text holding a backtick and a pipe
    top["details"]["hot_lines"] = [
        {
            "line": 14,
            "seconds": 0.61,
            "share_pct": 72.4,
            "cpu_seconds": 0.61,
            "wait_seconds": 0.0,
            "text": 'line = json.dumps({"article": row["article"], "barcode": row["barcode"], "quantity": row["quantity"],',
        },
        {
            "line": 16,
            "seconds": 0.18,
            "share_pct": 21.3,
            "cpu_seconds": 0.04,
            "wait_seconds": 0.14,
            "text": 'body = body + line + "\\n"',
        },
    ]
    load = next(f for f in d["findings"] if f["qualname"] == "inventory.stock:Stock.load")
    load["details"]["hot_lines"] = [
        {
            "line": 17,
            "seconds": 0.15,
            "share_pct": 75.0,
            "cpu_seconds": 0.15,
            "wait_seconds": None,
            "text": "for existing in self._rows:",
            "end_line": 19,
        },
        {
            "line": 18,
            "seconds": 0.04,
            "share_pct": 20.0,
            "cpu_seconds": 0.04,
            "wait_seconds": None,
            "text": 'if existing["article"] == article and existing["warehouse"] == warehouse:  # `a | b`',
        },
    ]
    return d


def measured_nothing() -> Dict[str, Any]:
    d = real()
    d["target"] = {
        "tests": [],
        "pytest_args": [],
        "mode": "exec",
        "collected": 0,
        "note": "",
        "exec": ["python", "-m", "app.cli", "--rows", "3000"],
        "changed": [],
    }
    d["passes"] = {"import": dict(d["passes"]["import"], status="skipped", error="no importable package")}
    d["findings"] = []
    d["summary"]["unmeasured"] = "no tests collected; collection errors: tests/test_a.py"
    d["warnings"] = []
    return d


SCANS: Dict[str, Callable[[], Dict[str, Any]]] = {
    "srv_inventory": real,
    "eventful": eventful,
    "measured_nothing": measured_nothing,
}


def rendered(name: str) -> Dict[str, str]:
    result = load_report(SCANS[name]())
    return {
        "md": render_markdown(result),
        "sarif": render_sarif(result),
        "json": render_json(result),
        "txt": summary_line(result)
        + "\n\n"
        + top_table(result)
        + "\n\n"
        + top_table(result, limit=2, colour=True)
        + "\n",
    }


def after_a_change() -> Dict[str, Any]:
    """The real scan after a change: export_rows twice as slow, Stock.load fixed, a new hotspot,
    the import faster, the growth gone, measured with another CPU engine."""
    d = real()
    by_name = {f["qualname"] + " " + f["pattern"]: f for f in d["findings"]}
    slower = by_name["inventory.wsgi:export_rows serialize-in-loop"]
    slower["details"]["attributable_seconds"] = 1.9
    slower["metric"]["value"] = 70.0  # a smaller share of a longer run: still worse
    d["findings"].remove(by_name["inventory.stock:Stock.load nested-loop"])
    d["findings"].remove(by_name["inventory.wsgi:_RECENT_EXPORTS per-request-growth"])
    by_name["inventory.barcodes import-time-computation"]["metric"]["value"] = 300.0
    d["findings"].append(
        dict(slower, qualname="inventory.stock:Stock.in_warehouse", symbol="Stock.in_warehouse", pattern="none")
    )
    d["findings"][-1]["details"] = {"attributable_seconds": 0.5}
    d["findings"][-1]["severity"] = "high"
    d["passes"]["cpu"]["data"]["engine_id"] = "cprofile"
    return d


def test_diff_rendered_as_reviewed():
    base, head = real(), after_a_change()
    changes = compare(base, head)
    for ext, text in (("md", render_diff(changes, engine_note(base, head))), ("json", to_json(changes))):
        golden = DATA / f"diff.golden.{ext}"
        if UPDATE:
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: see the module doc to regenerate"
    # the same engine: no note, no blank line for it
    assert render_diff(compare(base, base), engine_note(base, base)).startswith(
        "## perfscan diff\n\n0 new, 0 worsened, 0 improved, 0 gone, 12 unchanged\n\n| Change | Severity |"
    )


@pytest.mark.parametrize("name", sorted(SCANS))
@pytest.mark.parametrize("ext", ["md", "json", "txt", "sarif"])
def test_rendered_as_reviewed(name, ext):
    text = rendered(name)[ext]
    golden = DATA / f"{name}.golden.{ext}"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: see the module doc to regenerate"


def test_the_saved_scan_reads_back_as_it_was_written():
    # the real scan's JSON, loaded and written again, is the same document
    saved = real()
    assert to_dict(load_report(copy.deepcopy(saved))) == saved


def test_the_markdown_keeps_the_headings_a_router_parses():
    md = rendered("srv_inventory")["md"]
    for heading in (
        "# Codeflash Scan Report",
        "## Top Targets (ranked by estimated impact)",
        "## Domain Recommendations",
        "## Detailed Findings",
        "### Memory",
        "### Import Time",
        "### Async (static analysis)",
    ):
        assert f"\n{heading}" in "\n" + md
    assert md.splitlines()[1].startswith("**Scanned**: 4 tests (the whole suite) | **Date**: ")


def test_every_table_row_has_the_header_s_columns():
    for name in SCANS:
        columns = None
        for line in rendered(name)["md"].splitlines():
            if not line.startswith("|"):
                columns = None
                continue
            pipes = sum(1 for i, ch in enumerate(line) if ch == "|" and (i == 0 or line[i - 1] != "\\"))
            columns = columns or pipes
            assert pipes == columns, (name, line)


def test_cell_and_inline_escape_what_would_break_a_line():
    assert cell("a|b `c`\\d\r\ne") == "a\\|b \\`c\\`\\\\d e"
    assert cell(None) == "" and cell(3) == "3"
    assert inline("x `y`\n  z") == "x 'y' z"


def test_the_golden_files_are_all_used():
    used = {f"{n}.golden.{e}" for n in SCANS for e in ("md", "json", "txt", "sarif")} | {
        "diff.golden.md",
        "diff.golden.json",
    }
    assert {p.name for p in Path(DATA).glob("*.golden.*")} == used


def test_short_descriptions_of_odd_findings():
    from perfscan.models import Finding, Metric, RankedFinding
    from perfscan.report.describe import one_line, target_name

    def ranked(**kw):
        base = dict(
            domain="cpu",
            symbol="f",
            qualname="m:f",
            module="m",
            file="m.py",
            line=3,
            metric=Metric(5.0, "%", "5% of time"),
            pattern="none",
            evidence="",
            estimated_impact="",
            phase="call",
        )
        base.update(kw)
        return RankedFinding(Finding(**base), 1, "high", "high", "", 1.0)

    assert one_line(ranked()) == "f (m.py:3): 5% of time [high CPU]"
    assert one_line(ranked(pattern="made-up")) == "f (m.py:3): 5% of time [high CPU]"
    assert one_line(ranked(domain="gpu")) == "f (m.py:3): 5% of time [high gpu]"
    assert target_name(ranked(line=None)) == "f (m.py)"
    assert target_name(ranked(file=None)) == "f"
    assert target_name(ranked(qualname="", symbol="sym")) == "sym (m.py:3)"
    assert target_name(ranked(domain="import", module=None, symbol="pkg")) == "pkg"
    assert target_name(ranked(domain="import", module="pkg.mod", symbol="x")) == "pkg.mod"


def test_thresholds_described_with_units():
    from perfscan.models import Thresholds
    from perfscan.report.describe import describe_thresholds

    t = Thresholds((("cpu", ((20.0, "critical"),)), ("gpu", ((2.5, "high"),))))
    assert describe_thresholds(t) == "cpu: critical > 20%; gpu: high > 2.5"
