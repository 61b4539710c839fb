"""unittest suites in an environment without pytest: the probe's unittest driver (ids, phases,
outcomes) and whole scans, whose findings must be the ones the same code gets under pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest
from conftest import assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan.models import Driver
from perfscan.probe_host import install_probe, run_probe


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A python whose environment has no pytest (nor anything else): unittest is all it has."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0
    return python


def probe(root: Path, python: Path, mode: str, args=(), options=None, name=None):
    workdir = root.parent / f"work-{name or mode}"
    workdir.mkdir(exist_ok=True)
    return run_probe(
        mode,
        runner=[str(python)],
        root=root,
        workdir=workdir,
        probe_path=install_probe(workdir),
        pytest_args=list(args),
        timeout=120,
        options=options,
        name=name,
        driver=Driver("unittest", "test"),
    )


STEPS = {
    "phased/__init__.py": "",
    "phased/steps.py": "".join(
        f"def {name}():\n    return 1\n\n\n"
        for name in (
            "module_setup",
            "class_setup",
            "per_test_setup",
            "in_test",
            "per_test_teardown",
            "cleanup",
            "class_teardown",
            "module_teardown",
        )
    ),
    "tests/__init__.py": "",
    "tests/test_steps.py": (
        "import unittest\n\nfrom phased import steps\n\n\n"
        "def setUpModule():\n    steps.module_setup()\n\n\n"
        "def tearDownModule():\n    steps.module_teardown()\n\n\n"
        "class A(unittest.TestCase):\n"
        "    @classmethod\n    def setUpClass(cls):\n        steps.class_setup()\n\n"
        "    @classmethod\n    def tearDownClass(cls):\n        steps.class_teardown()\n\n"
        "    def setUp(self):\n        steps.per_test_setup()\n        self.addCleanup(steps.cleanup)\n\n"
        "    def tearDown(self):\n        steps.per_test_teardown()\n\n"
        "    def test_one(self):\n        steps.in_test()\n\n"
        "    def test_two(self):\n        steps.in_test()\n\n\n"
        "class B(unittest.IsolatedAsyncioTestCase):\n"
        "    @classmethod\n    def setUpClass(cls):\n        steps.class_setup()\n\n"
        "    async def asyncSetUp(self):\n        steps.per_test_setup()\n\n"
        "    async def asyncTearDown(self):\n        steps.per_test_teardown()\n\n"
        "    async def test_async(self):\n        steps.in_test()\n"
    ),
}


def calls_by_phase(run) -> Dict[str, Dict[str, int]]:
    """Calls of the project's functions in each phase, from cProfile's tables (any Python 3.8+)."""
    phases = run.read("cpu.json")["phases"]
    return {
        phase: {
            e[2]: e[4]
            for e in data["stats"]
            if e[0].endswith(os.path.join("phased", "steps.py")) and e[2] != "<module>"
        }
        for phase, data in phases.items()
    }


def test_phases_map_module_class_and_test_fixtures(tmp_path, bare_python):
    root = write_project(tmp_path / "p", STEPS)
    run = probe(root, bare_python, "cpu", options={"engine": "cprofile"})
    assert run.child.returncode == 0, run.child.tail(20)
    assert run.read("collected.json")["nodeids"] == [
        "tests/test_steps.py::A::test_one",
        "tests/test_steps.py::A::test_two",
        "tests/test_steps.py::B::test_async",
    ]
    phases = calls_by_phase(run)
    # setUpModule and setUpClass run in their first test's setup; tearDownClass and tearDownModule
    # in their last test's teardown (unittest runs them when the next test is another class's)
    assert phases["setup"] == {"module_setup": 1, "class_setup": 2, "per_test_setup": 3}
    assert phases["call"] == {"in_test": 3}
    assert phases["teardown"] == {"per_test_teardown": 3, "cleanup": 2, "class_teardown": 1, "module_teardown": 1}
    assert [nid for nid, t in run.outcomes().items() if t.get("done")] == run.read("collected.json")["nodeids"]


OUTCOMES = {
    "tests/__init__.py": "",
    "tests/test_outcomes.py": (
        "import unittest\n\n\n"
        "class Outcomes(unittest.TestCase):\n"
        "    def test_pass(self):\n        pass\n\n"
        "    def test_fail(self):\n        self.assertEqual(1, 2)\n\n"
        "    def test_raise(self):\n        raise ValueError('boom')\n\n"
        "    @unittest.skip('not today')\n    def test_skip(self):\n        pass\n\n"
        "    @unittest.expectedFailure\n    def test_xfail(self):\n        self.assertEqual(1, 2)\n\n"
        "    @unittest.expectedFailure\n    def test_xpass(self):\n        pass\n\n"
        "    def test_subtests(self):\n"
        "        for i in range(3):\n            with self.subTest(i=i):\n                self.assertLess(i, 2)\n\n\n"
        "class SetUpRaises(unittest.TestCase):\n"
        "    def setUp(self):\n        raise RuntimeError('setup broke')\n\n"
        "    def test_a(self):\n        pass\n\n\n"
        "class TearDownRaises(unittest.TestCase):\n"
        "    def tearDown(self):\n        raise RuntimeError('teardown broke')\n\n"
        "    def test_b(self):\n        pass\n\n\n"
        "class ClassSetUpRaises(unittest.TestCase):\n"
        "    @classmethod\n    def setUpClass(cls):\n        raise RuntimeError('class broke')\n\n"
        "    def test_c(self):\n        pass\n\n"
        "    def test_d(self):\n        pass\n"
    ),
    "tests/test_broken.py": "import no_such_module_here\n",
    "docmod/__init__.py": "",
    "docmod/util.py": 'def double(x):\n    """\n    >>> double(2)\n    4\n    """\n    return 2 * x\n',
    "tests/test_docs.py": (
        "import doctest\nimport unittest\n\nfrom docmod import util\n\n\n"
        "def check():\n    assert util.double(1) == 2\n\n\n"
        "def load_tests(loader, tests, ignore):\n"
        "    tests.addTests(doctest.DocTestSuite(util))\n"
        "    tests.addTest(unittest.FunctionTestCase(check))\n"
        "    return tests\n"
    ),
}


def pyenv_python(version: str) -> Path:
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    if not found:
        pytest.skip(f"no Python {version} on this machine")
    return found[-1]


@pytest.mark.parametrize("version", ["3.8", "3.9", "3.10", "3.12", "3.13"])
def test_phases_and_outcomes_under_each_python(tmp_path, version):
    """unittest's fixture steps the driver relies on are the same from 3.8 to 3.13 (3.11: the other tests)."""
    python = pyenv_python(version)
    test_phases_map_module_class_and_test_fixtures(tmp_path / "phases", python)
    test_outcomes_ids_and_collection_errors(tmp_path / "outcomes", python)


