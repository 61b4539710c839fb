"""The scan's checks against plain pytest, on the facts the probe runs report (docs/design.md
"Faithful runs"); the end-to-end cases are in test_environment.py."""

from __future__ import annotations

import sys
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


def test_the_probe_maps_a_running_copy_to_the_scanned_file(tmp_path, monkeypatch):
    import types

    from perfscan.probe.projectmap import ProjectMap

    scanned = tmp_path / "proj" / "src" / "pmdemo"
    copy = tmp_path / "site-packages" / "pmdemo"
    for folder, core in ((scanned, "def f():\n    return 1\n"), (copy, "def f():\n    return 2\n")):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "core.py").write_text(core)
    (copy / "_version.py").write_text("v = '1'\n")
    package = types.ModuleType("pmdemo")
    package.__path__ = [str(copy)]
    package.__file__ = str(copy / "__init__.py")
    modules = {"pmdemo": package}
    for name in ("core", "_version"):
        mod = types.ModuleType(f"pmdemo.{name}")
        mod.__file__ = str(copy / f"{name}.py")
        modules[f"pmdemo.{name}"] = mod
    for name, mod in modules.items():
        monkeypatch.setitem(sys.modules, name, mod)

    pm = ProjectMap({"pmdemo": str(scanned)})
    assert pm.to_project(str(copy / "core.py")) == str(scanned / "core.py")
    assert pm.to_project(str(copy / "_version.py")) == str(copy / "_version.py")  # no scanned file: unchanged
    assert pm.to_project("/usr/lib/python3.11/json/__init__.py") == "/usr/lib/python3.11/json/__init__.py"
    report = pm.report(str(tmp_path / "proj"))
    assert report["project_modules"] == 3
    assert report["modules"] == [
        ["pmdemo", str(copy / "__init__.py"), str(scanned / "__init__.py"), True],
        ["pmdemo._version", str(copy / "_version.py"), None, None],
        ["pmdemo.core", str(copy / "core.py"), str(scanned / "core.py"), False],
    ]
