"""Ranking (docs/design.md "Ranking"): base severity, deployment adjustments, order. One test per rule."""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import REPO

from perfscan.models import DEFAULT_THRESHOLDS, MODELS, Finding, Metric
from perfscan.ranking import adjust, at_or_above, base_severity, magnitude, rank

UNITS = {"cpu": "%", "memory": "MiB", "import": "ms", "async": "calls"}
DEFAULT_PATTERN = {
    "cpu": "none",
    "memory": "large-allocation",
    "import": "import-time-computation",
    "async": "await-in-loop",
}
DEFAULT_PHASE = {"cpu": "call", "memory": "call", "import": "import", "async": "static"}


def finding(domain, value=1.0, *, name=None, pattern=None, phase=None, hot_path=False, third_party=False):
    name = name or f"{domain}_{value}"
    return Finding(
        domain=domain,
        symbol=name,
        qualname=f"pkg.mod:{name}",
        module="pkg.mod",
        file="pkg/mod.py",
        line=1,
        metric=Metric(value, UNITS[domain], f"{value} {UNITS[domain]}"),
        pattern=pattern or DEFAULT_PATTERN[domain],
        evidence="",
        estimated_impact="",
        phase=phase or DEFAULT_PHASE[domain],
        hot_path=hot_path,
        third_party=third_party,
    )


def only(findings, model, startup=False):
    (ranked,) = rank(findings, model, startup)
    return ranked


# --- 1. base severity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "share, severity",
    [
        (25.0, "critical"),
        (20.0, "high"),
        (10.0, "high"),
        (5.0, "medium"),
        (3.0, "medium"),
    ],
)
def test_cpu_base_severity_by_attributable_share(share, severity):
    assert base_severity(finding("cpu", share)) == severity


@pytest.mark.parametrize(
    "mib, severity",
    [
        (150.0, "critical"),
        (100.0, "high"),
        (50.0, "high"),
        (5.0, "medium"),
    ],
)
def test_memory_base_severity_by_mib_at_peak(mib, severity):
    assert base_severity(finding("memory", mib)) == severity


@pytest.mark.parametrize(
    "ms, severity",
    [
        (600.0, "high"),
        (500.0, "medium"),
        (200.0, "medium"),
        (75.0, "low"),
    ],
)
def test_import_base_severity_by_milliseconds(ms, severity):
    assert base_severity(finding("import", ms)) == severity


# docs/design.md "Ranking", rule 1: every bound is exclusive ("> 20"), so a value at the bound
# takes the level below it and the next value above it takes the level above: pinned from both sides.
DESIGN_BOUNDS = [
    ("cpu", 20.0, "critical", "high"),
    ("cpu", 5.0, "high", "medium"),
    ("cpu", 2.0, "medium", "low"),
    ("memory", 100.0, "critical", "high"),
    ("memory", 10.0, "high", "medium"),
    ("memory", 1.0, "medium", "low"),
    ("import", 500.0, "high", "medium"),
    ("import", 100.0, "medium", "low"),
    ("import", 50.0, "low", "info"),
]


@pytest.mark.parametrize("domain, bound, above, at_or_below", DESIGN_BOUNDS)
def test_every_severity_bound_is_pinned_from_both_sides(domain, bound, above, at_or_below):
    assert base_severity(finding(domain, bound)) == at_or_below
    assert base_severity(finding(domain, math.nextafter(bound, 0.0))) == at_or_below
    assert base_severity(finding(domain, math.nextafter(bound, math.inf))) == above
    assert base_severity(finding(domain, bound * 1.01)) == above


