"""`--format sarif`: SARIF 2.1.0 for code-scanning UIs. One rule per pattern, one result per finding."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from perfscan.models import ScanResult
from perfscan.report.describe import PATTERN_WORDS, one_line
from perfscan.safetext import clean_data

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# security-severity style score, so UIs can sort by it
SCORES = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0", "info": "1.0"}


def render_sarif(result: ScanResult) -> str:
    rule_ids: List[str] = []
    results: List[Dict[str, Any]] = []
    for r in result.findings:
        f = r.finding
        rule = f.pattern if f.pattern != "none" else f"{f.domain}-hotspot"
        if rule not in rule_ids:
            rule_ids.append(rule)
        res: Dict[str, Any] = {
            "ruleId": rule,
            "ruleIndex": rule_ids.index(rule),
            "level": LEVELS[r.severity],
            "message": {"text": f"{one_line(r)}. {f.evidence} Estimated impact: {f.estimated_impact}."
                                + (f" {r.note}." if r.note else "")},
            "rank": float(max(0.0, 100.0 - r.rank)),
            "properties": {"severity": r.severity, "baseSeverity": r.base_severity, "domain": f.domain,
                           "metric": f.metric.label, "rank": r.rank, "qualname": f.qualname, "phase": f.phase},
        }
        if f.file:
            region = {"startLine": int(f.line)} if f.line else {}
            res["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": f.file, "uriBaseId": "PROJECTROOT"},
                                                      **({"region": region} if region else {})}}]
        else:
            res["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.module or f.symbol, "kind": "module"}]}]
        results.append(res)
    rules = [{"id": rid, "name": "".join(w.capitalize() for w in rid.split("-")),
              "shortDescription": {"text": PATTERN_WORDS.get(rid, rid.replace("-", " "))},
              "helpUri": "https://pypi.org/project/perfscan/"} for rid in rule_ids]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "perfscan", "version": result.tool_version, "informationUri": "https://pypi.org/project/perfscan/",
                                "rules": rules}},
            "originalUriBaseIds": {"PROJECTROOT": {"uri": result.project.root.as_uri() + "/"}},
            "results": results,
            "properties": {"deployment": result.deployment.model, "python": result.project.python_version},
        }],
    }
    return json.dumps(clean_data(log), indent=2, ensure_ascii=True) + "\n"
