"""`perfscan diff BASE.json HEAD.json [--fail-on SEVERITY]` (docs/design.md "Diff"): every kind of
change, CPU compared by the function's attributable seconds (not its share), and the exit code a
CI job reads. Reports are written by hand: each test states the two scans it compares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from conftest import run_perfscan

from perfscan.commands import diff as diff_command
from perfscan.diff import NOISE, compare, engine_note, significant


def cpu(name: str, share: float, seconds: Optional[float], severity: str = "high", pattern: str = "none") -> Dict:
    details = {} if seconds is None else {"attributable_seconds": seconds}
    return {
        "domain": "cpu",
        "symbol": name,
        "qualname": f"app.core:{name}",
        "module": "app.core",
        "file": "app/core.py",
        "line": 3,
        "pattern": pattern,
        "severity": severity,
        "metric": {"value": share, "unit": "%", "label": f"{share}% of profiled test time"},
        "details": details,
    }


def measured(domain: str, name: str, value: float, severity: str, unit: str) -> Dict:
    return {
        "domain": domain,
        "symbol": name,
        "qualname": name,
        "module": name,
        "file": None,
        "line": None,
        "pattern": "large-allocation" if domain == "memory" else "import-time-computation",
        "severity": severity,
        "metric": {"value": value, "unit": unit, "label": f"{value} {unit}"},
    }


def report(*findings: Dict, functions: Optional[Dict[str, float]] = None, engine: str = "") -> Dict[str, Any]:
    data: Dict[str, Any] = {"findings": list(findings)}
    if functions is not None or engine:
        data["passes"] = {"cpu": {"status": "ok", "data": {"functions": functions or {}, "engine_id": engine}}}
    return data


def run_diff(tmp_path: Path, base: Dict, head: Dict, *args: str, capsys) -> tuple:
    """The command in this process (fast enough to run under mutation testing): exit code, stdout."""
    (tmp_path / "base.json").write_text(json.dumps(base), encoding="utf-8")
    (tmp_path / "head.json").write_text(json.dumps(head), encoding="utf-8")
    code = diff_command.main([str(tmp_path / "base.json"), str(tmp_path / "head.json"), *args])
    return code, capsys.readouterr().out


def rows(markdown: str) -> List[List[str]]:
    """The table's rows, split into cells (no cell here holds an escaped pipe)."""
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in markdown.splitlines() if ln.startswith("| ")][1:]


def kinds(changes) -> Dict[str, str]:
    return {c.target: c.kind for c in changes}


# --- the kinds of change --------------------------------------------------------------------------


def test_every_kind_of_change_in_one_comparison(tmp_path, capsys):
    base = report(
        cpu("steady", 10.0, 1.0),
        cpu("slower", 10.0, 1.0),
        cpu("faster", 10.0, 1.0),
        cpu("fixed", 30.0, 3.0, severity="critical"),
        measured("memory", "app.cache", 20.0, "high", "MiB"),
    )
    head = report(
        cpu("steady", 10.0, 1.0),
        cpu("slower", 20.0, 2.0),
        cpu("faster", 5.0, 0.5),
        cpu("arrived", 8.0, 0.8),
        measured("memory", "app.cache", 40.0, "high", "MiB"),
    )
    code, out = run_diff(tmp_path, base, head, capsys=capsys)
    assert code == 0
    table = {r[3]: r for r in rows(out)}
    assert {t: r[0] for t, r in table.items()} == {
        "app.core:steady": "unchanged",
        "app.core:slower": "worsened",
        "app.core:faster": "improved",
        "app.core:fixed": "gone",
        "app.core:arrived": "new",
        "app.cache": "worsened",
    }
    # new, worsened, improved, gone, unchanged: the order a reader wants
    assert [r[0] for r in rows(out)] == ["new", "worsened", "worsened", "improved", "gone", "unchanged"]
    assert "1 new, 2 worsened, 1 improved, 1 gone, 1 unchanged" in out
    assert table["app.core:slower"][5:] == ["10.0 %", "20.0 %", "+1.000 s"]  # the delta is in seconds
    assert table["app.cache"][5:] == ["20.0 MiB", "40.0 MiB", "+20.0 MiB"]
    assert table["app.core:arrived"][5:] == ["-", "8.0 %", ""]
    assert table["app.core:fixed"][1] == "critical"


