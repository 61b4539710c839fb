"""`.codeflash/scan-report.json`: the Markdown report's twin for machines (docs/design.md "Reports")."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from perfscan.models import DOMAINS, Driver, RankedFinding, ScanResult
from perfscan.report.describe import one_line
from perfscan.safetext import clean_data

REPORT_SCHEMA_VERSION = 1  # the shape of scan-report.json (the probe's files have their own)


def finding_dict(r: RankedFinding) -> Dict[str, Any]:
    f = r.finding
    return {
        "rank": r.rank,
        "severity": r.severity,
        "base_severity": r.base_severity,
        "domain": f.domain,
        "symbol": f.symbol,
        "qualname": f.qualname,
        "module": f.module,
        "file": f.file,
        "line": f.line,
        "metric": {"value": f.metric.value, "unit": f.metric.unit, "label": f.metric.label},
        "pattern": f.pattern,
        "evidence": f.evidence,
        "estimated_impact": f.estimated_impact,
        "note": r.note,
        "phase": f.phase,
        "runtime_confirmed": f.runtime_confirmed,
        "magnitude": r.magnitude,
        "details": _jsonable(dict(f.details)),  # a CPU finding's hot lines are HotLine values
    }


def _jsonable(value: Any) -> Any:
    """Section data as plain JSON values (a typed section gives its own; anything else becomes its string)."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return _jsonable(to_json())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def summary_counts(result: ScanResult) -> Dict[str, int]:
    counts = {d: 0 for d in DOMAINS}
    for r in result.findings:
        counts[r.finding.domain] = counts.get(r.finding.domain, 0) + 1
    return counts


def _test_runner(driver: Driver) -> Optional[Dict[str, str]]:
    """Which test runner ran the tests and why; null when none ran them (`exec`, no test pass)."""
    if not driver.name:
        return None
    out = {"name": driver.name, "why": driver.why}
    if driver.django_settings:
        out["django_settings"] = driver.django_settings
    return out


def to_dict(result: ScanResult) -> Dict[str, Any]:
    project = result.project
    counts = summary_counts(result)
    by_sev: Dict[str, int] = {}
    for r in result.findings:
        by_sev[r.severity] = by_sev.get(r.severity, 0) + 1
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "perfscan", "version": result.tool_version},
        "project": {
            "root": str(project.root),
            "name": project.name,
            "packages": list(project.packages),
            "subprojects": list(project.subprojects),
        },
        "python": project.python_version,
        "date": result.date,
        "deployment": {
            "model": result.deployment.model,
            "evidence": list(result.deployment.evidence),
            "entry_modules": list(result.deployment.entry_modules),
        },
        "thresholds": {d: {s: b for b, s in levels} for d, levels in result.settings.thresholds.table},
        "target": {
            "tests": list(result.target.tests),
            "pytest_args": list(result.target.pytest_args),
            "mode": result.target.mode,
            "collected": result.target.collected,
            "note": result.target.note,
            "exec": list(result.target.exec_command),
            "changed": list(result.target.neutralized),
            "left_out": [{"test": nid, "reason": why} for nid, why in result.target.left_out],
            "test_runner": _test_runner(result.target.driver),
        },
        "passes": {
            name: {
                "status": p.status,
                "seconds": round(p.seconds, 2),
                "error": p.error or None,
                "notes": list(p.notes),
                "artifacts": [str(a.path) for a in p.artifacts],
                "data": _jsonable(p.data),
            }
            for name, p in result.passes.items()
        },
        "findings": [finding_dict(r) for r in result.findings],
        "summary": {
            "counts": counts,
            "by_severity": by_sev,
            "top": one_line(result.findings[0]) if result.findings else None,
            "unmeasured": result.unmeasured or None,
            "failed_tests": result.failed_tests,
        },
        "warnings": list(result.warnings),
        "environment": list(result.environment),
    }


def render_json(result: ScanResult) -> str:
    # clean_data: a name holding undecodable bytes reads `caf\xe9`, not a `\udce9` strict parsers reject
    return json.dumps(clean_data(to_dict(result)), indent=2, ensure_ascii=True, default=str) + "\n"
