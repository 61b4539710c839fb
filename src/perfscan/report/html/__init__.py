"""`.codeflash/scan-report.html`: the whole scan on one self-contained page.

The page is drawn from the JSON report's data alone (the same dict `scan-report.json` holds):
the ranked findings, the CPU pass's call tree (`passes.cpu.data.flame`), the import pass's
waterfall (`passes.import.data.waterfall`) and the memory pass's top allocations
(`passes.memory.data.top`). It reads no artifact and runs nothing, so a saved report renders
the same page on any machine. The stylesheet and script are package data (`assets/`).
"""

from __future__ import annotations

from typing import Any, Mapping

from perfscan.models import ScanResult
from perfscan.report.html.page import render_page
from perfscan.report.json_report import to_dict
from perfscan.report.saved import load_report

__all__ = ["render_html", "render_html_from_json"]


def render_html(result: ScanResult) -> str:
    """The page of a scan that just ran."""
    return render_page(to_dict(result))


def render_html_from_json(report: Mapping[str, Any]) -> str:
    """The page of a saved `scan-report.json` (parsed); missing keys read as the writer's defaults."""
    return render_page(to_dict(load_report(report)))
