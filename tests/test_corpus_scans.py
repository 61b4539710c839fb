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
    if result.returncode != 0:
        misses = [ln for ln in result.stdout.splitlines() if ln.startswith(("MISS", "FORBIDDEN", "OUTSIDE"))]
        data = json.loads(report.read_text(encoding="utf-8"))
        hard = [ln for ln in misses if not near_threshold_miss(ln, data)]
        assert not hard, result.stdout
    assert_unchanged(before, root)


# How close to a severity threshold a measurement may sit and still land one level off: the
# sampling engine resolves about 4 ms of CPU per sample, and import times are wall-clock minimums
# on a shared machine. The corpus's figures come from another machine (corpus/README.md).
# domain -> {(upper level, lower level): the threshold between them}
BOUNDARIES = {
    "cpu": {("critical", "high"): 20.0, ("high", "medium"): 5.0, ("medium", "low"): 2.0},
    "import": {("high", "medium"): 500.0, ("medium", "low"): 100.0, ("low", "info"): 50.0},
    "memory": {("critical", "high"): 100.0, ("high", "medium"): 10.0, ("medium", "low"): 1.0},
}
TOLERANCE = {"cpu": lambda t: 1.5, "import": lambda t: 0.25 * t, "memory": lambda t: 0.05 * t}


def near_threshold_miss(line: str, report: dict) -> bool:
    """A MISS whose finding is there, with the expected pattern, one severity level from an
    expected one, and whose metric sits within the measurement's resolution of the threshold
    between the two levels: the severity is one level off, nothing else."""
    if not line.startswith("MISS ") or " -- " not in line:
        return False
    rule = json.loads(line[5:].split(" -- ")[0])
    domain = rule.get("domain")
    if domain not in BOUNDARIES or "severity" not in rule:
        return False
    wanted = rule["severity"] if isinstance(rule["severity"], list) else [rule["severity"]]
    loose = {k: v for k, v in rule.items() if k not in ("severity", "max_rank")}
    score_mod = _score_module()
    for f in report.get("findings", []):
        if not score_mod.matches(f, loose, strict=False) or f.get("severity") != f.get("base_severity", f.get("severity")):
            continue
        value = float(f["metric"]["value"])
        for (upper, lower), t in BOUNDARIES[domain].items():
            adjacent = (f["severity"] == upper and lower in wanted) or (f["severity"] == lower and upper in wanted)
            if adjacent and abs(value - t) <= TOLERANCE[domain](t):
                return True
    return False


def _score_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("corpus_score", CORPUS / "score.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_near_threshold_rule_is_narrow():
    report = {"findings": [{"domain": "cpu", "file": "graphkit/search.py", "symbol": "count_paths", "qualname": "graphkit.search:count_paths",
                            "pattern": "repeated-computation", "severity": "medium", "base_severity": "medium", "rank": 4,
                            "metric": {"value": 4.4}}]}
    rule = '{"domain": "cpu", "file": "graphkit/search.py", "symbol": "count_paths", "severity": ["high"], "pattern": ["repeated-computation"]}'
    assert near_threshold_miss("MISS " + rule + " -- reported: medium", report)
    report["findings"][0]["metric"]["value"] = 3.0  # far from 5% (near 2%, which is not between medium and high): a real miss
    assert not near_threshold_miss("MISS " + rule + " -- reported: medium", report)
    report["findings"][0]["metric"]["value"] = 4.4
    report["findings"][0]["pattern"] = "none"  # the wrong pattern is never excused
    assert not near_threshold_miss("MISS " + rule + " -- reported: medium", report)


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
