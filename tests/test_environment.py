"""The user's tests run as plain pytest runs them (docs/design.md "The child environment",
"Faithful runs"): their environment is the user's plus only what the probe needs, outcomes that
differ from the plain run are named, and project code is found wherever it is imported from."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import (
    CORPUS,
    SLOW_UNIQUE,
    assert_unchanged,
    copy_project,
    load_report,
    run_perfscan,
    tree_state,
    write_project,
)

pytestmark = pytest.mark.slow


def user_env(**changes: str) -> Dict[str, str]:
    """The environment a user runs both plain pytest and perfscan in: no NO_COLOR, no UTF-8
    mode, a fixed hash seed, and whatever the test sets; none of the outer pytest's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NO_COLOR", "FORCE_COLOR"))}
    env.update({"PYTHONHASHSEED": "123", "PYTHONUTF8": "0"})
    env.update(changes)
    return env


def plain_pytest(root: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=str(root),
        env=dict(env, PYTHONPYCACHEPREFIX=str(root.parent / "plain-pycache")),
        capture_output=True,
        text=True,
        timeout=300,
    )


def seeded_hash(env: Dict[str, str]) -> str:
    code = "import sys; print(hash('greeting'), sys.flags.utf8_mode)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()


def failures(report: dict) -> List[str]:
    """Every line of the report that says a test failed or ended differently under a pass."""
    lines = list(report["warnings"]) + [n for p in report["passes"].values() for n in p["notes"]]
    return [ln for ln in lines if "failed" in ln or "differ from the plain run" in ln]


CLICK_CLI = (
    "import os\n\n"
    "import click\n\n"
    "from greet.core import slow_unique\n\n\n"
    "@click.command()\n"
    "@click.option('--name', default='world')\n"
    "def main(name):\n"
    "    # like many CLIs, colour unless the user asked for none (https://no-color.org)\n"
    "    colour = 'NO_COLOR' not in os.environ\n"
    "    kinds = len(slow_unique([i % 1500 for i in range(15000)]))\n"
    "    text = f'hello {name} ({kinds} kinds)'\n"
    "    click.echo(click.style(text, fg='green') if colour else text)\n"
)


def test_click_colour_tests_pass_under_every_pass_as_plainly(tmp_path):
    pytest.importorskip("click")
    env = user_env()
    hashed = seeded_hash(env)
    root = write_project(
        tmp_path / "greet",
        {
            "pyproject.toml": (
                "[project]\nname = 'greet'\nversion = '1'\ndependencies = ['click']\n"
                "[project.scripts]\ngreet = 'greet.cli:main'\n"
                "[tool.pytest.ini_options]\ntestpaths = ['tests']\npythonpath = ['src']\n"
            ),
            "src/greet/__init__.py": "",
            "src/greet/core.py": SLOW_UNIQUE,
            "src/greet/cli.py": CLICK_CLI,
            "tests/test_cli.py": (
                "import sys\n\nfrom click.testing import CliRunner\n\nfrom greet.cli import main\n\n\n"
                "def test_greeting_is_green():\n"
                "    result = CliRunner().invoke(main, ['--name', 'ada'], color=True)\n"
                "    assert result.exit_code == 0\n"
                "    assert '\\x1b[32mhello ada (1500 kinds)' in result.output\n\n\n"
                "def test_snapshot_of_the_users_hash_seed_and_encoding():\n"
                f"    assert f\"{{hash('greeting')}} {{sys.flags.utf8_mode}}\" == {hashed!r}\n"
            ),
        },
    )
    plain = plain_pytest(root, env)
    assert plain.returncode == 0, plain.stdout  # the project's tests pass as the user runs them
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,memory", "--budget", "200", env=env)
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert failures(report) == []
    assert report["passes"]["cpu"]["status"] == report["passes"]["memory"]["status"] == "ok"
    assert any(f["symbol"] == "slow_unique" and f["file"] == "src/greet/core.py" for f in report["findings"])
    # what perfscan still changes is listed, each with its reason
    changed = report["environment"]
    assert any(c.startswith("PYTHONPATH: perfscan's probe folder put first") for c in changed), changed
    assert any(c.startswith("PYTHONDONTWRITEBYTECODE=1: no bytecode is written") for c in changed)
    md = (root / ".codeflash" / "scan-report.md").read_text()
    assert "- Changed for profiling: PYTHONDONTWRITEBYTECODE=1: no bytecode is written" in md
    assert_unchanged(before, root)


