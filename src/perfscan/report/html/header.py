"""The page's top: the project, the passes and how they went, and the summary cards."""

from __future__ import annotations

from typing import Any, Dict, List

from perfscan.models import DOMAIN_TITLES, DOMAINS, SEVERITIES
from perfscan.report.html.text import e, fmt_seconds, number


def header(report: Dict[str, Any]) -> str:
    project, dep, target = report["project"], report["deployment"], report["target"]
    tests = len(target["tests"])
    n = f"{tests} test" + ("" if tests == 1 else "s")
    scanned = {
        "all": f"{n} (the whole suite)",
        "selected": f"{n}, selected",
        "user": f"{n} you chose",
        "exec": "a command run",
        "none": "no tests",
    }.get(target["mode"], n)
    facts = [
        ("Date", report["date"]),
        ("Python", report["python"]),
        ("Deployment", dep["model"]),
        ("Scanned", scanned),
        ("perfscan", report["tool"]["version"]),
    ]
    out = [
        '<header class="top" id="top">',
        '<p class="brand"><span class="logo" aria-hidden="true"></span>perfscan · scan report</p>',
        f"<h1>{e(project['name'])}</h1>",
        f'<p class="root" title="project root">{e(project["root"])}</p>',
        '<dl class="facts">',
    ]
    for k, v in facts:
        out.append(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>")
    out.append("</dl>")
    out.append('<div class="passes" role="list" aria-label="Passes">')
    for name, p in report["passes"].items():
        title = DOMAIN_TITLES.get(name, name)
        detail = f' <span class="why">{e(p["error"])}</span>' if p["error"] else ""
        out.append(
            f'<div class="pass st-{e(p["status"])}" role="listitem"><span class="dot" aria-hidden="true"></span>'
            f"<b>{e(title)}</b> {e(p['status'])} · {e(fmt_seconds(number(p['seconds'])))}{detail}</div>"
        )
    out.append("</div>")
    ev = "".join(f"<li>{e(x)}</li>" for x in dep["evidence"]) or "<li>none found</li>"
    out.append(
        f'<details class="meta"><summary>Deployment evidence, target and notes</summary>'
        f"<h3>Deployment: {e(dep['model'])}</h3><ul>{ev}</ul>"
    )
    if dep["entry_modules"]:
        out.append(f"<p>Entry modules: {', '.join('<code>' + e(m) + '</code>' for m in dep['entry_modules'])}</p>")
    runner = target.get("test_runner")
    if isinstance(runner, dict) and runner.get("name"):
        why = f" ({e(runner['why'])})" if runner.get("why") else ""
        out.append(f"<h3>Test runner</h3><p>{e(runner['name'])}{why}</p>")
    if target["note"]:
        out.append(f"<h3>Target</h3><p>{e(target['note'])}</p>")
    changed = list(report.get("environment") or []) + list(target["changed"])
    if changed:
        out.append("<p>Changed for profiling:</p><ul>" + "".join(f"<li>{e(x)}</li>" for x in changed) + "</ul>")
    if report["warnings"]:
        out.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{e(w)}</li>" for w in report["warnings"]) + "</ul>")
    out.append("</details></header>")
    return "\n".join(out)


def summary(report: Dict[str, Any]) -> str:
    by_sev = report["summary"]["by_severity"]
    counts = report["summary"]["counts"]
    cards: List[str] = []
    for s in SEVERITIES:
        n = by_sev.get(s, 0)
        cards.append(
            f'<div class="card sev-{s}{" zero" if not n else ""}"><span class="n">{n}</span>'
            f'<span class="l">{s}</span></div>'
        )
    doms = " · ".join(f"{e(DOMAIN_TITLES[d])} <b>{counts.get(d, 0)}</b>" for d in DOMAINS)
    top = report["summary"].get("top")
    top_html = (
        (
            f'<p class="topline"><span class="k">Top target</span> <a href="#finding-1" class="jump" data-rank="1">'
            f"{e(top)}</a></p>"
        )
        if top
        else '<p class="topline">Nothing crossed the thresholds.</p>'
    )
    return (
        f'<section class="summary" aria-label="Summary"><div class="cards">{"".join(cards)}</div>'
        f'<p class="domains">{doms}</p>{top_html}</section>'
    )
