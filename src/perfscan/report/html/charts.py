"""The page's three pictures, each from its pass's section of the report.

CPU: the icicle chart of `passes.cpu.data.flame`, with a toggle to `flame_wall` (CPU plus waiting)
where the report has it (the page's script draws it; this module writes its frame and legend). Import: the waterfall of `passes.import.data.waterfall`. Memory: the bars
of `passes.memory.data.top`. A picture with nothing to show says why.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Set

from perfscan.passes.imports.section import Waterfall
from perfscan.report.html.text import e, fmt_ms, fmt_seconds, number

MEMORY_MAX_ROWS = 20


def _section_data(report: Mapping[str, Any], domain: str) -> Mapping[str, Any]:
    data = (report["passes"].get(domain) or {}).get("data")
    return data if isinstance(data, Mapping) else {}


_PASS_NAMES = {"cpu": "CPU", "import": "import", "memory": "memory"}


def _why_not(report: Mapping[str, Any], domain: str, otherwise: str) -> str:
    """Why a pass's picture is empty: it did not run, it did not finish, or it found nothing to show."""
    p = report["passes"].get(domain)
    name = _PASS_NAMES[domain]
    if p is None:
        return f"the {name} pass did not run"
    if p["status"] != "ok":
        return f"the {name} pass {p['status']}" + (f": {p['error']}" if p["error"] else "")
    return otherwise


# ---------------------------------------------------------------------------------------------
# CPU


