"""`--format sarif`: every domain's findings, with a file and line, a file alone, or no file at all
(a third-party import), make a log that validates against SARIF 2.1.0 and says where each is."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import jsonschema
import pytest
from conftest import REPO

from perfscan import catalog
from perfscan.report.sarif import LEVELS, SCORES, render_sarif
from perfscan.report.saved import load_report

UNITS = {"cpu": "%", "memory": "MiB", "import": "ms", "async": "calls"}
SEVERITY_OF = {"cpu": "critical", "memory": "high", "import": "medium", "async": "low"}


@lru_cache(maxsize=1)
def schema() -> Dict[str, Any]:
    return json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def finding(
    domain: str,
    pattern: str,
    *,
    file: Optional[str] = "app/core.py",
    line: Optional[int] = 7,
    severity: Optional[str] = None,
    module: Optional[str] = "app.core",
    symbol: str = "work",
    note: str = "",
) -> Dict[str, Any]:
    return {
        "domain": domain,
        "symbol": symbol,
        "qualname": f"{module}:{symbol}" if domain in ("cpu", "async") else (module or symbol),
        "module": module,
        "file": file,
        "line": line,
        "pattern": pattern,
        "severity": severity or SEVERITY_OF[domain],
        "base_severity": severity or SEVERITY_OF[domain],
        "note": note,
        "evidence": f"{pattern} evidence.",
        "estimated_impact": "some",
        "phase": "call",
        "metric": {"value": 12.0, "unit": UNITS[domain], "label": f"12 {UNITS[domain]}"},
    }


def every_domain(tmp_path: Path) -> List[Dict[str, Any]]:
    """A finding for every pattern of the catalog, plus the shapes a location can take."""
    findings = [finding(p.domain, p.id, symbol=p.id.replace("-", "_")) for p in catalog.PATTERNS]
    findings += [
        finding("cpu", catalog.NO_PATTERN, symbol="plain_hotspot"),  # a CPU finding with no pattern
        finding("import", "heavy-eager-import", file=None, line=None, module="heavylib", symbol="heavylib"),
        finding("import", "import-time-computation", file="app/__init__.py", line=None, symbol="app", module="app"),
        finding("memory", "large-allocation", file=None, line=None, module=None, symbol="<unknown>", note="a note"),
        finding("cpu", "none", severity="info", symbol="quiet"),
    ]
    for i, f in enumerate(findings, 1):
        f["rank"] = i
    return findings


def render(tmp_path: Path, findings: List[Dict[str, Any]]) -> Dict[str, Any]:
    report = {
        "project": {"root": str(tmp_path / "proj"), "name": "proj"},
        "python": "3.11.7",
        "deployment": {"model": "cli"},
        "tool": {"version": "9.9"},
        "findings": findings,
    }
    return json.loads(render_sarif(load_report(report)))


def test_every_domain_with_and_without_a_file_validates(tmp_path):
    findings = every_domain(tmp_path)
    sarif = render(tmp_path, findings)
    jsonschema.validate(sarif, schema())
    run = sarif["runs"][0]
    results = run["results"]
    assert len(results) == len(findings)
    assert {r["properties"]["domain"] for r in results} == {"cpu", "memory", "import", "async"}
    rules = run["tool"]["driver"]["rules"]
    for f, r in zip(findings, results):
        assert r["ruleId"] == catalog.rule_id(f["domain"], f["pattern"])
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == LEVELS[f["severity"]]
        assert r["properties"]["severity"] == f["severity"] and r["properties"]["rank"] == f["rank"]
        assert r["rank"] == 100.0 - f["rank"]
        (loc,) = r["locations"]
        if f["file"]:
            physical = loc["physicalLocation"]
            assert physical["artifactLocation"] == {"uri": f["file"], "uriBaseId": "PROJECTROOT"}
            assert physical.get("region") == ({"startLine": f["line"]} if f["line"] else None)
            assert "logicalLocations" not in loc
        else:
            assert "physicalLocation" not in loc
            (logical,) = loc["logicalLocations"]
            assert logical == {"fullyQualifiedName": f["module"] or f["symbol"], "kind": "module"}
    # both shapes were checked above: files, and modules with no file
    assert {bool(f["file"]) for f in findings} == {True, False}
    assert run["originalUriBaseIds"]["PROJECTROOT"]["uri"] == (tmp_path / "proj").as_uri() + "/"
    assert run["properties"] == {"deployment": "cli", "python": "3.11.7"}
    assert run["tool"]["driver"]["version"] == "9.9"


def test_the_third_party_import_is_located_by_its_module(tmp_path):
    sarif = render(
        tmp_path, [finding("import", "heavy-eager-import", file=None, line=None, module="heavylib", symbol="heavylib")]
    )
    jsonschema.validate(sarif, schema())
    (result,) = sarif["runs"][0]["results"]
    assert result["locations"] == [{"logicalLocations": [{"fullyQualifiedName": "heavylib", "kind": "module"}]}]
    assert result["message"]["text"].startswith("heavylib: 12 ms, ")


def test_one_rule_per_pattern_with_the_catalog_doc(tmp_path):
    findings = every_domain(tmp_path)
    run = render(tmp_path, findings)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert set(ids) == {catalog.rule_id(f["domain"], f["pattern"]) for f in findings}
    assert set(ids) <= {p.id for p in catalog.PATTERNS}
    for rule in rules:
        pattern = catalog.get(rule["id"])
        assert rule["shortDescription"] == {"text": pattern.title}
        assert rule["help"]["text"] == pattern.doc and rule["help"]["markdown"] == pattern.doc
        assert rule["fullDescription"]["text"] == pattern.section("What it does")
        assert rule["helpUri"] == "https://pypi.org/project/perfscan/"
        assert rule["name"] == "".join(w.capitalize() for w in rule["id"].split("-"))


def test_a_pattern_without_a_catalog_row_still_validates(tmp_path):
    sarif = render(tmp_path, [finding("async", "made-up-rule")])
    jsonschema.validate(sarif, schema())
    (rule,) = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rule["shortDescription"] == {"text": "made up rule"} and "help" not in rule


@pytest.mark.parametrize("severity", sorted(LEVELS))
def test_every_severity_maps_to_a_level(tmp_path, severity):
    sarif = render(tmp_path, [finding("cpu", "deepcopy", severity=severity)])
    jsonschema.validate(sarif, schema())
    (result,) = sarif["runs"][0]["results"]
    assert result["level"] == {"critical": "error", "high": "error", "medium": "warning"}.get(severity, "note")
    assert (
        SCORES[severity] == {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0", "info": "1.0"}[severity]
    )


def test_the_message_carries_evidence_impact_and_note(tmp_path):
    sarif = render(tmp_path, [finding("memory", "large-allocation", note="fixed at start-up")])
    (result,) = sarif["runs"][0]["results"]
    text = result["message"]["text"]
    assert text.endswith("large-allocation evidence. Estimated impact: some. fixed at start-up.")
    assert "[high Memory]" in text


def test_a_scan_with_no_findings_is_a_valid_empty_log(tmp_path):
    sarif = render(tmp_path, [])
    jsonschema.validate(sarif, schema())
    assert sarif["runs"][0]["results"] == [] and sarif["runs"][0]["tool"]["driver"]["rules"] == []


def test_the_result_rank_counts_down_from_100_and_stops_at_0(tmp_path):
    findings = [dict(finding("cpu", "deepcopy"), rank=r) for r in (1, 99, 100, 150)]
    results = render(tmp_path, findings)["runs"][0]["results"]
    assert [r["rank"] for r in results] == [99.0, 1.0, 0.0, 0.0]
