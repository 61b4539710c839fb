"""The page: the report's header, its findings table and the three pictures, with the data embedded.

Everything is inline (no network, no CDN). The page is written here, in Python, with every
project-provided string escaped; the script only adds sorting, filtering, zoom and highlighting,
and draws the icicle chart from the report embedded in the page.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Set, TypeVar

from perfscan.passes.imports.section import Waterfall
from perfscan.report.html import charts
from perfscan.report.html.assets import asset
from perfscan.report.html.findings import findings_table
from perfscan.report.html.header import header, summary
from perfscan.report.html.text import e, json_for_script

MAX_TESTS_IN_DATA = 200

_T = TypeVar("_T")


def _guarded(problems: Dict[str, str], name: str, fn: Callable[[], _T], default: _T) -> _T:
    """A picture that cannot be drawn (odd data in a saved report) says why; the page still renders."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the page must render whatever the report holds
        problems[name] = f"could not be drawn ({type(exc).__name__}: {exc})"
        return default


def _drawn(name: str, draw: Callable[[], str]) -> str:
    problems: Dict[str, str] = {}
    html = _guarded(problems, name, draw, "")
    return html or f'<section id="{name}"><p class="empty">Not shown: {e(problems[name])}.</p></section>'


def _embedded(report: Dict[str, Any]) -> Dict[str, Any]:
    """The report as the page's script gets it: a long test list cut short, so the page stays small."""
    tests = report["target"]["tests"]
    if len(tests) <= MAX_TESTS_IN_DATA:
        return report
    return dict(report, target=dict(report["target"], tests=tests[:MAX_TESTS_IN_DATA], tests_total=len(tests)))


def render_page(report: Dict[str, Any]) -> str:
    """The page for a report in the writer's shape (`json_report.to_dict`): UTF-8 HTML, everything inline."""
    problems: Dict[str, str] = {}
    tree = _guarded(problems, "flame", lambda: charts.flame_of(report), None)
    waterfall = _guarded(problems, "waterfall", lambda: charts.waterfall_of(report), Waterfall())
    mem_rows: List[Dict[str, Any]] = _guarded(problems, "memory", lambda: charts.memory_rows(report), [])
    in_flame: Set[str] = _guarded(
        problems,
        "flame",
        lambda: charts.qualnames_in(tree, {f["qualname"] for f in report["findings"] if f["domain"] == "cpu"}),
        set(),
    )
    wf_names = {r.name for r in waterfall.rows}
    mem_names = {r["function"] for r in mem_rows}
    charted: Dict[str, str] = {}
    finding_ranks: Dict[str, int] = {}
    for f in report["findings"]:
        d, q, m = f["domain"], f["qualname"], f["module"] or f["symbol"]
        if d == "cpu" and q in in_flame:
            charted[f"cpu|{q}"] = "flame"
        elif d == "import" and m in wf_names:
            charted[f"import|{m}"] = "waterfall"
            finding_ranks.setdefault(f"import|{m}", f["rank"])
        elif d == "memory" and q in mem_names:
            charted[f"memory|{q}"] = "memory"
            finding_ranks.setdefault(f"memory|{q}", f["rank"])
    if "flame" in problems:
        tree = None
    pictures = [
        _drawn("flame", lambda: charts.flame_section(report, tree, problems.get("flame"))),
        _drawn(
            "waterfall", lambda: charts.waterfall_section(report, waterfall, finding_ranks, problems.get("waterfall"))
        ),
        _drawn("memory", lambda: charts.memory_section(report, mem_rows, finding_ranks, problems.get("memory"))),
    ]
    title = f"perfscan: {report['project']['name']} ({report['date']})"
    nav = (
        '<nav class="toc" aria-label="Sections"><a href="#findings">Findings</a><a href="#flame">CPU chart</a>'
        '<a href="#waterfall">Import waterfall</a><a href="#memory">Memory</a></nav>'
    )
    body = "\n".join(
        [
            header(report),
            nav,
            summary(report),
            findings_table(report, charted),
            *pictures,
            f"<footer>Written by perfscan {e(report['tool']['version'])} on {e(report['date'])}. The same findings are in "
            f"<code>scan-report.md</code> and <code>scan-report.json</code>; the full profile is <code>cpu.pstats</code>, "
            f"the import tree <code>imports.json</code>.</footer>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{e(title)}</title>\n<style>{asset('page.css')}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f'<script type="application/json" id="perfscan-data">{json_for_script({"report": _embedded(report)})}</script>\n'
        f"<script>{asset('page.js')}</script>\n</body>\n</html>\n"
    )