def test_outcomes_ids_and_collection_errors(tmp_path, bare_python):
    root = write_project(tmp_path / "p", OUTCOMES)
    run = probe(root, bare_python, "time")
    assert run.child.returncode == 1, run.child.tail(20)  # some failed, as pytest says it
    collected = run.read("collected.json")
    assert collected["errors"] == ["tests.test_broken: ModuleNotFoundError: No module named 'no_such_module_here'"]
    outcomes = run.outcomes()
    # a doctest and a FunctionTestCase get pytest-like ids too (every id holds `::`)
    assert outcomes.pop("docmod/util.py::docmod.util.double")["outcome"] == "passed"
    assert outcomes.pop("tests/test_docs.py::check")["outcome"] == "passed"
    got = {nid.split("::", 1)[1]: (t["outcome"], t["message"]) for nid, t in outcomes.items()}
    assert got == {
        "Outcomes::test_pass": ("passed", ""),
        "Outcomes::test_fail": ("failed", "AssertionError: 1 != 2"),
        "Outcomes::test_raise": ("failed", "ValueError: boom"),
        "Outcomes::test_skip": ("skipped", "not today"),
        "Outcomes::test_xfail": ("xfailed", "AssertionError: 1 != 2"),
        "Outcomes::test_xpass": ("failed", "unexpected success"),
        "Outcomes::test_subtests": ("failed", "AssertionError: 2 not less than 2"),
        "SetUpRaises::test_a": ("error", "setup: RuntimeError: setup broke"),
        "TearDownRaises::test_b": ("error", "teardown: RuntimeError: teardown broke"),
        "ClassSetUpRaises::test_c": (
            "error",
            "setup: setUpClass (tests.test_outcomes.ClassSetUpRaises): RuntimeError: class broke",
        ),
        "ClassSetUpRaises::test_d": (
            "error",
            "setup: setUpClass (tests.test_outcomes.ClassSetUpRaises): RuntimeError: class broke",
        ),
    }
    assert all(t["done"] for t in run.outcomes().values())
    assert all(nid.startswith("tests/test_outcomes.py::") for nid in outcomes)