def flame_of(report: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The CPU pass's call tree (nodes `n`, `q`, `k`, `t`, `f`, `c`), or None when the report has none."""
    tree = _section_data(report, "cpu").get("flame")
    if isinstance(tree, dict) and isinstance(tree.get("c"), list) and number(tree.get("t")) > 0:
        return tree
    return None


def qualnames_in(tree: Optional[Mapping[str, Any]], quals: Set[str]) -> Set[str]:
    """Which of `quals` have a frame in the tree."""
    found = set()
    stack = [tree] if tree else []
    while stack:
        node = stack.pop()
        if node.get("q") in quals:
            found.add(node["q"])
        stack.extend(c for c in node.get("c") or () if isinstance(c, Mapping))
    return found


def flame_section(report: Mapping[str, Any], tree: Optional[Mapping[str, Any]], problem: Optional[str] = None) -> str:
    head = (
        '<section id="flame" aria-labelledby="flame-h"><div class="sec-head">'
        '<h2 id="flame-h">CPU: where the profiled tests spend time</h2></div>'
    )
    if tree is None:
        why = problem or _why_not(report, "cpu", "no profile: the CPU pass recorded no call tree")
        return head + f'<p class="empty">No chart: {e(why)}.</p></section>'
    data = _section_data(report, "cpu")
    wall = number(data.get("wall_seconds"))
    wall_tree = data.get("flame_wall")
    has_wall = isinstance(wall_tree, dict) and isinstance(wall_tree.get("c"), list) and number(wall_tree.get("t")) > 0
    phases = data.get("phase_seconds") or {}
    phase_txt = ", ".join(f"{k} {fmt_seconds(number(v))}" for k, v in phases.items() if number(v))
    return (
        head
        + '<p class="lede">An icicle chart: each bar is a function, as wide as its time; what it calls hangs below it. '
        + (
            f"Profiled wall time {e(fmt_seconds(wall))}" + (f" ({e(phase_txt)})" if phase_txt else "") + "; the chart"
            if wall > 0
            else "The chart"
        )
        + f" spans {e(fmt_seconds(number(tree['t'])))} of code under the tests (the harness left out). "
        f"Built from the profile's caller edges, so the stacks are approximate. Click a bar (or press Enter on it) to zoom in; Escape zooms out."
        + (
            " CPU shows the time the code ran; Wall adds the time it waited (in calls, for a lock, for the GIL), "
            "each under a waiting bar.</p>"
            if has_wall
            else "</p>"
        )
        + '<div class="legend" aria-label="Legend"><span class="sw k-project"></span>project'
        '<span class="sw k-test"></span>tests<span class="sw k-library"></span>libraries'
        '<span class="sw k-stdlib"></span>standard library<span class="sw k-builtin"></span>built-ins'
        '<span class="sw hl"></span>selected finding'
        + (
            '<span class="sw k-waiting"></span>waiting<span class="clock" role="group" aria-label="Clock">'
            '<button type="button" class="btn" id="flame-cpu" aria-pressed="true">CPU</button>'
            '<button type="button" class="btn" id="flame-wall" aria-pressed="false">Wall</button></span>'
            if has_wall
            else ""
        )
        + '<button type="button" id="flame-reset" class="btn" disabled>Reset zoom</button></div>'
        f'<div id="flame-chart" class="flame" data-wall="{wall:.6g}" role="group" aria-label="CPU icicle chart">'
        '<noscript><p class="empty">The chart is drawn by the page\'s script; the findings table has the same functions.</p></noscript></div>'
        '<p id="flame-info" class="info" aria-live="polite">Hover or focus a bar for its details.</p></section>'
    )


# ---------------------------------------------------------------------------------------------
# Import


def waterfall_of(report: Mapping[str, Any]) -> Waterfall:
    wf = _section_data(report, "import").get("waterfall")
    return Waterfall.from_json(wf) if isinstance(wf, Mapping) else Waterfall()


def waterfall_section(
    report: Mapping[str, Any], wf: Waterfall, finding_ranks: Mapping[str, int], problem: Optional[str] = None
) -> str:
    head = (
        '<section id="waterfall" aria-labelledby="wf-h"><div class="sec-head">'
        '<h2 id="wf-h">Import time: the slow part of the import tree</h2></div>'
    )
    scale = wf.scale_ms
    if not wf.rows or scale <= 0:
        why = problem or _why_not(report, "import", "no module took long enough to show")
        return head + f'<p class="empty">No waterfall: {e(why)}.</p></section>'
    tree = wf.kind == "tree"
    if tree:
        lede = (
            f"Each bar is one module, placed when its import started and as long as its cumulative import time "
            f"(the darker end is its own code). Modules under {fmt_ms(wf.min_ms)} "
            f"are left out. Minimum of the measured runs, warm bytecode cache."
        )
    else:
        lede = "The slowest modules by cumulative import time (no import tree was measured)."
    out = [
        head,
        f'<p class="lede">{e(lede)}</p>',
        '<div class="legend"><span class="sw k-project"></span>project<span class="sw k-third-party"></span>third-party'
        '<span class="sw k-stdlib"></span>standard library<span class="sw self"></span>own code</div>',
        '<div class="wf" role="table" aria-label="Import waterfall"><div class="wf-row wf-axis" role="row">'
        '<span class="wf-name" role="columnheader">module</span><span class="wf-track" role="columnheader">'
        f'<span class="tick" style="left:0">0</span><span class="tick" style="left:50%">{e(fmt_ms(scale / 2))}</span>'
        f'<span class="tick end">{e(fmt_ms(scale))}</span></span><span class="wf-ms" role="columnheader">cumulative</span></div>',
    ]
    last_target = None
    for r in wf.rows:
        if tree and r.target != last_target:
            last_target = r.target
            out.append(
                f'<div class="wf-row wf-group" role="row"><span class="wf-name" role="rowheader">import {e(last_target)}</span></div>'
            )
        cum, own, start = number(r.cumulative_ms), number(r.self_ms), number(r.start_ms)
        left = 100.0 * start / scale
        width = max(100.0 * cum / scale, 0.2)
        self_w = 100.0 * min(own, cum) / cum if cum else 0
        rank = finding_ranks.get("import|" + r.name)
        kind = r.kind if r.kind in ("project", "third-party", "stdlib") else "other"
        title = (
            f"{r.name} ({r.kind or 'module'}): {fmt_ms(cum)} cumulative, "
            f"{fmt_ms(own)} own"
            + (f", started at {fmt_ms(start)}" if tree else "")
            + (f"; {r.imported_by}" if r.imported_by else "")
        )
        badge = f'<a class="rank" href="#finding-{rank}" data-rank="{rank}">#{rank}</a>' if rank else ""
        rank_attr = f' data-rank="{rank}"' if rank else ""
        out.append(
            f'<div class="wf-row" role="row" data-module="{e(r.name)}"{rank_attr}>'
            f'<span class="wf-name" role="rowheader" style="padding-left:{0.4 + 0.9 * number(r.depth):.1f}em" title="{e(title)}">'
            f"{e(r.name)}{badge}</span>"
            f'<span class="wf-track" role="cell"><span class="wf-bar k-{kind}" style="left:{left:.3f}%;width:{width:.3f}%" title="{e(title)}">'
            f'<span class="wf-self" style="width:{self_w:.1f}%"></span></span></span>'
            f'<span class="wf-ms" role="cell">{e(fmt_ms(cum))}</span></div>'
        )
    out.append("</div></section>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Memory


def memory_rows(report: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The memory pass's top allocations; without that table, its findings measured in MiB."""
    rows: List[Dict[str, Any]] = []
    for r in _section_data(report, "memory").get("top") or []:
        if isinstance(r, Mapping):
            rows.append(
                {
                    "function": str(r.get("function") or ""),
                    "file": r.get("file"),
                    "line": r.get("line"),
                    "mib": number(r.get("mib")),
                    "count": r.get("count"),
                    "category": r.get("category") or "",
                    "reducibility": r.get("reducibility") or "",
                }
            )
    if not rows and "memory" in report["passes"]:
        for f in report["findings"]:
            if f["domain"] == "memory" and f["metric"]["unit"] == "MiB":
                details = f["details"]
                rows.append(
                    {
                        "function": f["qualname"],
                        "file": f["file"],
                        "line": f["line"],
                        "mib": number(f["metric"]["value"]),
                        "count": details.get("count"),
                        "category": details.get("category", ""),
                        "reducibility": details.get("reducibility", ""),
                    }
                )
    rows.sort(key=lambda r: -r["mib"])
    return rows[:MEMORY_MAX_ROWS]


def memory_section(
    report: Mapping[str, Any],
    rows: List[Dict[str, Any]],
    finding_ranks: Mapping[str, int],
    problem: Optional[str] = None,
) -> str:
    head = (
        '<section id="memory" aria-labelledby="mem-h"><div class="sec-head">'
        '<h2 id="mem-h">Memory: top allocations alive at the peak</h2></div>'
    )
    if not rows:
        why = problem or _why_not(report, "memory", "no project function held more than the threshold at the peak")
        return head + f'<p class="empty">No allocations to show: {e(why)}.</p></section>'
    top = max(r["mib"] for r in rows) or 1.0
    data = _section_data(report, "memory")
    engine = data.get("tool") or data.get("engine") or ""
    out = [
        head,
        f'<p class="lede">MiB alive at the peak of each test, by the project function that allocated it'
        f"{' (' + e(engine) + ')' if engine else ''}.</p>",
        '<div class="mem" role="table" aria-label="Memory top allocations">',
    ]
    for r in rows:
        loc = f"{r['file']}:{r['line']}" if r["file"] and r["line"] else (r["file"] or "")
        qual = r["function"]
        rank = finding_ranks.get("memory|" + qual)
        badge = f'<a class="rank" href="#finding-{rank}" data-rank="{rank}">#{rank}</a>' if rank else ""
        extra = " · ".join(
            x
            for x in (
                f"{r['count']:,} allocations" if isinstance(r["count"], int) else "",
                str(r["category"]),
                f"reducibility {r['reducibility']}" if r["reducibility"] else "",
            )
            if x
        )
        out.append(
            f'<div class="mem-row" role="row" data-qualname="{e(qual)}">'
            f'<span class="mem-name" role="rowheader"><span class="fn">{e(qual)}</span>{badge}'
            f'<span class="loc">{e(loc)}</span></span>'
            f'<span class="mem-track" role="cell"><span class="mem-bar" style="width:{max(100.0 * r["mib"] / top, 0.5):.2f}%"></span></span>'
            f'<span class="mem-val" role="cell"><b>{r["mib"]:.1f} MiB</b><span class="loc">{e(extra)}</span></span></div>'
        )
    out.append("</div></section>")
    return "\n".join(out)
