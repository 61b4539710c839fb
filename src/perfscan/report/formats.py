"""The report formats as data: each format's file name and renderer.

A renderer is one function `render(result: ScanResult) -> str`, named by module and function so
that a format's code is imported only when it is written. The two twins (JSON and Markdown) are
written by every scan; the extra formats when the settings ask for them (`--format`).

To add a format: a renderer module and a row in EXTRA_FORMATS (`--format` accepts its name).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

from perfscan.models import ScanResult


@dataclass(frozen=True)
class ReportFormat:
    name: str
    file_name: str  # in the output folder
    module: str
    function: str

    def render(self, result: ScanResult) -> str:
        renderer: Callable[[ScanResult], str] = getattr(importlib.import_module(self.module), self.function)
        return renderer(result)


REPORT_TWINS: Tuple[ReportFormat, ...] = (
    ReportFormat("json", "scan-report.json", "perfscan.report.json_report", "render_json"),
    ReportFormat("md", "scan-report.md", "perfscan.report.markdown", "render_markdown"),
)

EXTRA_FORMATS: Dict[str, ReportFormat] = {
    f.name: f
    for f in (
        ReportFormat("sarif", "scan-report.sarif", "perfscan.report.sarif", "render_sarif"),
        ReportFormat("html", "scan-report.html", "perfscan.report.html", "render_html"),
    )
}
