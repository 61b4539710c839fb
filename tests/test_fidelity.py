"""The scan's checks against plain pytest, on the facts the probe runs report (docs/design.md
"Faithful runs"); the end-to-end cases are in test_environment.py."""

from __future__ import annotations

from pathlib import Path

from perfscan import fidelity
from perfscan.models import ImportedCopy, PassResult, RunFacts

ROOT = Path("/proj")
SITE = "/venv/lib/python3.11/site-packages"


def test_a_package_whose_modules_map_nowhere_is_a_scan_that_measured_nothing():
    facts = RunFacts(
        {"t::a": ("passed", "")},
        (
            ImportedCopy("calc", f"{SITE}/calc/__init__.py", None, None),
            ImportedCopy("calc.fast", f"{SITE}/calc/fast.py", None, None),
        ),
        project_modules=2,
    )
    warnings, reason = fidelity.copies_warnings([facts], ROOT)
    assert warnings == []
    assert reason == f"project package(s) {fidelity.UNMAPPED}: calc from {SITE}/calc"
    assert "pip install -e ." in fidelity.advice(reason)


def test_copies_that_map_are_attributed_and_differing_files_named():
    facts = RunFacts(
        {},
        (
            ImportedCopy("calc", f"{SITE}/calc/__init__.py", "/proj/src/calc/__init__.py", True),
            ImportedCopy("calc.core", f"{SITE}/calc/core.py", "/proj/src/calc/core.py", False),
            ImportedCopy("calc._version", f"{SITE}/calc/_version.py", None, None),
        ),
    )
    (warning,), reason = fidelity.copies_warnings([facts], ROOT)
    assert reason == ""
    assert warning.startswith(f"project package calc ran from a copy outside the scanned source ({SITE}/calc)")
    assert "attributed to the scanned files at the same paths (src/calc)" in warning
    assert "1 of 2 modules that ran differ from the scanned source (content hash): src/calc/core.py" in warning
    assert "1 module(s) that ran have no scanned file: calc._version" in warning


def test_outcomes_are_compared_with_the_plain_run_for_tests_both_finished():
    plain = RunFacts({"t::a": ("passed", ""), "t::b": ("passed", ""), "t::c": ("failed", "boom")})
    cpu = PassResult("cpu", "ok", 1.0, facts=RunFacts({"t::a": ("passed", ""), "t::c": ("failed", "boom")}))
    memory = PassResult(
        "memory", "ok", 1.0, facts=RunFacts({"t::a": ("failed", "MemoryError"), "t::new": ("failed", "")})
    )
    (warning,) = fidelity.outcome_differences(plain, {"cpu": cpu, "memory": memory})
    assert warning == (
        "the Memory pass's test outcomes differ from the plain run's in 1 test(s): "
        "t::a passed plainly and failed under the memory tracer (MemoryError)"
    )
    assert fidelity.outcome_differences(None, {"cpu": cpu}) == []


def test_a_pass_with_tests_but_no_project_code():
    ran = RunFacts({"t::a": ("passed", "")}, project_modules=0)
    assert fidelity.NO_PROJECT_CODE in fidelity.no_project_code({"memory": PassResult("memory", "ok", 1.0, facts=ran)})
    measured = RunFacts({"t::a": ("passed", "")}, project_modules=0, profiled_project=True)
    assert fidelity.no_project_code({"cpu": PassResult("cpu", "ok", 1.0, facts=measured)}) == ""
    # no test finished (a timed-out pass): not this check's to judge
    assert fidelity.no_project_code({"cpu": PassResult("cpu", "ok", 1.0, facts=RunFacts({}, (), 0))}) == ""
