"""End to end: perfscan scans each project of the in-repo corpus (bench/corpus) for real, and
bench/score.py checks the report against the project's EXPECTED.json."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from typing import List, Optional

import pytest
from conftest import CORPUS, SCORER, assert_unchanged, copy_project, load_report, run_perfscan, score, tree_state

PROJECTS = sorted(p.name for p in CORPUS.iterdir() if (p / "EXPECTED.json").is_file())


def test_the_corpus_covers_every_deployment_and_domain():
    expected = [json.loads((CORPUS / name / "EXPECTED.json").read_text(encoding="utf-8")) for name in PROJECTS]
    assert {e["deployment"] for e in expected} == {"cli", "long-running-server", "serverless", "library"}
    assert {r["domain"] for e in expected for r in e["expect"]} == {"cpu", "memory", "import", "async"}
    assert any(
        not e["expect"] and {"domain": "cpu", "pattern_other_than": ["none"]} in e["forbid"] for e in expected
    ), "no clean project where labelling any anti-pattern is forbidden"


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Each corpus project scanned once (all passes), when a test first asks for it: `-k NAME` scans one."""
    done = {}

    def scan(name: str):
        if name not in done:
            root = copy_project(CORPUS / name, tmp_path_factory.mktemp(name) / name)
            before = tree_state(root)
            proc = run_perfscan(str(root), "--runner", sys.executable)
            done[name] = (root, before, proc)
        return done[name]

    return scan