def test_a_project_that_needs_pythonpath_and_pytest_addopts(tmp_path):
    # a helper library and a pytest plugin outside the project, found through the user's PYTHONPATH;
    # the plugin loaded by PYTEST_PLUGINS, its option and a marker filter given in PYTEST_ADDOPTS
    ext = write_project(
        tmp_path / "ext",
        {
            "weights.py": "SCALE = 3\n",
            "stageplugin.py": (
                "import pytest\n\n"
                "def pytest_addoption(parser):\n    parser.addoption('--stage', default='dev')\n\n"
                "def pytest_configure(config):\n    config.addinivalue_line('markers', 'manual: run by hand')\n\n"
                "@pytest.fixture\ndef stage(request):\n    return request.config.getoption('--stage')\n"
            ),
        },
    )
    env = user_env(PYTHONPATH=str(ext), PYTEST_PLUGINS="stageplugin", PYTEST_ADDOPTS="--stage=ci -m 'not manual'")
    root = write_project(
        tmp_path / "host",
        {
            "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n",
            "host/__init__.py": "",
            "host/core.py": "from weights import SCALE\n\n" + SLOW_UNIQUE,
            "tests/test_core.py": (
                "import pytest\n\nfrom host.core import SCALE, slow_unique\n\n\n"
                "def test_work(stage):\n"
                "    assert stage == 'ci'\n"
                "    assert len(slow_unique([i % 1500 for i in range(15000 * SCALE)])) == 1500\n\n\n"
                "@pytest.mark.manual\n"
                "def test_by_hand_only():\n"
                "    raise AssertionError('deselected by PYTEST_ADDOPTS')\n"
            ),
        },
    )
    plain = plain_pytest(root, env)
    assert plain.returncode == 0 and "1 passed, 1 deselected" in plain.stdout, plain.stdout
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,memory", "--budget", "200", env=env)
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    assert failures(report) == []
    assert report["target"]["tests"] == ["tests/test_core.py::test_work"]
    assert report["passes"]["cpu"]["status"] == report["passes"]["memory"]["status"] == "ok"
    assert any(f["symbol"] == "slow_unique" for f in report["findings"])
    assert any("the user's entries follow" in c for c in report["environment"]), report["environment"]
    assert_unchanged(before, root)


def test_a_test_that_fails_only_under_a_profiler_is_named(tmp_path):
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n",
            "host/__init__.py": "",
            "host/core.py": SLOW_UNIQUE,
            "tests/test_core.py": (
                "import tracemalloc\n\nfrom host.core import slow_unique\n\n\n"
                "def test_work():\n    assert len(slow_unique([i % 1500 for i in range(15000)])) == 1500\n\n\n"
                # its memory rises (2 MiB of strings): the memory pass's screen has it traced
                "def test_untraced():\n"
                "    names = [str(i) * 3 for i in range(100000)]\n"
                "    assert names and not tracemalloc.is_tracing(), 'traced'\n"
            ),
        },
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,memory", "--budget", "200")
    assert proc.returncode == 0, proc.stderr
    report = load_report(root)
    differ = [w for w in report["warnings"] if "differ from the plain run" in w]
    assert len(differ) == 1, report["warnings"]
    assert differ[0].startswith("the Memory pass's test outcomes differ from the plain run's in 1 test(s)")
    assert "tests/test_core.py::test_untraced passed plainly and failed under the memory tracer" in differ[0]
    assert "traced" in differ[0]
    md = (root / ".codeflash" / "scan-report.md").read_text()
    assert "- Warning: the Memory pass's test outcomes differ" in md
    assert_unchanged(before, root)


