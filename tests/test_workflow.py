"""CI gates, diffs, SARIF, exec: perfscan where its users already work."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from conftest import REPO, SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

HOT_LIB = {
    "pyproject.toml": "[project]\nname = 'hot'\nversion = '1'\n",
    "hot/__init__.py": "",
    "hot/core.py": SLOW_UNIQUE,
    "tests/test_core.py": "from hot.core import slow_unique\n\ndef test_u():\n    assert len(slow_unique([i % 2000 for i in range(20000)])) == 2000\n",
}


@pytest.fixture(scope="module")
def hot_scan(tmp_path_factory):
    root = write_project(tmp_path_factory.mktemp("hot") / "hot", HOT_LIB)
    proc = run_perfscan(
        str(root), "--runner", sys.executable, "--passes", "cpu,async", "--format", "sarif", "--fail-on", "critical"
    )
    return root, proc


def test_fail_on_reached_exits_1(hot_scan):
    root, proc = hot_scan
    assert proc.returncode == 1, proc.stderr
    assert load_report(root)["findings"][0]["severity"] == "critical"
    assert proc.stdout.strip().startswith("[scan] ")


def test_fail_on_not_reached_exits_0(tmp_path):
    root = write_project(
        tmp_path / "calm",
        {
            "pyproject.toml": "[project]\nname='calm'\nversion='1'\n",
            "calm/__init__.py": "X = 1\n",
            "tests/test_x.py": "from calm import X\n\ndef test_x():\n    assert X == 1\n",
        },
    )
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,async", "--fail-on", "low")
    assert proc.returncode == 0, proc.stderr


def test_sarif_validates_against_the_schema(hot_scan):
    root, _ = hot_scan
    sarif = json.loads((root / ".codeflash" / "scan-report.sarif").read_text())
    schema = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "quadratic-membership" and result["level"] == "error"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "hot/core.py" and loc["region"]["startLine"] == 4


def test_quiet_prints_only_the_summary_line(tmp_path):
    root = write_project(tmp_path / "hot", HOT_LIB)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "async", "--quiet")
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.startswith("[scan] CPU: 0 targets")


def test_exec_profiles_a_script(tmp_path):
    root = write_project(
        tmp_path / "app",
        {
            "pyproject.toml": "[project]\nname='app'\nversion='1'\n",
            "app/__init__.py": "",
            "app/work.py": "def crunch(n):\n    acc = []\n    for i in range(n):\n        acc = sorted(acc + [i % 97])\n    return len(acc)\n",
            "bench.py": "import sys\nfrom app.work import crunch\n\nif __name__ == '__main__':\n    print(crunch(int(sys.argv[1])))\n",
        },
    )
    before = tree_state(root)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfscan",
            "exec",
            str(root),
            "--runner",
            sys.executable,
            "--passes",
            "cpu",
            "--",
            "python",
            "bench.py",
            "3000",
        ],
        cwd=str(root),
        env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert report["target"]["mode"] == "exec" and report["target"]["exec"] == ["python", "bench.py", "3000"]
    top = report["findings"][0]
    assert (top["symbol"], top["file"], top["pattern"]) == ("crunch", "app/work.py", "sort-in-loop")
    assert_unchanged(before, root)


SRC_APP = {
    "pyproject.toml": "[project]\nname='app'\nversion='1'\n",
    "src/app/__init__.py": "",
    "src/app/work.py": "def crunch(n):\n    acc = []\n    for i in range(n):\n        acc = sorted(acc + [i % 97])\n    return len(acc)\n",
    "src/app/cli.py": "import sys\nfrom app.work import crunch\n\nif __name__ == '__main__':\n    print(crunch(int(sys.argv[1])))\n",
}


def test_exec_runs_a_module_of_a_src_layout_project(tmp_path):
    # not installed anywhere: `-m app.cli` finds src/ the way the project's tests would
    root = write_project(tmp_path / "app", SRC_APP)
    before = tree_state(root)
    proc = run_perfscan(
        "exec", str(root), "--runner", sys.executable, "--passes", "cpu", "--", "python", "-m", "app.cli", "3000"
    )
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert not [w for w in report["warnings"] if "command failed" in w], report["warnings"]
    top = report["findings"][0]
    assert (top["symbol"], top["file"], top["pattern"]) == ("crunch", "src/app/work.py", "sort-in-loop")
    assert_unchanged(before, root)


def test_exec_of_a_failing_command_says_so_up_front(tmp_path):
    root = write_project(tmp_path / "app", SRC_APP)
    proc = run_perfscan(
        "exec", str(root), "--runner", sys.executable, "--passes", "cpu,memory", "--", "python", "-m", "app.nosuch"
    )
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    (warning,) = [w for w in report["warnings"] if "command failed" in w]
    assert "app.nosuch" in warning and "only what ran" in warning
    assert "- Warning: the command failed" in (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")


def test_exec_without_command_is_usage_error(tmp_path):
    proc = run_perfscan("exec", str(tmp_path))
    assert proc.returncode == 2 and "needs a command" in proc.stderr


def test_diff_after_a_fix_shows_the_hotspot_gone_and_nothing_new(corpus_copy, tmp_path):
    root = corpus_copy("cli_logstats")
    args = ["--runner", sys.executable, "--passes", "cpu"]
    assert run_perfscan(str(root), *args).returncode == 0
    base = tmp_path / "base.json"
    base.write_text((root / ".codeflash" / "scan-report.json").read_text())
    analysis = root / "src" / "logstats" / "report.py"
    fixed = analysis.read_text().replace(
        '    paths = []\n    for rec in records:\n        if rec["path"] not in paths:\n            paths.append(rec["path"])\n    return paths\n',
        '    paths = {}\n    for rec in records:\n        if rec["path"] not in paths:\n            paths[rec["path"]] = None\n    return list(paths)\n',
    )
    assert fixed != analysis.read_text()
    analysis.write_text(fixed)
    assert run_perfscan(str(root), *args).returncode == 0
    head = root / ".codeflash" / "scan-report.json"
    proc = run_perfscan("diff", str(base), str(head))
    md = proc.stdout
    row = [ln for ln in md.splitlines() if "distinct_paths" in ln]
    assert row and (row[0].startswith("| gone") or row[0].startswith("| improved")), md
    assert not [ln for ln in md.splitlines() if ln.startswith("| new")], md
    assert proc.returncode == 0, md
    data = json.loads(run_perfscan("diff", str(base), str(head), "--json").stdout)
    assert {c["kind"] for c in data["changes"]} <= {"gone", "improved", "unchanged", "worsened"}


def test_diff_flags_a_new_finding(tmp_path):
    base = {"findings": []}
    head = {
        "findings": [
            {
                "domain": "cpu",
                "qualname": "m:f",
                "pattern": "none",
                "severity": "high",
                "metric": {"value": 12.0, "unit": "%"},
            }
        ]
    }
    (tmp_path / "a.json").write_text(json.dumps(base))
    (tmp_path / "b.json").write_text(json.dumps(head))
    proc = run_perfscan("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-on", "high")
    assert proc.returncode == 1 and "| new | high | cpu | m:f" in proc.stdout


def test_diff_ignores_changes_inside_the_noise(tmp_path):
    f = {
        "domain": "cpu",
        "qualname": "m:f",
        "pattern": "none",
        "severity": "high",
        "metric": {"value": 12.0, "unit": "%"},
    }
    g = dict(f, metric={"value": 12.5, "unit": "%"})
    (tmp_path / "a.json").write_text(json.dumps({"findings": [f]}))
    (tmp_path / "b.json").write_text(json.dumps({"findings": [g]}))
    proc = run_perfscan("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-on", "low")
    assert proc.returncode == 0 and "| unchanged |" in proc.stdout


def test_diff_bad_input_is_usage_error(tmp_path):
    (tmp_path / "x.json").write_text("not json")
    proc = run_perfscan("diff", str(tmp_path / "x.json"), str(tmp_path / "x.json"))
    assert proc.returncode == 2 and "not JSON" in proc.stderr


def test_thresholds_in_pyproject_change_what_is_reported_and_how_high(tmp_path):
    busy = "import time as _t\n_s = _t.process_time()\nwhile _t.process_time() - _s < 0.02:\n    pass\n"
    root = write_project(
        tmp_path / "hot",
        dict(
            HOT_LIB,
            **{
                # no share can exceed 100%, so nothing is critical; a 20 ms import is reported from 10 ms
                "pyproject.toml": HOT_LIB["pyproject.toml"]
                + "\n[tool.perfscan.thresholds]\ncpu = { critical = 100 }\nimport = { low = 10 }\n",
                "hot/__init__.py": busy,
            },
        ),
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,import")
    assert proc.returncode == 0, proc.stderr
    found = {(f["domain"], f["symbol"]): f for f in load_report(root)["findings"]}
    assert found["cpu", "slow_unique"]["severity"] == "high", found["cpu", "slow_unique"]
    assert found["import", "hot"]["pattern"] == "import-time-computation"
    assert 10 < found["import", "hot"]["metric"]["value"] < 50  # below docs/design.md's 50 ms, above the project's 10
    assert load_report(root)["thresholds"]["cpu"] == {"critical": 100.0, "high": 5.0, "medium": 2.0}
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert "- Thresholds (from [tool.perfscan.thresholds]): cpu: critical > 100%, high > 5%, medium > 2%;" in md
    assert_unchanged(before, root)


def test_a_later_scan_leaves_no_output_of_an_earlier_one(tmp_path):
    root = write_project(tmp_path / "hot", HOT_LIB)
    assert (
        run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,import", "--format", "html").returncode
        == 0
    )
    out = root / ".codeflash"
    assert (out / "cpu.pstats").is_file() and (out / "scan-report.html").is_file()
    assert run_perfscan(str(root), "--runner", sys.executable, "--passes", "async").returncode == 0
    # the profile and the page were of the first scan: beside the second report they would mislead
    assert sorted(p.name for p in out.iterdir()) == ["scan-report.json", "scan-report.md"]