@pytest.mark.parametrize("name", PROJECTS)
def test_scan_meets_expectations(scans, name):
    root, before, proc = scans(name)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("[scan] CPU: ")
    report = root / ".codeflash" / "scan-report.json"
    assert (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8").startswith("# Codeflash Scan Report")
    result = score(name, report)
    hard = hard_failures(result, json.loads(report.read_text(encoding="utf-8")))
    assert not hard, result.stdout + result.stderr
    assert_unchanged(before, root)


def hard_failures(result: subprocess.CompletedProcess, report: dict) -> List[str]:
    """What the scorer found wrong, less the misses that are the measurement's noise. A failure the
    scorer does not explain (a crash, an exit code it does not give, no MISS line) is never excused."""
    if result.returncode == 0:
        return []
    if result.returncode != 1:
        return [f"score.py exited {result.returncode}: {(result.stderr or result.stdout)[-500:]}"]
    misses = [ln for ln in result.stdout.splitlines() if ln.startswith(("MISS", "FORBIDDEN", "OUTSIDE"))]
    if not misses:
        return ["score.py failed without a MISS, FORBIDDEN or OUTSIDE line"]
    return [ln for ln in misses if not near_threshold_miss(ln, report)]


# How close to a severity threshold a measurement may sit and still land one level off. Shares move
# between runs by up to a point (TRUTH.md's min-max ranges near a threshold, measured with no
# profiler); a sampled share is also off by its sampling error, three standard errors of a share p
# from n samples (100 * sqrt(p(1-p)/n)): few samples, wide; many, narrow. Import times are
# wall-clock minimums on a shared machine: the import pass takes out the time a run waited for
# a core, but not a neighbour on the same physical core (SMT), which no scheduler statistic
# shows: lib_mesh's 380 ms import read above 625 ms on CI with a second scan beside it. Memory is
# counted, not sampled.
# domain -> {(upper level, lower level): the threshold between them}
BOUNDARIES = {
    "cpu": {("critical", "high"): 20.0, ("high", "medium"): 5.0, ("medium", "low"): 2.0},
    "import": {("high", "medium"): 500.0, ("medium", "low"): 100.0, ("low", "info"): 50.0},
    "memory": {("critical", "high"): 100.0, ("high", "medium"): 10.0, ("medium", "low"): 1.0},
}
CPU_RUN_TO_RUN = 1.0  # share points
_PER_SAMPLE = re.compile(r"a sample per ([0-9.]+) ms")
_POOLED = re.compile(r"; (\d+) runs pooled")


def cpu_samples(report: dict) -> Optional[float]:
    """About how many samples the CPU pass's shares come from; None when it did not sample (cProfile)."""
    data = report.get("passes", {}).get("cpu", {}).get("data") or {}
    engine = str(data.get("engine") or "")
    per = _PER_SAMPLE.search(engine)
    if data.get("engine_id") != "sample" or per is None or float(per.group(1)) <= 0:
        return None
    pooled = _POOLED.search(engine)
    runs = int(pooled.group(1)) if pooled else 1
    return float(data.get("wall_seconds") or 0.0) * runs / (float(per.group(1)) / 1000.0)


def tolerance(domain: str, threshold: float, report: dict) -> float:
    if domain == "import":
        return 0.5 * threshold
    if domain == "memory":
        return 0.05 * threshold
    n = cpu_samples(report)
    if n is None:
        return CPU_RUN_TO_RUN
    if n < 1:
        return 0.0  # a share from no samples is no measurement to excuse
    p = threshold / 100.0
    return CPU_RUN_TO_RUN + 300.0 * math.sqrt(p * (1 - p) / n)


def near_threshold_miss(line: str, report: dict) -> bool:
    """A MISS whose finding is there, in the expected place, with the expected pattern, within the
    rule's max_rank, one severity level from the one level the rule expects, and whose metric sits
    within the measurement's resolution of the threshold between the two levels: the severity is
    one level off, nothing else. A rule that already allows two levels is not widened further."""
    if not line.startswith("MISS ") or " -- " not in line:
        return False
    rule = json.loads(line[5:].split(" -- ")[0])
    domain = rule.get("domain")
    if domain not in BOUNDARIES or "severity" not in rule:
        return False
    wanted = rule["severity"] if isinstance(rule["severity"], list) else [rule["severity"]]
    if len(wanted) != 1:
        return False
    (wanted,) = wanted
    loose = {k: v for k, v in rule.items() if k != "severity"}
    score_mod = _score_module()
    for f in report.get("findings", []):
        if not score_mod.matches(f, loose, strict=False) or f.get("severity") != f.get(
            "base_severity", f.get("severity")
        ):
            continue
        if rule.get("max_rank") and score_mod.rank_of(f) > rule["max_rank"]:
            continue
        value = float(f["metric"]["value"])
        for (upper, lower), t in BOUNDARIES[domain].items():
            adjacent = {f["severity"], wanted} == {upper, lower}
            if adjacent and abs(value - t) <= tolerance(domain, t, report):
                return True
    return False


def _score_module():
    if "corpus_score" not in sys.modules:
        spec = importlib.util.spec_from_file_location("corpus_score", SCORER)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["corpus_score"] = mod  # its dataclasses look their module up there
        spec.loader.exec_module(mod)
    return sys.modules["corpus_score"]


def test_scorer_says_what_holds_and_what_does_not(tmp_path):
    expected = {
        "deployment": "library",
        "expect": [
            {"domain": "cpu", "file": "pkg/a.py", "symbol": "slow", "severity": ["high"], "max_rank": 1},
            {"domain": "import", "module": "pkg.b", "pattern": ["import-time-computation"]},
        ],
        "forbid": [{"domain": "cpu", "symbol": "fine", "pattern_other_than": ["none"]}],
    }
    good = {
        "deployment": {"model": "library"},
        "findings": [
            {
                "rank": 1,
                "domain": "cpu",
                "file": "pkg/a.py",
                "symbol": "slow",
                "qualname": "pkg.a:slow",
                "severity": "high",
                "pattern": "none",
            },
            {
                "rank": 2,
                "domain": "cpu",
                "file": "pkg/a.py",
                "symbol": "fine",
                "qualname": "pkg.a:fine",
                "severity": "low",
                "pattern": "none",
            },
            {
                "rank": 3,
                "domain": "import",
                "module": "pkg.b",
                "symbol": "pkg.b",
                "file": None,
                "severity": "medium",
                "pattern": "import-time-computation",
            },
        ],
    }
    bad = json.loads(json.dumps(good))
    bad["findings"][0]["rank"], bad["findings"][1]["rank"] = 2, 1  # the planted one ranks below max_rank
    bad["findings"][1]["pattern"] = "nested-loop"  # a label where only "none" is allowed
    bad["findings"].append({"rank": 4, "domain": "memory", "file": "tests/test_a.py", "symbol": "t", "severity": "low"})
    paths = {}
    for name, report in (("good", good), ("bad", bad), ("expected", expected)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(report), encoding="utf-8")
    ok = subprocess.run(
        [sys.executable, str(SCORER), str(paths["expected"]), str(paths["good"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.splitlines()[-1] == "score: 2/2 expected, 0 forbidden, 0 outside project"
    no = subprocess.run(
        [sys.executable, str(SCORER), str(paths["expected"]), str(paths["bad"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no.returncode == 1
    assert no.stdout.splitlines()[-1] == "score: 1/2 expected, 1 forbidden, 1 outside project"
    assert [ln.split()[0] for ln in no.stdout.splitlines()[:-1]] == ["MISS", "ok", "FORBIDDEN", "OUTSIDE"]
    usage = subprocess.run(
        [sys.executable, str(SCORER), str(paths["expected"])], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "usage" in usage.stderr


EXPECT_STAIRCASE = {
    "deployment": "library",
    "expect": [
        {
            "domain": "cpu",
            "file": "mesh/regions.py",
            "symbol": "staircase_count",
            "severity": ["high"],
            "pattern": ["repeated-computation"],
            "max_rank": 3,
        }
    ],
    "forbid": [],
}


def staircase_report(value=4.4, severity="medium", base=None, rank=2, pattern="repeated-computation", cpu=None):
    finding = {
        "domain": "cpu",
        "file": "mesh/regions.py",
        "symbol": "staircase_count",
        "qualname": "mesh.regions:staircase_count",
        "pattern": pattern,
        "severity": severity,
        "base_severity": base or severity,
        "rank": rank,
        "metric": {"value": value, "unit": "%"},
    }
    others = [{"domain": "cpu", "file": "mesh/a.py", "symbol": f"f{i}", "rank": i, "severity": "high"} for i in (1, 3)]
    report = {"deployment": {"model": "library"}, "findings": [finding] + others}
    if cpu is not None:
        report["passes"] = {"cpu": {"data": cpu}}
    return report


def sampled(samples: float) -> dict:
    # a sample per 4 ms: `samples` samples over the run
    return {
        "engine_id": "sample",
        "engine": "sampling (ITIMER_PROF, 1 ms; a sample per 4.0 ms of runnable time) + exact call counts; 2 runs pooled",
        "wall_seconds": samples * 0.004 / 2,
    }


def judged(tmp_path, report, expected=EXPECT_STAIRCASE) -> List[str]:
    """The real scorer on `report`, then what the corpus test would fail on."""
    (tmp_path / "expected.json").write_text(json.dumps(expected), encoding="utf-8")
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCORER), str(tmp_path / "expected.json"), str(tmp_path / "report.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return hard_failures(result, report)


@pytest.mark.parametrize(
    "report, excused",
    [
        pytest.param(staircase_report(), True, id="0.6-points-under-5pct"),
        pytest.param(staircase_report(value=5.4, severity="high", rank=9), False, id="right-level-rank-9-of-3"),
        pytest.param(staircase_report(rank=7), False, id="near-but-rank-7-of-3"),
        pytest.param(staircase_report(value=3.0), False, id="near-2pct-not-5pct"),
        pytest.param(staircase_report(value=3.8), False, id="1.2-points-cprofile"),
        pytest.param(staircase_report(value=3.8, cpu=sampled(500)), True, id="1.2-points-500-samples"),
        pytest.param(staircase_report(value=3.8, cpu=sampled(1_000_000)), False, id="1.2-points-1e6-samples"),
        pytest.param(staircase_report(value=4.4, cpu=sampled(0)), False, id="no-samples"),
        pytest.param(staircase_report(pattern="none"), False, id="wrong-pattern"),
        pytest.param(staircase_report(severity="low", base="medium"), False, id="deployment-adjusted"),
        pytest.param(staircase_report(value=5.4, severity="low"), False, id="two-levels-off"),
    ],
)
def test_near_threshold_excuse_is_narrow(tmp_path, report, excused):
    hard = judged(tmp_path, report)
    assert (hard == []) == excused, hard


def test_a_rule_that_allows_two_levels_is_not_widened(tmp_path):
    expected = json.loads(json.dumps(EXPECT_STAIRCASE))
    expected["expect"][0]["severity"] = ["high", "medium"]
    assert judged(tmp_path, staircase_report(), expected) == []
    # 1.8% is low, near the 2% between low and medium: the rule's own two levels are its allowance
    assert judged(tmp_path, staircase_report(value=1.8, severity="low"), expected)


def test_a_scorer_failure_it_does_not_explain_fails(tmp_path):
    # unreadable input: the scorer exits 2 with no MISS line
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCORER), str(tmp_path / "broken.json"), str(tmp_path / "broken.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert hard_failures(result, {}) != []
    crash = subprocess.CompletedProcess([], 1, stdout="Traceback (most recent call last):\n", stderr="")
    assert hard_failures(crash, {}) == ["score.py failed without a MISS, FORBIDDEN or OUTSIDE line"]
    wrong_model = subprocess.CompletedProcess([], 1, stdout="MISS deployment: expected cli, got library\n")
    assert hard_failures(wrong_model, {}) == ["MISS deployment: expected cli, got library"]
    assert hard_failures(subprocess.CompletedProcess([], 0, stdout=""), {}) == []


def test_sample_count_from_the_cpu_section():
    assert cpu_samples(staircase_report(cpu=sampled(500))) == pytest.approx(500)
    assert cpu_samples(staircase_report()) is None
    assert cpu_samples(staircase_report(cpu={"engine_id": "cprofile", "engine": "cProfile"})) is None


@pytest.mark.parametrize("name", PROJECTS)
def test_findings_point_into_the_project(scans, name):
    root, _, _ = scans(name)
    placed = [f for f in load_report(root)["findings"] if f["domain"] in ("cpu", "memory", "async")]
    assert placed  # every corpus project has CPU findings at least
    for f in placed:
        assert f["file"] and not f["file"].startswith(("/", "..", "tests/")), f
        assert (root / f["file"]).is_file(), f


def test_json_report_schema(scans):
    root, _, _ = scans("cli_logstats")
    data = load_report(root)
    for key in (
        "schema_version",
        "tool",
        "project",
        "python",
        "date",
        "deployment",
        "target",
        "passes",
        "findings",
        "summary",
    ):
        assert key in data
    ranks = [f["rank"] for f in data["findings"]]
    assert ranks == list(range(1, len(ranks) + 1))
    for f in data["findings"]:
        for key in (
            "rank",
            "severity",
            "base_severity",
            "domain",
            "symbol",
            "qualname",
            "module",
            "file",
            "line",
            "metric",
            "pattern",
            "evidence",
            "estimated_impact",
            "note",
            "phase",
            "runtime_confirmed",
        ):
            assert key in f, key
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    for heading in (
        "## Top Targets (ranked by estimated impact)",
        "## Domain Recommendations",
        "## Detailed Findings",
        "### CPU (",
        "### Memory",
        "### Import Time",
        "### Async (static analysis)",
    ):
        assert heading in md
