"""End to end: perfscan scans each corpus project for real, and score.py checks the report."""
from __future__ import annotations

import json

import pytest

from conftest import CORPUS, assert_unchanged, load_report, needs_corpus, run_perfscan, score, tree_state
import sys

PROJECTS = ["cli_wordfreq", "lib_graph", "lambda_thumbs", "wsgi_orders", "clean_lib"]


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Scan every corpus project once (all passes); the tests below read the reports."""
    from conftest import copy_project
    out = {}
    for name in PROJECTS:
        root = copy_project(CORPUS / name, tmp_path_factory.mktemp(name) / name)
        before = tree_state(root)
        proc = run_perfscan(str(root), "--runner", sys.executable)
        out[name] = (root, before, proc)
    return out


@needs_corpus
@pytest.mark.parametrize("name", PROJECTS)
def test_scan_meets_expectations(scans, name):
    root, before, proc = scans[name]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("[scan] CPU: ")
    report = root / ".codeflash" / "scan-report.json"
    assert (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8").startswith("# Codeflash Scan Report")
    result = score(name, report)
    assert result.returncode == 0, result.stdout
    assert_unchanged(before, root)


@needs_corpus
@pytest.mark.parametrize("name", PROJECTS)
def test_findings_point_into_the_project(scans, name):
    root, _, _ = scans[name]
    for f in load_report(root)["findings"]:
        if f["domain"] in ("cpu", "memory", "async"):
            assert f["file"] and not f["file"].startswith(("/", "..", "tests/")), f
            assert (root / f["file"]).is_file(), f


@needs_corpus
def test_json_report_schema(scans):
    root, _, _ = scans["cli_wordfreq"]
    data = load_report(root)
    for key in ("schema_version", "tool", "project", "python", "date", "deployment", "target", "passes", "findings", "summary"):
        assert key in data
    ranks = [f["rank"] for f in data["findings"]]
    assert ranks == list(range(1, len(ranks) + 1))
    for f in data["findings"]:
        for key in ("rank", "severity", "base_severity", "domain", "symbol", "qualname", "module", "file", "line", "metric",
                    "pattern", "evidence", "estimated_impact", "note", "phase", "runtime_confirmed"):
            assert key in f, key
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    for heading in ("## Top Targets (ranked by estimated impact)", "## Domain Recommendations", "## Detailed Findings",
                    "### CPU (", "### Memory", "### Import Time", "### Async (static analysis)"):
        assert heading in md
