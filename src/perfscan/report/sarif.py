"""`--format sarif`: SARIF 2.1.0 for code-scanning UIs. One rule per pattern, one result per finding.

A rule's description and help are the pattern's catalog row (`perfscan explain ID` prints the same doc)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from perfscan import catalog
from perfscan.models import Finding, HotLine, ScanResult, hot_lines_of
from perfscan.report.describe import one_line
from perfscan.safetext import clean_data

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
HELP_URI = "https://pypi.org/project/perfscan/"
# security-severity style score, so UIs can sort by it
SCORES = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0", "info": "1.0"}


def _rule(rule_id: str) -> Dict[str, Any]:
    rule: Dict[str, Any] = {"id": rule_id, "name": "".join(w.capitalize() for w in rule_id.split("-"))}
    try:
        pattern = catalog.get(rule_id)
    except KeyError:  # an id with no catalog row (a test guards against it): name it, nothing more
        rule["shortDescription"] = {"text": rule_id.replace("-", " ")}
    else:
        rule["shortDescription"] = {"text": pattern.title}
        rule["fullDescription"] = {"text": pattern.section("What it does")}
        rule["help"] = {"text": pattern.doc, "markdown": pattern.doc}
    rule["helpUri"] = HELP_URI
    return rule


def _physical(uri: str, line: Optional[int], snippet: str, end_line: Optional[int] = None) -> Dict[str, Any]:
    """A location in a project file; a loop (`end_line`) spans its lines, with no snippet (the
    text is its header's alone)."""
    region: Dict[str, Any] = {"startLine": int(line)} if line else {}
    if line and end_line and end_line > line:
        region["endLine"] = int(end_line)
    elif region and snippet:
        region["snippet"] = {"text": snippet}
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "uriBaseId": "PROJECTROOT"},
            **({"region": region} if region else {}),
        }
    }


def _hottest(h: HotLine) -> str:
    if h.end_line:
        return f"Hottest: the loop at lines {h.line}-{h.end_line} ({h.share_pct:.0f}% of the function's time)"
    return f"Hottest line: {h.line} ({h.share_pct:.0f}% of the function's time)"


def _hot_locations(uri: str, f: Finding, hot: Tuple[HotLine, ...]) -> Tuple[List[Any], List[Dict[str, Any]]]:
    """A finding with hot lines: with pattern `none` the region is the hottest line, the `def`
    line related; a named pattern keeps its own line as the region (where the fix is, and where
    code-scanning UIs already track the alert). Every other hot line is related."""
    related: List[Dict[str, Any]] = []
    shown = list(hot)
    if f.pattern == catalog.NO_PATTERN or not f.line:
        top = shown.pop(0)
        locations = [_physical(uri, top.line, top.text, top.end_line)]
        def_line = f.details.get("def_line")
        if not isinstance(def_line, int) or isinstance(def_line, bool):
            def_line = f.line
        if def_line and def_line != top.line:
            related.append(dict(_physical(uri, def_line, ""), message={"text": f"definition of {f.symbol}"}))
    else:
        own = next((h for h in shown if h.line == f.line and not h.end_line), None)
        locations = [_physical(uri, f.line, own.text if own else "")]
        shown = [h for h in shown if h is not own]
    for h in shown:
        what = "loop" if h.end_line else "line"
        related.append(
            dict(
                _physical(uri, h.line, h.text, h.end_line),
                message={"text": f"hot {what}: {h.share_pct:.0f}% of the function's time"},
            )
        )
    return locations, related


def render_sarif(result: ScanResult) -> str:
    rule_ids: List[str] = []
    results: List[Dict[str, Any]] = []
    for r in result.findings:
        f = r.finding
        rule = catalog.rule_id(f.domain, f.pattern)
        hot = hot_lines_of(f.details)
        if rule not in rule_ids:
            rule_ids.append(rule)
        res: Dict[str, Any] = {
            "ruleId": rule,
            "ruleIndex": rule_ids.index(rule),
            "level": LEVELS[r.severity],
            "message": {
                "text": f"{one_line(r)}. {f.evidence} Estimated impact: {f.estimated_impact}."
                + (f" {r.note}." if r.note else "")
                + (f" {_hottest(hot[0])}." if f.file and hot else "")
            },
            "rank": float(max(0.0, 100.0 - r.rank)),
            "properties": {
                "severity": r.severity,
                "baseSeverity": r.base_severity,
                "domain": f.domain,
                "metric": f.metric.label,
                "rank": r.rank,
                "qualname": f.qualname,
                "phase": f.phase,
            },
        }
        if f.file and hot:
            res["locations"], related = _hot_locations(f.file, f, hot)
            if related:
                res["relatedLocations"] = [dict(loc, id=i) for i, loc in enumerate(related)]
        elif f.file:
            res["locations"] = [_physical(f.file, f.line, "")]
        else:
            res["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.module or f.symbol, "kind": "module"}]}]
        results.append(res)
    rules = [_rule(rid) for rid in rule_ids]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "perfscan",
                        "version": result.tool_version,
                        "informationUri": HELP_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"PROJECTROOT": {"uri": result.project.root.as_uri() + "/"}},
                "results": results,
                "properties": {"deployment": result.deployment.model, "python": result.project.python_version},
            }
        ],
    }
    return json.dumps(clean_data(log), indent=2, ensure_ascii=True) + "\n"