def test_chosen_ids_run_alone_within_the_unittest_arguments(tmp_path, bare_python):
    root = write_project(tmp_path / "p", OUTCOMES)
    chosen = "tests/test_outcomes.py::Outcomes::test_pass"
    run = probe(root, bare_python, "time", ["discover", "-s", "tests", "-t", ".", chosen])
    assert run.child.returncode == 0, run.child.tail(20)
    assert run.read("collected.json")["nodeids"] == [chosen]
    assert list(run.outcomes()) == [chosen]
    doc = "docmod/util.py::docmod.util.double"
    run = probe(root, bare_python, "time", [doc, chosen], name="doctest")
    assert run.child.returncode == 0, run.child.tail(20)
    assert sorted(run.read("collected.json")["nodeids"]) == sorted([doc, chosen])
    # unittest's own names work too (the names `python -m unittest` takes)
    run = probe(root, bare_python, "time", ["tests.test_outcomes.Outcomes.test_pass"], name="by-name")
    assert run.read("collected.json")["nodeids"] == [chosen]
    # arguments unittest rejects: exit 4 (usage), no test collected
    run = probe(root, bare_python, "time", ["--no-such-option"], name="bad")
    assert run.child.returncode == 4 and run.read("collected.json") is None


# ---- whole scans: the same project under unittest (no pytest) and under pytest


LEDGER = {
    "pyproject.toml": "[project]\nname = 'ledger'\nversion = '1'\n\n[tool.perfscan]\nmemory-repeat = 2\n",
    "ledger/__init__.py": "",
    "ledger/report.py": (
        "def distinct_accounts(rows):\n"
        "    seen = []\n"
        "    for row in rows:\n"
        "        if row not in seen:\n"
        "            seen.append(row)\n"
        "    return seen\n\n\n"
        "def read_block(n):\n"
        "    return bytearray(n)\n"
    ),
    "ledger/journal.py": (
        "ENTRIES = []\n\n\ndef record(entry):\n    ENTRIES.append(bytes(entry))\n    return len(ENTRIES)\n"
    ),
    "tests/__init__.py": "",
    "tests/test_report.py": (
        "import unittest\n\nfrom ledger import journal\nfrom ledger.report import distinct_accounts, read_block\n\n\n"
        "class ReportTests(unittest.TestCase):\n"
        "    @classmethod\n    def setUpClass(cls):\n        cls.rows = [i % 1500 for i in range(15000)]\n\n"
        "    def test_distinct(self):\n        self.assertEqual(len(distinct_accounts(self.rows)), 1500)\n\n"
        "    def test_block(self):\n        self.assertEqual(len(read_block(24 << 20)), 24 << 20)\n\n"
        "    def test_journal(self):\n        self.assertGreater(journal.record(3 << 20), 0)\n\n\n"
        # changes no module-level container, so the growth repetitions leave it out: run twice, it fails
        "class OnceTests(unittest.TestCase):\n    runs = 0\n\n"
        "    def test_runs_once(self):\n        type(self).runs += 1\n        self.assertEqual(type(self).runs, 1)\n"
    ),
}


def findings_of(report: dict, domains=("cpu", "memory", "async")) -> Set[Tuple[str, str, str, str]]:
    return {
        (f["domain"], f["qualname"], f["pattern"], f["severity"]) for f in report["findings"] if f["domain"] in domains
    }