def test_json_output_lists_the_same_changes(tmp_path, capsys):
    base = report(cpu("slower", 10.0, 1.0), cpu("fixed", 30.0, 3.0, severity="critical"))
    head = report(cpu("slower", 20.0, 2.0, severity="critical"), cpu("arrived", 8.0, 0.8, severity="medium"))
    code, out = run_diff(tmp_path, base, head, "--json", capsys=capsys)
    assert code == 0
    data = json.loads(out)
    got = {c["target"]: (c["kind"], c["severity"]) for c in data["changes"]}
    assert got == {
        "app.core:arrived": ("new", "medium"),
        "app.core:slower": ("worsened", "high -> critical"),
        "app.core:fixed": ("gone", "critical"),
    }
    gone = next(c for c in data["changes"] if c["kind"] == "gone")
    assert gone["head"] is None and gone["base"]["qualname"] == "app.core:fixed"
    assert data["noise"]["cpu"] == {"absolute": NOISE["cpu"][0], "relative": NOISE["cpu"][1]}


# --- CPU: attributable seconds, not the share -----------------------------------------------------


def test_cpu_share_up_seconds_same_is_unchanged(tmp_path, capsys):
    # another function got faster: this one's share doubled, its own seconds did not move
    code, out = run_diff(
        tmp_path, report(cpu("f", 10.0, 1.0)), report(cpu("f", 20.0, 1.0)), "--fail-on", "low", capsys=capsys
    )
    assert [r[0] for r in rows(out)] == ["unchanged"]
    assert code == 0


def test_cpu_seconds_up_share_same_is_worsened(tmp_path, capsys):
    # everything got slower together: the share stayed, the function's seconds doubled
    code, out = run_diff(
        tmp_path, report(cpu("f", 10.0, 1.0)), report(cpu("f", 10.0, 2.0)), "--fail-on", "high", capsys=capsys
    )
    assert [r[0] for r in rows(out)] == ["worsened"]
    assert code == 1


def test_cpu_seconds_down_share_up_is_improved(tmp_path, capsys):
    code, out = run_diff(
        tmp_path, report(cpu("f", 10.0, 2.0)), report(cpu("f", 30.0, 1.0)), "--fail-on", "low", capsys=capsys
    )
    assert [r[0] for r in rows(out)] == ["improved"]
    assert rows(out)[0][7] == "-1.000 s"
    assert code == 0


def test_cpu_without_seconds_on_either_side_compares_the_share():
    # reports written before attributable seconds existed: the share is all there is
    assert kinds(compare(report(cpu("f", 10.0, None)), report(cpu("f", 20.0, None)))) == {"app.core:f": "worsened"}
    assert kinds(compare(report(cpu("f", 10.0, 1.0)), report(cpu("f", 20.0, None)))) == {"app.core:f": "worsened"}
    assert kinds(compare(report(cpu("f", 10.0, None)), report(cpu("f", 10.5, None)))) == {"app.core:f": "unchanged"}


def test_cpu_function_under_the_threshold_before_is_worsened_only_when_its_seconds_grew():
    base = report(functions={"app.core:f": 1.0})
    assert kinds(compare(base, report(cpu("f", 10.0, 2.0)))) == {"app.core:f": "worsened"}
    assert kinds(compare(base, report(cpu("f", 10.0, 1.1)))) == {"app.core:f": "unchanged"}
    assert kinds(compare(base, report(cpu("f", 10.0, 0.4)))) == {"app.core:f": "unchanged"}
    # not in the base's table at all: new
    assert kinds(compare(report(functions={"app.core:g": 1.0}), report(cpu("f", 10.0, 2.0)))) == {"app.core:f": "new"}


def test_a_pattern_change_is_matched_to_the_same_function():
    base = report(cpu("f", 10.0, 1.0, pattern="sort-in-loop"))
    head = report(cpu("f", 10.0, 1.0, pattern="deepcopy"))
    (change,) = compare(base, head)
    assert (change.kind, change.pattern) == ("unchanged", "sort-in-loop -> deepcopy")