def test_the_bounds_are_the_design_table():
    table = {d: tuple((b, s) for d2, b, s, _ in DESIGN_BOUNDS if d2 == d) for d in ("cpu", "memory", "import")}
    assert dict(DEFAULT_THRESHOLDS.table) == table
    # and the page's table says the same (a row per domain: "| cpu | ... | > 20 | > 5 | > 2 | |")
    rows = {}
    for line in (REPO / "docs" / "design.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in table and cells[2:] != ["critical", "high", "medium", "low"]:
            rows[cells[0]] = tuple(
                (float(c[2:]), s) for c, s in zip(cells[2:], ("critical", "high", "medium", "low")) if c
            )
    assert rows == table


def test_the_magnitude_unit_is_the_high_bound():
    highs = [(domain, bound) for domain, bound, above, _ in DESIGN_BOUNDS if above == "high"]
    assert [d for d, _ in highs] == ["cpu", "memory", "import"]
    for domain, bound in highs:
        (r,) = rank([finding(domain, bound * 3)], "cli")
        assert r.magnitude == pytest.approx(3.0), domain


@pytest.mark.parametrize(
    "pattern, hot_path, severity",
    [
        ("blocking-call-in-async", True, "high"),
        ("blocking-call-in-async", False, "medium"),
        ("sequential-awaits", False, "high"),
        ("cache-on-async", False, "medium"),
        ("await-in-loop", True, "medium"),
    ],
)
def test_async_base_severity_by_pattern(pattern, hot_path, severity):
    assert base_severity(finding("async", 1, pattern=pattern, hot_path=hot_path)) == severity


# --- 2. deployment adjustments ---------------------------------------------------------------


def test_server_import_is_info_with_a_note():
    r = only([finding("import", 600.0)], "long-running-server")
    assert (r.base_severity, r.severity) == ("high", "info")
    assert r.note


@pytest.mark.parametrize("phase", ["setup", "teardown"])
def test_server_cpu_in_test_setup_or_teardown_is_low(phase):
    r = only([finding("cpu", 25.0, phase=phase)], "long-running-server")
    assert (r.base_severity, r.severity) == ("critical", "low")
    assert r.note


def test_server_cpu_in_call_keeps_base():
    r = only([finding("cpu", 25.0, phase="call")], "long-running-server")
    assert r.severity == "critical"


def test_server_per_request_growth_is_critical():
    r = only([finding("memory", 5.0, pattern="per-request-growth", phase="run")], "long-running-server")
    assert (r.base_severity, r.severity) == ("medium", "critical")
    assert r.note


@pytest.mark.parametrize("phase", ["import", "setup"])
def test_server_memory_fixed_at_start_up_is_low(phase):
    r = only([finding("memory", 150.0, phase=phase)], "long-running-server")
    assert (r.base_severity, r.severity) == ("critical", "low")
    assert r.note


def test_server_memory_in_call_keeps_base():
    r = only([finding("memory", 150.0, phase="call")], "long-running-server")
    assert r.severity == "critical"


def test_serverless_import_is_critical():
    r = only([finding("import", 75.0)], "serverless")
    assert (r.base_severity, r.severity) == ("low", "critical")
    assert r.note


def test_library_third_party_import_is_info():
    r = only([finding("import", 600.0, third_party=True)], "library")
    assert (r.base_severity, r.severity) == ("high", "info")
    assert r.note


def test_library_project_internal_import_keeps_base():
    r = only([finding("import", 600.0, third_party=False)], "library")
    assert r.severity == "high"


def test_unknown_import_is_info():
    r = only([finding("import", 600.0)], "unknown")
    assert (r.base_severity, r.severity) == ("high", "info")
    assert r.note


def test_cli_import_keeps_base():
    r = only([finding("import", 200.0)], "cli")
    assert r.severity == "medium"


@pytest.mark.parametrize("model", ["long-running-server", "unknown"])
def test_startup_restores_base_for_imports(model):
    r = only([finding("import", 600.0)], model, startup=True)
    assert r.severity == "high"
    assert r.note


def test_startup_does_not_restore_a_library_third_party_import():
    r = only([finding("import", 600.0, third_party=True)], "library", startup=True)
    assert r.severity == "info"


def test_adjust_leaves_unaffected_domains_alone():
    # serverless only changes imports
    assert adjust(finding("cpu", 10.0), "high", "serverless", False) == ("high", "")


# --- 3. order --------------------------------------------------------------------------------


def test_order_severity_before_magnitude():
    critical_small = finding("cpu", 21.0)  # critical, magnitude 4.2
    high_big = finding("memory", 95.0)  # high, magnitude 9.5
    ranked = rank([high_big, critical_small], "cli")
    assert [r.finding for r in ranked] == [critical_small, high_big]


def test_order_within_a_severity_by_magnitude_of_the_domain_high_threshold():
    cpu = finding("cpu", 10.0)  # 10 / 5 = 2.0
    memory = finding("memory", 50.0)  # 50 / 10 = 5.0
    imp = finding("import", 900.0)  # 900 / 500 = 1.8
    async_hot = finding("async", 1, pattern="blocking-call-in-async", hot_path=True)  # 1.0
    ranked = rank([async_hot, imp, cpu, memory], "cli")
    assert {r.severity for r in ranked} == {"high"}
    assert [r.finding for r in ranked] == [memory, cpu, imp, async_hot]
    assert [r.magnitude for r in ranked] == pytest.approx([5.0, 2.0, 1.8, 1.0])


def test_order_async_off_the_hot_path_weighs_half():
    async_cold = finding("async", 1, pattern="cache-on-async")  # medium, 0.5
    imp = finding("import", 300.0)  # medium, 0.6
    ranked = rank([async_cold, imp], "cli")
    assert [r.finding for r in ranked] == [imp, async_cold]
    assert ranked[1].magnitude == pytest.approx(0.5)


def test_order_ties_broken_by_domain_cpu_memory_async_import():
    # all medium, all magnitude 0.5
    imp = finding("import", 250.0)
    async_cold = finding("async", 1, pattern="await-in-loop")
    memory = finding("memory", 5.0)
    cpu = finding("cpu", 2.5)
    ranked = rank([imp, async_cold, memory, cpu], "cli")
    assert {r.severity for r in ranked} == {"medium"}
    assert [r.magnitude for r in ranked] == pytest.approx([0.5] * 4)
    assert [r.finding.domain for r in ranked] == ["cpu", "memory", "async", "import"]


def _mixed():
    return [
        finding("cpu", 25.0, name="a"),
        finding("cpu", 3.0, name="b", phase="setup"),
        finding("memory", 150.0, name="c", phase="import"),
        finding("memory", 12.0, name="d", pattern="per-request-growth"),
        finding("import", 600.0, name="e"),
        finding("import", 75.0, name="f", third_party=True),
        finding("async", 1, name="g", pattern="sequential-awaits"),
        finding("async", 1, name="h", pattern="dangling-task"),
    ]


@pytest.mark.parametrize("model", MODELS)
def test_ranks_are_consecutive_from_one(model):
    ranked = rank(_mixed(), model)
    assert [r.rank for r in ranked] == list(range(1, len(_mixed()) + 1))
    assert all(type(r.rank) is int for r in ranked)


@pytest.mark.parametrize("startup", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_every_adjusted_finding_carries_a_note(model, startup):
    ranked = rank(_mixed(), model, startup)
    adjusted = [r for r in ranked if r.severity != r.base_severity]
    for r in adjusted:
        assert r.note, f"{model}: {r.finding.symbol} {r.base_severity} -> {r.severity} without a note"


def test_some_model_adjusts_the_mixed_findings():
    # keeps the note test above from passing vacuously
    for model in ("long-running-server", "serverless", "library", "unknown"):
        assert any(r.severity != r.base_severity for r in rank(_mixed(), model))


def test_at_or_above():
    assert at_or_above("critical", "high")
    assert at_or_above("high", "high")
    assert not at_or_above("medium", "high")
    assert not at_or_above("info", "low")


# --- user thresholds ([tool.perfscan.thresholds]) --------------------------------------------


def test_user_thresholds_move_the_levels_and_the_magnitude_unit():
    from perfscan.settings import parse_thresholds

    mine = parse_thresholds({"cpu": {"high": 10, "critical": 40}, "import": {"high": 200}}, "t")
    assert base_severity(finding("cpu", 8.0)) == "high"
    assert base_severity(finding("cpu", 8.0), mine) == "medium"
    assert base_severity(finding("cpu", 30.0), mine) == "high"
    assert base_severity(finding("import", 300.0), mine) == "high"
    assert base_severity(finding("memory", 50.0), mine) == "high"  # untouched domains keep docs/design.md's table
    (ranked,) = rank([finding("cpu", 30.0)], "library", thresholds=mine)
    assert (ranked.severity, ranked.magnitude) == ("high", 3.0)  # 30% over a `high` of 10%


# --- the words and the order a user reads ---------------------------------------------------------


def test_notes_say_why_in_the_findings_words():
    (r,) = rank([finding("cpu", 25.0, phase="setup")], "long-running-server")
    assert r.note == "in test setup: one-time start-up work for a server, not per request"
    (r,) = rank([finding("import", 600.0)], "long-running-server", startup=True)
    assert (r.severity, r.note) == ("high", "--startup: start-up cost ranked at its base severity")
    (r,) = rank([finding("import", 600.0)], "cli")
    assert (r.severity, r.note) == ("high", "start-up is user-facing for a CLI: every invocation pays this import")
    (r,) = rank([finding("import", 600.0)], "library")
    assert (r.severity, r.note) == ("high", "")
    (r,) = rank([finding("cpu", 25.0)], "cli")
    assert r.note == ""


@pytest.mark.parametrize(
    "model, f, severity",
    [
        ("long-running-server", finding("cpu", 25.0, phase="setup"), "low"),
        ("long-running-server", finding("memory", 12.0, pattern="per-request-growth"), "critical"),
        ("long-running-server", finding("memory", 150.0, phase="import"), "low"),
        ("serverless", finding("import", 75.0), "critical"),
        ("library", finding("import", 600.0, third_party=True), "info"),
    ],
)
def test_startup_restores_only_import_cost_paid_once(model, f, severity):
    # --startup is about start-up cost a deployment pays once; these adjustments are not that
    (r,) = rank([f], model, startup=True)
    assert r.severity == severity


def test_order_uses_the_adjusted_severity_not_the_base():
    imp = finding("import", 600.0)  # base high, info on a server
    cpu = finding("cpu", 3.0)  # medium
    ranked = rank([imp, cpu], "long-running-server")
    assert [(r.finding, r.severity, r.base_severity) for r in ranked] == [
        (cpu, "medium", "medium"),
        (imp, "info", "high"),
    ]


def test_a_domain_perfscan_does_not_know_ranks_last_without_error():
    # a saved report from a newer perfscan may hold one: no bound, no magnitude, after the known domains
    odd = dataclasses.replace(finding("cpu", 0.0, name="odd"), domain="gpu")
    cpu = finding("cpu", 0.0, name="zero")
    assert magnitude(odd) == 0.0 and base_severity(odd) == "low"
    ranked = rank([odd, cpu], "cli")
    assert [r.finding.domain for r in ranked] == ["cpu", "gpu"]


def test_magnitude_is_rounded_to_three_places():
    (r,) = rank([finding("cpu", 7.77777)], "cli")
    assert r.magnitude == 1.556