def scan_both(tmp_path: Path, files: Dict[str, str], bare_python: Path, *extra: str) -> Tuple[dict, dict]:
    """The project scanned with the bare python (unittest) and with perfscan's own (pytest)."""
    reports = []
    for name, python in (("with-unittest", bare_python), ("with-pytest", Path(sys.executable))):
        root = write_project(tmp_path / name, files)
        before = tree_state(root)
        proc = run_perfscan(str(root), "--runner", str(python), "--budget", "150", *extra)
        assert proc.returncode == 0, proc.stderr
        assert_unchanged(before, root)
        reports.append(load_report(root))
    return reports[0], reports[1]


@pytest.mark.slow
def test_unittest_project_without_pytest_is_profiled_as_pytest_would_be(tmp_path, bare_python):
    by_unittest, by_pytest = scan_both(tmp_path, LEDGER, bare_python)
    assert by_unittest["target"]["test_runner"]["name"] == "unittest"
    assert "no pytest" in by_unittest["target"]["test_runner"]["why"]
    assert by_pytest["target"]["test_runner"]["name"] == "pytest"
    assert by_unittest["target"]["mode"] == "all" and len(by_unittest["target"]["tests"]) == 4
    found = findings_of(by_unittest)
    assert ("cpu", "ledger.report:distinct_accounts", "quadratic-membership", "critical") in found
    assert ("memory", "ledger.report:read_block", "large-allocation", "high") in found
    assert ("memory", "ledger.journal:ENTRIES", "per-request-growth", "medium") in found
    assert found == findings_of(by_pytest)
    cpu = next(f for f in by_unittest["findings"] if f["pattern"] == "quadratic-membership")
    assert cpu["phase"] == "call" and cpu["details"]["calls"] == 1
    md = (tmp_path / "with-unittest" / ".codeflash" / "scan-report.md").read_text()
    assert "- Test runner: unittest (the runner's python has no pytest" in md
    # only the test that grew the journal ran again, under either runner
    for name in ("with-unittest", "with-pytest"):
        md = (tmp_path / name / ".codeflash" / "scan-report.md").read_text()
        assert "the 1 test(s) that changed a module-level container ran 2 more times" in md, name
        assert "failed during the repetitions" not in md, name


ASYNC_SUITE = {
    "pyproject.toml": "[project]\nname = 'feeds'\nversion = '1'\n",
    "feeds/__init__.py": "",
    "feeds/fetch.py": (
        "import asyncio\nimport time\n\n\n"
        "async def fetch(i):\n    time.sleep(0.06)\n    return i\n\n\n"
        "async def fetch_all(ids):\n    return await asyncio.gather(*[fetch(i) for i in ids])\n\n\n"
        "async def tags(items):\n"
        "    seen = []\n"
        "    for item in items:\n"
        "        if item not in seen:\n"
        "            seen.append(item)\n"
        "    await asyncio.sleep(0)\n"
        "    return seen\n"
    ),
    "tests/__init__.py": "",
    "tests/test_fetch.py": (
        "import unittest\n\nfrom feeds.fetch import fetch_all, tags\n\n\n"
        "class FetchTests(unittest.IsolatedAsyncioTestCase):\n"
        "    async def asyncSetUp(self):\n        self.items = [i % 1500 for i in range(15000)]\n\n"
        "    async def test_fetch_all(self):\n        self.assertEqual(await fetch_all(range(4)), [0, 1, 2, 3])\n\n"
        "    async def test_tags(self):\n        self.assertEqual(len(await tags(self.items)), 1500)\n"
    ),
}


def named(found: set) -> set:
    return {f for f in found if f[2] != "none"}


@pytest.mark.slow
def test_isolated_asyncio_suite_is_profiled_and_confirmed_as_under_pytest(tmp_path, bare_python):
    by_unittest, by_pytest = scan_both(tmp_path, ASYNC_SUITE, bare_python, "--passes", "cpu,async")
    found = findings_of(by_unittest)
    assert ("cpu", "feeds.fetch:tags", "quadratic-membership", "critical") in found
    assert ("async", "feeds.fetch:fetch", "blocking-call-in-async", "high") in found
    # the same named findings; a `none` finding at the 2% line (fetch_all's few ms of creating
    # tasks, on a loaded machine) may come and go with the machine's load
    assert named(found) == named(findings_of(by_pytest))
    blocking = next(f for f in by_unittest["findings"] if f["pattern"] == "blocking-call-in-async")
    assert blocking["runtime_confirmed"], blocking  # asyncio debug mode saw it in the plain run