def test_two_findings_of_one_target_match_by_pattern_first():
    base = report(cpu("f", 10.0, 1.0, pattern="sort-in-loop"), cpu("f", 10.0, 3.0, pattern="deepcopy"))
    head = report(cpu("f", 10.0, 3.0, pattern="deepcopy"), cpu("f", 10.0, 1.0, pattern="sort-in-loop"))
    assert {(c.kind, c.pattern) for c in compare(base, head)} == {
        ("unchanged", "sort-in-loop"),
        ("unchanged", "deepcopy"),
    }


# --- the noise bands: a change must exceed both the absolute and the relative band ---------------


@pytest.mark.parametrize(
    "domain, base, inside, outside",
    [
        ("cpu", 1.0, 1.34, 1.36),  # seconds: 35%
        ("cpu", 0.1, 0.15, 0.151),  # seconds: 50 ms at least
        ("memory", 20.0, 22.0, 22.01),  # MiB: 10%
        ("memory", 5.0, 6.0, 6.01),  # MiB: 1 MiB at least
        ("import", 200.0, 300.0, 300.1),  # ms: 50%
        ("import", 60.0, 110.0, 110.1),  # ms: 50 ms at least
    ],
)
def test_noise_band_is_pinned_from_both_sides(domain, base, inside, outside):
    assert not significant(domain, base, inside)
    assert significant(domain, base, outside)
    assert not significant(domain, inside, base)  # the same band downwards
    assert significant(domain, outside * 2, base)


def test_any_async_change_counts():
    assert significant("async", 1.0, 2.0) and not significant("async", 1.0, 1.0)


def test_memory_and_import_changes_by_their_metric():
    base = report(measured("memory", "m", 20.0, "high", "MiB"), measured("import", "i", 200.0, "medium", "ms"))
    same = report(measured("memory", "m", 21.0, "high", "MiB"), measured("import", "i", 280.0, "medium", "ms"))
    worse = report(measured("memory", "m", 30.0, "high", "MiB"), measured("import", "i", 400.0, "medium", "ms"))
    better = report(measured("memory", "m", 10.0, "high", "MiB"), measured("import", "i", 90.0, "medium", "ms"))
    assert set(kinds(compare(base, same)).values()) == {"unchanged"}
    assert set(kinds(compare(base, worse)).values()) == {"worsened"}
    assert set(kinds(compare(base, better)).values()) == {"improved"}


# --- --fail-on: new or worsened at or above the severity -----------------------------------------


@pytest.mark.parametrize(
    "severity, fail_on, code",
    [
        ("critical", "high", 1),  # above the bound
        ("high", "high", 1),  # at the bound
        ("medium", "high", 0),  # below it
        ("low", "critical", 0),
        ("info", "info", 1),
        ("info", "low", 0),
    ],
)
def test_fail_on_a_new_finding_at_or_above_the_severity(tmp_path, capsys, severity, fail_on, code):
    got, out = run_diff(
        tmp_path, report(), report(cpu("f", 10.0, 1.0, severity=severity)), "--fail-on", fail_on, capsys=capsys
    )
    assert [r[0] for r in rows(out)] == ["new"]
    assert got == code


@pytest.mark.parametrize(
    "severity, fail_on, code", [("critical", "high", 1), ("high", "high", 1), ("medium", "high", 0)]
)
def test_fail_on_a_worsened_finding_at_or_above_the_severity(tmp_path, capsys, severity, fail_on, code):
    base = report(cpu("f", 10.0, 1.0, severity="medium"))
    head = report(cpu("f", 10.0, 3.0, severity=severity))
    got, out = run_diff(tmp_path, base, head, "--fail-on", fail_on, capsys=capsys)
    assert [r[0] for r in rows(out)] == ["worsened"]
    assert got == code


@pytest.mark.parametrize("kind_of_head", ["improved", "unchanged", "gone"])
def test_fail_on_ignores_what_did_not_get_worse(tmp_path, capsys, kind_of_head):
    base = report(cpu("f", 30.0, 2.0, severity="critical"))
    head = {
        "improved": report(cpu("f", 30.0, 1.0, severity="critical")),
        "unchanged": report(cpu("f", 40.0, 2.0, severity="critical")),
        "gone": report(),
    }[kind_of_head]
    got, out = run_diff(tmp_path, base, head, "--fail-on", "info", capsys=capsys)
    assert [r[0] for r in rows(out)] == [kind_of_head]
    assert got == 0


