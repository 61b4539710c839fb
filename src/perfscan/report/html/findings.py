"""The ranked findings table: sortable and filterable by the page's script, each row expanding to its evidence."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

from perfscan.models import DOMAIN_TITLES, DOMAINS, SEVERITIES, HotLine, hot_lines_of
from perfscan.report.describe import PATTERN_WORDS, target_name
from perfscan.report.html.text import detail, e
from perfscan.report.saved import ranked_findings

CHART_NAMES = {"flame": "CPU chart", "waterfall": "import waterfall", "memory": "memory chart"}


def _line_cell(h: HotLine) -> str:
    if not h.end_line:
        return f'<td class="ln">{h.line}</td>'
    return (
        f'<td class="ln" title="the loop at lines {h.line} to {h.end_line}: the work in its body that makes no call '
        f'is sampled at its header">{h.line}–{h.end_line}</td>'
    )


def hot_lines_html(hot: Sequence[HotLine]) -> str:
    """The hot lines as a source excerpt in line order, each highlighted by its share of the
    function's time (the hottest marked), a gap row where lines were skipped."""
    top = max(hot, key=lambda h: h.seconds).line
    rows = []
    previous = None
    for h in sorted(hot, key=lambda h: h.line):
        if previous is not None and h.line > previous + 1:
            rows.append('<tr class="gap"><td class="ln" aria-label="lines skipped">⋮</td><td></td><td></td></tr>')
        previous = h.line
        waiting = f'<span class="wt"> ({h.waiting_pct():.0f}% waiting)</span>' if h.shows_waiting() else ""
        share = min(max(h.share_pct, 0.0), 100.0)
        code = f"<code>{e(h.text)}</code>" if h.text else '<span class="muted">(source not read)</span>'
        rows.append(
            f'<tr class="hot{" top" if h.line == top else ""}" style="--share:{share:.1f}%">'
            f'{_line_cell(h)}<td class="sh">{h.share_pct:.0f}%{waiting}</td>'
            f'<td class="code">{code}</td></tr>'
        )
    return (
        '<table class="src" aria-label="hottest lines of the function, in source order, with their share of its time">'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def findings_table(report: Dict[str, Any], charted: Mapping[str, str]) -> str:
    """The ranked findings, one expandable row each; `charted` says which chart shows a finding."""
    rows = report["findings"]
    out = [
        '<section id="findings" aria-labelledby="findings-h">',
        f'<div class="sec-head"><h2 id="findings-h">Ranked findings</h2>'
        f'<span class="count" id="findings-count" aria-live="polite">{len(rows)} of {len(rows)}</span></div>',
    ]
    if not rows:
        out.append('<p class="empty">No findings: nothing crossed the thresholds in the passes that ran.</p></section>')
        return "\n".join(out)
    present_domains = [d for d in DOMAINS if any(r["domain"] == d for r in rows)]
    present_sevs = [s for s in SEVERITIES if any(r["severity"] == s for r in rows)]
    out.append(
        '<div class="filters">'
        '<label>Domain <select id="f-domain"><option value="">all</option>'
        + "".join(f'<option value="{d}">{e(DOMAIN_TITLES[d])}</option>' for d in present_domains)
        + '</select></label><label>Severity <select id="f-sev"><option value="">all</option>'
        + "".join(f'<option value="{s}">{s}</option>' for s in present_sevs)
        + '</select></label><span class="hint">Click a column to sort; open a row for its evidence and to '
        "highlight it in the charts.</span></div>"
    )
    cols = [
        ("rank", "#", "num"),
        ("sev", "Severity", "num"),
        ("domain", "Domain", "str"),
        ("target", "Target", "str"),
        ("mag", "Metric", "num"),
        ("pattern", "Pattern", "str"),
    ]
    out.append('<div class="table-wrap"><table id="findings-table" class="findings"><thead><tr>')
    for key, label, typ in cols:
        sort = ' aria-sort="ascending"' if key == "rank" else ""
        title = (
            ' title="sorted by magnitude: the metric as a multiple of its domain\'s high threshold"'
            if key == "mag"
            else ""
        )
        out.append(
            f'<th scope="col" class="c-{key}"{sort}><button type="button" class="sort" data-key="{key}" '
            f'data-type="{typ}"{title}>{label}<span class="arrow" aria-hidden="true"></span></button></th>'
        )
    out.append("</tr></thead>")
    for r, ranked in zip(rows, ranked_findings(report)):
        rank = int(r["rank"])
        sev_idx = SEVERITIES.index(r["severity"]) if r["severity"] in SEVERITIES else len(SEVERITIES)
        tname = target_name(ranked)
        pattern = r.get("pattern") or "none"
        words = PATTERN_WORDS.get(pattern, "")
        chart = charted.get(
            f"{r['domain']}|{r['qualname'] if r['domain'] != 'import' else (r['module'] or r['symbol'])}", ""
        )
        attrs = (
            f'data-rank="{rank}" data-sev="{sev_idx}" data-severity="{e(r["severity"])}" data-domain="{e(r["domain"])}" '
            f'data-target="{e(tname.lower())}" data-mag="{float(r.get("magnitude") or 0):.6g}" '
            f'data-pattern="{e(pattern)}" data-qualname="{e(r["qualname"])}" data-module="{e(r["module"] or "")}"'
        )
        adjusted = r["severity"] != r["base_severity"]
        sev_cell = f'<span class="sev sev-{e(r["severity"])}">{e(r["severity"])}</span>' + (
            f'<span class="base" title="base severity before the deployment adjustment">from {e(r["base_severity"])}</span>'
            if adjusted
            else ""
        )
        out.append(f'<tbody class="finding-group" id="finding-{rank}" {attrs}>')
        out.append(
            f'<tr class="finding"><td class="c-rank">{rank}</td><td class="c-sev">{sev_cell}</td>'
            f'<td class="c-domain"><span class="dom dom-{e(r["domain"])}">{e(DOMAIN_TITLES.get(r["domain"], r["domain"]))}</span></td>'
            f'<td class="c-target"><button type="button" class="expand" aria-expanded="false" '
            f'aria-controls="detail-{rank}"><span class="chev" aria-hidden="true"></span>'
            f'<span class="tname">{e(tname)}</span></button></td>'
            f'<td class="c-mag">{e(r["metric"]["label"])}</td>'
            f'<td class="c-pattern">'
            + (f'<code title="{e(words)}">{e(pattern)}</code>' if pattern != "none" else '<span class="muted">—</span>')
            + "</td></tr>"
        )
        loc = f"{r['file']}:{r['line']}" if r.get("file") and r.get("line") else (r.get("file") or "")
        items = [
            ("Evidence", f'<p class="evidence">{e(r["evidence"])}</p>'),
            ("Source", (f"<code>{e(loc)}</code> " if loc else "") + f'<code class="muted">{e(r["qualname"])}</code>'),
            ("Estimated impact", e(r["estimated_impact"])),
            ("Phase", e(r["phase"])),
        ]
        if words:
            items.append(("Pattern", f"<code>{e(pattern)}</code> {e(words)}"))
        if r.get("note"):
            items.append(("Note", e(r["note"])))
        if adjusted:
            items.append(("Severity", f"{e(r['severity'])} (base {e(r['base_severity'])})"))
        if r["domain"] == "async":
            items.append(("Confirmed at run time", "yes" if r.get("runtime_confirmed") else "no"))
        hot = hot_lines_of(r.get("details") or {})
        if hot:
            items.append(("Hot lines", hot_lines_html(hot)))
        measured = []
        for k, v in (r.get("details") or {}).items():
            if v in (None, "", [], {}) or k == "hot_lines":
                continue
            label, text = detail(str(k), v)
            measured.append(f'<li><span class="ml">{e(label)}</span> {e(text)}</li>')
        if measured:
            items.append(("Measured", f'<ul class="measured">{"".join(measured)}</ul>'))
        dl = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in items)
        link = (
            f'<p><a class="show" href="#{chart}" data-rank="{rank}">Show in the {e(CHART_NAMES[chart])}</a></p>'
            if chart
            else ""
        )
        out.append(
            f'<tr class="detail" id="detail-{rank}" hidden><td></td><td colspan="5"><dl class="kv">{dl}</dl>{link}</td></tr>'
        )
        out.append("</tbody>")
    out.append("</table></div></section>")
    return "\n".join(out)
