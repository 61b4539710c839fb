"""The one line on stdout, and the aligned table for a terminal."""

from __future__ import annotations

from typing import List

from perfscan.models import DOMAIN_TITLES, DOMAINS, ScanResult
from perfscan.progress import SEVERITY_COLOURS, paint
from perfscan.report.describe import one_line, target_name
from perfscan.report.json_report import summary_counts


def summary_line(result: ScanResult) -> str:
    counts = summary_counts(result)
    parts = [f"{DOMAIN_TITLES[d]}: {counts.get(d, 0)} targets" for d in DOMAINS]
    if result.failed_tests:
        # before Top, whose description runs to the end of the line
        parts.append(f"{result.failed_tests} test{'s' if result.failed_tests != 1 else ''} failed")
    if result.unmeasured:
        top = result.unmeasured
    else:
        top = one_line(result.findings[0]) if result.findings else "nothing above the thresholds"
    return "[scan] " + " | ".join(parts) + f" | Top: {top}"


def top_table(result: ScanResult, limit: int = 10, colour: bool = False) -> str:
    rows: List[List[str]] = [["#", "Severity", "Domain", "Target", "Metric", "Pattern"]]
    for r in result.findings[:limit]:
        f = r.finding
        rows.append(
            [
                str(r.rank),
                r.severity,
                DOMAIN_TITLES.get(f.domain, f.domain),
                target_name(r)[:60],
                f.metric.label[:40],
                f.pattern,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        if n == 0:
            cells = [paint(c, "1", colour) for c in cells]
        else:
            cells[1] = paint(cells[1], SEVERITY_COLOURS.get(row[1], ""), colour)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
