"""`perfscan merge`: a suite scanned in two shards, merged into one report (docs/design.md "Sharded scans").

End to end: two real scans of a small project (one per test file), merged; then the merge rules on
small hand-written reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import assert_unchanged, run_perfscan, tree_state, write_project

from perfscan.merge import merge_shards
from perfscan.merge.inputs import Shard
from perfscan.report.json_report import to_dict
from perfscan.report.saved import load_report as read_report

PROJECT = {
    "pyproject.toml": '[project]\nname = "shardy"\nversion = "0.1"\n',
    "shardy/__init__.py": "",
    "shardy/work.py": (
        "def hot_a(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += i * i % 7\n"
        "    return total\n"
        "\n"
        "\n"
        "def busy_b(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += i * 3 % 11\n"
        "    return total\n"
        "\n"
        "\n"
        "def shared(n):\n"
        "    return sum(i % 5 for i in range(n))\n"
    ),
    # shard a: hot_a dominates its wall; shared runs 3 times
    "tests/test_a.py": (
        "from shardy.work import hot_a, shared\n"
        "\n"
        "def test_hot():\n"
        "    assert hot_a(400_000) >= 0\n"
        "\n"
        "def test_shared():\n"
        "    for _ in range(3):\n"
        "        assert shared(40_000) >= 0\n"
    ),
    # shard b: several times hot_a's time in busy_b; shared runs 5 times
    "tests/test_b.py": (
        "from shardy.work import busy_b, shared\n"
        "\n"
        "def test_busy():\n"
        "    assert busy_b(3_600_000) >= 0\n"
        "\n"
        "def test_shared():\n"
        "    for _ in range(5):\n"
        "        assert shared(40_000) >= 0\n"
    ),
}


def _json(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _cpu(report: Dict[str, Any], fn: str) -> Dict[str, Any]:
    return next(f for f in report["findings"] if f["domain"] == "cpu" and f["qualname"] == fn)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("merge")
    root = write_project(tmp / "shardy", PROJECT)
    before = tree_state(root)
    outs = []
    for name in ("a", "b"):
        out = tmp / f"shard-{name}"
        proc = run_perfscan(
            str(root), "--runner", sys.executable, "--passes", "cpu", "--out", str(out), "--quiet", "--",
            f"tests/test_{name}.py",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append(out / "scan-report.json")
    assert_unchanged(before, root)
    merged = tmp / "merged"
    proc = run_perfscan("merge", str(outs[0]), str(outs[1]), "--out", str(merged))
    return outs, merged, proc


@pytest.mark.slow
def test_merged_cpu_shares_are_re_derived_over_both_walls(shards):
    (a, b), merged, proc = shards
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("[scan] CPU: ")
    ra, rb, rm = _json(a), _json(b), _json(merged / "scan-report.json")
    hot_a = _cpu(ra, "shardy.work:hot_a")
    hot_m = _cpu(rm, "shardy.work:hot_a")
    assert not any(f["qualname"] == "shardy.work:hot_a" for f in rb["findings"])
    wall_a = ra["passes"]["cpu"]["data"]["wall_seconds"]
    wall_b = rb["passes"]["cpu"]["data"]["wall_seconds"]
    assert rm["passes"]["cpu"]["data"]["wall_seconds"] == pytest.approx(wall_a + wall_b)
    # hot in shard a alone: its seconds over both shards' walls, a smaller share, a lower severity
    assert hot_m["metric"]["value"] < hot_a["metric"]["value"]
    assert hot_m["metric"]["value"] == pytest.approx(
        100 * hot_a["details"]["wall_seconds"] / (wall_a + wall_b), abs=0.1
    )
    assert hot_a["severity"] == "critical"
    assert hot_m["severity"] == "high", (hot_a["metric"], hot_m["metric"])
    # exact call counts add for the function both shards ran
    shared_a = ra["passes"]["cpu"]["data"]["calls"]["shardy.work:shared"]
    shared_b = rb["passes"]["cpu"]["data"]["calls"]["shardy.work:shared"]
    assert (shared_a, shared_b) == (3, 5)
    assert rm["passes"]["cpu"]["data"]["calls"]["shardy.work:shared"] == 8
    assert _cpu(rm, "shardy.work:busy_b")["details"]["calls"] == 1
    shared_m = [f for f in rm["findings"] if f["qualname"] == "shardy.work:shared"]
    assert all(f["details"]["calls"] == 8 for f in shared_m)
    assert [f["rank"] for f in rm["findings"]] == list(range(1, len(rm["findings"]) + 1))


@pytest.mark.slow
def test_merged_markdown_reads_as_a_scan_report_naming_both_shards(shards):
    (a, b), merged, _ = shards
    md = (merged / "scan-report.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == "# Codeflash Scan Report"
    assert lines[1].startswith("**Scanned**: 4 tests (merged from shards) | **Date**: ")
    target = next(line for line in lines if line.startswith("- Target: "))
    assert str(a) in target and str(b) in target
    assert "tests/test_a.py::test_hot" in target and "tests/test_b.py::test_busy" in target
    assert "## Top Targets (ranked by estimated impact)" in md
    assert "| 1 | critical | CPU | busy_b (shardy/work.py:8) |" in md
    assert "| 2 | high | CPU | hot_a (shardy/work.py:1) |" in md
    assert "shares re-derived over the 2 shards' profiled wall time" in md


@pytest.mark.slow
def test_fail_on_gates_ci_on_the_merged_severities(shards, tmp_path):
    (a, b), _, _ = shards
    # busy_b is critical in the merged report: a CI gate at critical fails, one at nothing passes
    gate = run_perfscan("merge", str(a), str(b), "--out", str(tmp_path / "gate"), "--quiet", "--fail-on", "critical")
    assert gate.returncode == 1, gate.stderr
    assert gate.stdout.startswith("[scan] CPU: ")
    assert (tmp_path / "gate" / "scan-report.json").is_file()


@pytest.mark.slow
def test_diff_reads_the_merged_report(shards):
    (a, _), merged, _ = shards
    proc = run_perfscan("diff", str(a), str(merged / "scan-report.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    changes = {c["target"]: c["kind"] for c in json.loads(proc.stdout)["changes"]}
    assert changes["shardy.work:busy_b"] == "new"
    # the merged JSON reads back as the scan's values and writes back the same
    data = _json(merged / "scan-report.json")
    assert to_dict(read_report(data)) == data


@pytest.mark.slow
def test_reports_that_do_not_agree_or_do_not_exist_are_usage_errors(shards, tmp_path):
    (a, b), _, _ = shards
    other = _json(b)
    other["project"]["name"] = "another"
    wrong = tmp_path / "other.json"
    wrong.write_text(json.dumps(other), encoding="utf-8")
    out = tmp_path / "out"
    for args, words in (
        ((str(a), str(wrong)), f"{wrong} differs from {a} in project"),
        ((str(a), str(tmp_path / "missing.json")), f"cannot read {tmp_path / 'missing.json'}"),
        ((str(a), str(a)), "is given twice"),
    ):
        proc = run_perfscan("merge", *args, "--out", str(out))
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("perfscan: error: ")
        assert words in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not out.exists()


# -- the merge rules on small reports ------------------------------------------------------------


def _finding(domain: str, qualname: str, pattern: str, value: float, **extra: Any) -> Dict[str, Any]:
    f = {
        "rank": 1,
        "severity": "medium",
        "domain": domain,
        "symbol": qualname.split(":")[-1],
        "qualname": qualname,
        "module": qualname.split(":")[0],
        "file": "app/core.py",
        "line": 10,
        "metric": {
            "value": value,
            "unit": {"memory": "MiB", "import": "ms"}.get(domain, ""),
            "label": f"{value} ms self",
        },
        "pattern": pattern,
        "evidence": "seen",
        "estimated_impact": "",
        "note": "",
        "phase": "call",
        "runtime_confirmed": False,
        "magnitude": 0.5,
        "details": {},
    }
    f.update(extra)
    return f


def _report(findings: List[Dict[str, Any]], tests: List[str], sections: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "schema_version": 1,
        "tool": {"name": "perfscan", "version": "0.1.0"},
        "project": {"root": "/ci/app", "name": "app", "packages": ["app"], "subprojects": []},
        "deployment": {"model": "library", "evidence": [], "entry_modules": []},
        "target": {"tests": tests, "mode": "all", "collected": len(tests), "note": ""},
        "passes": {d: {"status": "ok", "seconds": 1.0, "notes": [], "data": data} for d, data in sections.items()},
        "findings": findings,
        "warnings": ["shared warning"],
    }


def _merge(*reports: Dict[str, Any]):
    return merge_shards([Shard(f"shard{i}.json", r, read_report(r)) for i, r in enumerate(reports)])


def test_memory_peaks_take_the_highest_shard_never_the_sum():
    a = _report([_finding("memory", "app.core:load", "large-allocation", 12.0)], ["t::a"], {"memory": {"tool": "t"}})
    b = _report([_finding("memory", "app.core:load", "large-allocation", 30.0)], ["t::b"], {"memory": {"tool": "t"}})
    result = _merge(a, b)
    (r,) = result.findings
    assert r.finding.metric.value == 30.0
    assert r.severity == "high"  # 30 MiB; 42 added would still be high, 12 is high too: the value says it
    assert r.finding.details["shard"] == "shard1.json"
    assert result.warnings == ("shared warning",)


def test_import_figures_are_the_median_of_the_shards():
    reports = [
        _report([_finding("import", "app.core", "import-time-computation", v)], [], {"import": {"runs": 3}})
        for v in (120.0, 600.0, 130.0)
    ]
    (r,) = _merge(*reports).findings
    assert r.finding.metric.value == 130.0
    assert r.finding.metric.label == "130 ms self"
    assert r.severity == "medium"  # the slow runner's 600 ms would have made it high


def test_async_findings_are_one_per_rule_file_and_line_and_any_confirmation_confirms():
    def report(confirmed: bool) -> Dict[str, Any]:
        return _report(
            [
                _finding("async", "app.core:fetch", "blocking-call-in-async", 0, runtime_confirmed=confirmed),
                _finding("async", "app.core:other", "await-in-loop", 0, line=30),
            ],
            [],
            {"async": {"has_async": True}},
        )

    result = _merge(report(False), report(True))
    assert sorted((r.finding.pattern, r.finding.line) for r in result.findings) == [
        ("await-in-loop", 30),
        ("blocking-call-in-async", 10),
    ]
    blocking = next(r for r in result.findings if r.finding.pattern == "blocking-call-in-async")
    assert blocking.finding.runtime_confirmed