def _venv_with_test_deps(where: Path) -> Path:
    """A venv for the scanned project whose site-packages sees this test environment's (pytest, pip)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _install(python: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", *args], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        pytest.skip(f"pip could not install the corpus project here: {proc.stderr.strip()[-300:]}")


def _findings(report: dict) -> Dict[tuple, str]:
    return {
        (f["domain"], f["qualname"], f["file"], f["pattern"]): f["severity"]
        for f in report["findings"]
        if f["domain"] in ("cpu", "memory") and f["severity"] in ("critical", "high")
    }


def test_a_src_layout_installed_non_editable_gives_the_findings_of_editable(tmp_path):
    # without pytest's pythonpath the tests import what is installed, as a src layout intends
    editable = copy_project(CORPUS / "cli_logstats", tmp_path / "editable")
    installed = copy_project(CORPUS / "cli_logstats", tmp_path / "installed")
    for root in (editable, installed):
        cfg = root / "pyproject.toml"
        cfg.write_text(cfg.read_text().replace('pythonpath = ["src"]\n', ""))
    py_editable = _venv_with_test_deps(tmp_path / "venv-editable")
    py_installed = _venv_with_test_deps(tmp_path / "venv-installed")
    # pip builds in the project folder: install from copies, so the scanned trees stay as they were
    _install(py_editable, "-e", str(editable))
    _install(py_installed, str(copy_project(installed, tmp_path / "build-copy")))
    # a scanned file edited after the install: the running copy differs from it
    parse = installed / "src" / "logstats" / "parse.py"
    parse.write_text(parse.read_text() + "\n# edited after the install\n")

    reports = {}
    for root, python in ((editable, py_editable), (installed, py_installed)):
        before = tree_state(root)
        proc = run_perfscan(str(root), "--runner", str(python), "--passes", "cpu,memory", "--budget", "240")
        assert proc.returncode == 0, proc.stderr
        reports[root.name] = load_report(root)
        assert_unchanged(before, root)
    ed, inst = reports["editable"], reports["installed"]
    assert not [w for w in ed["warnings"] if "copy" in w], ed["warnings"]
    (copied,) = [w for w in inst["warnings"] if w.startswith("project package logstats ran from a copy")]
    assert "site-packages/logstats" in copied and "(src/logstats)" in copied
    assert "1 of 5 modules that ran differ from the scanned source (content hash): src/logstats/parse.py" in copied
    # the planted problems are found in the scanned files either way, ranked alike
    for report in (ed, inst):
        top = report["findings"][0]
        assert (top["symbol"], top["file"], top["pattern"]) == (
            "distinct_paths",
            "src/logstats/report.py",
            "quadratic-membership",
        )
        assert all(f["file"] and f["file"].startswith("src/logstats/") for f in report["findings"])
        # its hot lines are named with the scanned file's text, whichever copy ran: the `in` test
        # makes no call, so its time is sampled at the loop's back edge, and the loop is named
        hottest = top["details"]["hot_lines"][0]
        assert (hottest["line"], hottest.get("end_line"), hottest["text"]) == (11, 13, "for rec in records:"), hottest
    common = set(_findings(ed)) & set(_findings(inst))
    for key in [
        ("cpu", "logstats.report:distinct_paths", "src/logstats/report.py", "quadratic-membership"),
        ("cpu", "logstats.report:redact", "src/logstats/report.py", "deepcopy"),
        ("memory", "logstats.report:sliding_windows", "src/logstats/report.py", "large-allocation"),
    ]:
        assert key in common, (key, _findings(ed), _findings(inst))


def test_a_pass_that_profiled_no_project_code_fails_the_scan(tmp_path):
    # the tests run the project's code only in a subprocess: nothing of it is in the profile
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname = 'host'\nversion = '1'\n",
            "host/__init__.py": "",
            "host/core.py": SLOW_UNIQUE + "\nif __name__ == '__main__':\n    slow_unique(list(range(3000)))\n",
            "tests/test_core.py": (
                "import subprocess, sys\n\n"
                "def test_in_a_subprocess():\n"
                "    subprocess.run([sys.executable, '-m', 'host.core'], check=True)\n"
            ),
        },
    )
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--passes", "cpu,memory", "--fail-on", "low", "--quiet")
    assert proc.returncode == 2, proc.stderr
    (summary,) = proc.stdout.strip().splitlines()
    assert "Top: the CPU and Memory pass profiled no project code" in summary, summary
    (error,) = proc.stderr.strip().splitlines()
    assert error.startswith("perfscan: error: the CPU and Memory pass profiled no project code")
    assert "subprocess" in error
    report = load_report(root)
    assert "profiled no project code" in report["summary"]["unmeasured"]
    md = (root / ".codeflash" / "scan-report.md").read_text()
    assert "measured nothing of the project" in md and "the scan exits 2" in md
    assert_unchanged(before, root)