HOSTILE = {
    "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n",
    "host/__init__.py": "",
    "host/core.py": LEDGER["ledger/report.py"],
    "tests/__init__.py": "",
    "tests/test_a_fails.py": (
        "import unittest\n\nfrom host.core import distinct_accounts\n\n\n"
        "class Fails(unittest.TestCase):\n"
        "    def test_fails_after_work(self):\n"
        "        distinct_accounts([i % 500 for i in range(5000)])\n        self.fail('planted failure')\n"
    ),
    "tests/test_b_core.py": (
        "import unittest\n\nfrom host.core import distinct_accounts\n\n\n"
        "class Core(unittest.TestCase):\n"
        "    def test_work(self):\n"
        "        self.assertEqual(len(distinct_accounts([i % 1500 for i in range(15000)])), 1500)\n"
    ),
    "tests/test_c_broken.py": "import no_such_module_here\n",
}


@pytest.mark.slow
def test_failing_crashing_and_unimportable_tests_under_unittest(tmp_path, bare_python):
    files = dict(
        HOSTILE,
        **{
            "tests/test_d_crash.py": (
                "import os\nimport unittest\n\n\nclass Crash(unittest.TestCase):\n"
                "    def test_crash(self):\n        os._exit(3)\n"
            )
        },
    )
    root = write_project(tmp_path / "p", files)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", str(bare_python), "--passes", "cpu,async", "--budget", "120")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    note = report["target"]["note"]
    assert "left out tests/test_d_crash.py::Crash::test_crash (the test process exited with code 3 during it)" in note
    assert report["target"]["left_out"][0]["test"] == "tests/test_d_crash.py::Crash::test_crash"
    assert "tests/test_d_crash.py::Crash::test_crash" not in report["target"]["tests"]
    warnings = " ".join(report["warnings"])
    assert "test_fails_after_work (AssertionError: planted failure)" in warnings, warnings
    assert any(f["symbol"] == "distinct_accounts" for f in report["findings"])
    assert_unchanged(before, root)

    shutil.rmtree(root / ".codeflash")
    (root / "tests" / "test_d_crash.py").unlink()
    proc = run_perfscan(str(root), "--runner", str(bare_python), "--passes", "cpu", "--budget", "120")
    assert proc.returncode == 0, proc.stderr
    note = load_report(root)["target"]["note"]
    assert "collection error" in note and "tests.test_c_broken" in note and "no_such_module_here" in note, note


@pytest.mark.slow
def test_hanging_unittest_test_costs_its_pass_not_the_scan(tmp_path, bare_python):
    files = dict(
        HOSTILE,
        **{
            "tests/test_z_hang.py": (
                "import time\nimport unittest\n\n\nclass Hang(unittest.TestCase):\n"
                "    def test_hang(self):\n        time.sleep(3600)\n"
            )
        },
    )
    root = write_project(tmp_path / "p", files)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", str(bare_python), "--budget", "40", timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    # the timing run restarts past the hanging test, through the unittest driver's exact deselection
    assert "left out tests/test_z_hang.py::Hang::test_hang (still running after" in report["target"]["note"]
    assert [x["test"] for x in report["target"]["left_out"]] == ["tests/test_z_hang.py::Hang::test_hang"]
    assert "tests/test_z_hang.py::Hang::test_hang" not in report["target"]["tests"]
    assert any(f["symbol"] == "distinct_accounts" for f in report["findings"])

    # named, the hanging test times its pass out; the report says so and the scan goes on
    proc = run_perfscan(
        str(root),
        "--runner",
        str(bare_python),
        "--budget",
        "30",
        "--test",
        "tests/test_z_hang.py::Hang::test_hang",
        "--passes",
        "cpu,async",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert load_report(root)["passes"]["cpu"]["status"] == "timed-out"
    assert_unchanged(before, root)