def test_without_fail_on_a_new_critical_finding_exits_0(tmp_path, capsys):
    got, _ = run_diff(tmp_path, report(), report(cpu("f", 30.0, 3.0, severity="critical")), capsys=capsys)
    assert got == 0


def test_engines_that_differ_are_named(tmp_path, capsys):
    base = report(cpu("f", 10.0, 1.0), functions={}, engine="cprofile")
    head = report(cpu("f", 10.0, 1.0), functions={}, engine="sample")
    _, out = run_diff(tmp_path, base, head, capsys=capsys)
    assert "different engines (cprofile / sample)" in out
    _, out = run_diff(tmp_path, base, base, capsys=capsys)
    assert "different engines" not in out


def test_a_file_that_is_no_report_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps({"not": "a report"}), encoding="utf-8")
    assert diff_command.main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 2
    assert "no findings" in capsys.readouterr().err
    assert diff_command.main([str(tmp_path / "missing.json"), str(tmp_path / "a.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_command_line_exits_1_on_a_worsened_finding(tmp_path):
    # the same through `perfscan diff` as a CI job runs it
    (tmp_path / "a.json").write_text(json.dumps(report(cpu("f", 10.0, 1.0))), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(report(cpu("f", 10.0, 2.0))), encoding="utf-8")
    proc = run_perfscan("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[2] == "0 new, 1 worsened, 0 improved, 0 gone, 0 unchanged"
    proc = run_perfscan("diff", str(tmp_path / "b.json"), str(tmp_path / "a.json"), "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr


# --- what each row says -----------------------------------------------------------------------------


def test_each_row_names_its_domain_target_and_pattern(tmp_path, capsys):
    base = report(cpu("fixed", 30.0, 3.0, pattern="sort-in-loop"), functions={"app.core:grown": 0.2})
    head = report(cpu("grown", 10.0, 2.0, pattern="deepcopy"))
    _, out = run_diff(tmp_path, base, head, capsys=capsys)
    assert [r[:5] for r in rows(out)] == [
        ["worsened", "high", "cpu", "app.core:grown", "deepcopy"],
        ["gone", "high", "cpu", "app.core:fixed", "sort-in-loop"],
    ]


def test_changes_of_one_kind_are_ordered_by_severity():
    base = report(cpu("g1", 10.0, 1.0, severity="low"), cpu("g2", 10.0, 1.0, severity="critical"))
    head = report(
        cpu("n1", 10.0, 1.0, severity="low"),
        cpu("n2", 10.0, 1.0, severity="critical"),
        cpu("n3", 10.0, 1.0, severity="high"),
        cpu("u", 10.0, 1.0, severity="critical"),
    )
    base["findings"].append(cpu("u", 10.0, 1.0, severity="critical"))
    got = [(c.kind, c.target.split(":")[1]) for c in compare(base, head)]
    assert got == [("new", "n2"), ("new", "n3"), ("new", "n1"), ("gone", "g2"), ("gone", "g1"), ("unchanged", "u")]


def test_a_severity_perfscan_does_not_know_sorts_last_within_its_kind():
    head = report(cpu("odd", 10.0, 1.0, severity="severe"), cpu("low", 10.0, 1.0, severity="low"))
    assert [c.target for c in compare(report(), head)] == ["app.core:low", "app.core:odd"]


def test_a_gone_finding_of_a_low_severity_still_comes_before_the_unchanged():
    base = report(cpu("g", 10.0, 1.0, severity="low"), cpu("u", 10.0, 1.0, severity="critical"))
    head = report(cpu("u", 10.0, 1.0, severity="critical"))
    assert [c.kind for c in compare(base, head)] == ["gone", "unchanged"]


def test_pattern_changes_pair_up_after_exact_matches():
    base = report(cpu("a", 10.0, 1.0, pattern="sort-in-loop"), cpu("b", 10.0, 1.0, pattern="deepcopy"))
    head = report(cpu("a", 10.0, 1.0, pattern="sort-in-loop"), cpu("b", 10.0, 1.0, pattern="nested-loop"))
    assert sorted((c.kind, c.target, c.pattern) for c in compare(base, head)) == [
        ("unchanged", "app.core:a", "sort-in-loop"),
        ("unchanged", "app.core:b", "deepcopy -> nested-loop"),
    ]


def test_seconds_only_when_both_sides_have_them():
    # base written before attributable seconds: both sides compare their shares (10% -> 20%: worse)
    assert kinds(compare(report(cpu("f", 10.0, None)), report(cpu("f", 20.0, 1.0)))) == {"app.core:f": "worsened"}
    # a memory finding is compared by its MiB whatever its details hold
    mem_b = dict(measured("memory", "m", 20.0, "high", "MiB"), details={"attributable_seconds": 1.0})
    mem_h = dict(measured("memory", "m", 40.0, "high", "MiB"), details={"attributable_seconds": 1.0})
    assert kinds(compare(report(mem_b), report(mem_h))) == {"m": "worsened"}


def test_a_function_under_the_threshold_before_without_seconds_now_compares_its_share():
    base = report(functions={"app.core:f": 1.0})
    assert kinds(compare(base, report(cpu("f", 12.0, None)))) == {"app.core:f": "worsened"}  # 12 "seconds"
    assert kinds(compare(report(functions={"app.core:f": 12.0}), report(cpu("f", 12.0, None)))) == {
        "app.core:f": "unchanged"
    }


def test_only_cpu_findings_are_looked_up_in_the_cpu_table():
    base = report(functions={"app.core": 1.0})
    (change,) = compare(base, report(measured("memory", "app.core", 30.0, "high", "MiB")))
    assert (change.kind, change.domain) == ("new", "memory")


def test_a_finding_is_named_by_qualname_then_module_then_symbol():
    nameless = {"domain": "async", "pattern": "await-in-loop", "severity": "medium", "metric": {"value": 1}}
    found = [
        dict(nameless, qualname="m:f", module="m", symbol="f"),
        dict(nameless, qualname="", module="m2", symbol="g"),
        dict(nameless, qualname="", module=None, symbol="h"),
        dict(nameless),
    ]
    assert [c.target for c in compare(report(), report(*found))] == ["m:f", "m2", "h", "?"]


def test_not_json_is_a_usage_error_naming_the_file(tmp_path, capsys):
    (tmp_path / "a.json").write_text("{nope", encoding="utf-8")
    assert diff_command.main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 2
    assert capsys.readouterr().err == (
        f"perfscan: error: {tmp_path / 'a.json'} is not JSON; pass two scan-report.json files\n"
    )


def test_the_command_line_help(capsys):
    with pytest.raises(SystemExit) as info:
        diff_command.main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: perfscan diff [-h] [--fail-on SEVERITY] [--json] base head")
    assert " base head Compare two scans: new, gone, worsened and improved findings. positional arguments:" in out
    assert "--fail-on SEVERITY exit 1 when a new or worsened finding is at or above SEVERITY" in out
    assert "--json print JSON instead of Markdown" in out
    with pytest.raises(SystemExit) as info:
        diff_command.main(["a.json", "b.json", "--fail-on", "severe"])
    assert info.value.code == 2
    assert "invalid choice: 'severe'" in capsys.readouterr().err


def test_a_domain_without_a_noise_band_counts_any_change():
    assert significant("gpu", 1.0, 1.5) and significant("gpu", 1.0, 0.99)
    assert not significant("gpu", 1.0, 1.0)


def test_the_engine_is_read_from_either_key():
    old = {"findings": [], "passes": {"cpu": {"data": {"engine": "cProfile"}}}}
    new = report(functions={}, engine="sample")
    assert engine_note(old, new).startswith("Note: the scans measured CPU with different engines (cProfile / sample)")
    assert engine_note(new, new) == "" and engine_note(report(), new) == "" and engine_note(old, old) == ""


def test_a_new_row_carries_its_pattern_and_no_note_means_no_line():
    from perfscan.diff import render_markdown

    md = render_markdown(compare(report(), report(cpu("f", 10.0, 1.0, pattern="deepcopy"))))
    assert md.startswith("## perfscan diff\n\n1 new, 0 worsened, 0 improved, 0 gone, 0 unchanged\n\n| Change |")
    assert "| new | high | cpu | app.core:f | deepcopy | - | 10.0 % |  |" in md
