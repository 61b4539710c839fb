"""The command line in this process: what each option becomes, and the exit code of each outcome
(docs/design.md "Exit codes": 0 done, 1 --fail-on reached, 2 usage, 130 interrupted). The same
commands run as a user runs them in test_commands.py and test_fail_on.py."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_project

from perfscan import __version__, catalog, cli
from perfscan.commands import EXIT_FAIL_ON, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, explain
from perfscan.commands.options import cli_values, scan_parser, split_dashdash
from perfscan.errors import UsageError


def values(*argv: str) -> dict:
    before, extra = split_dashdash(argv)
    return cli_values(scan_parser().parse_args(before), extra)


def test_exit_codes_are_the_documented_numbers():
    assert (EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED) == (0, 1, 2, 130)


def test_version_is_printed_without_a_parser(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"perfscan {__version__}\n"


def test_split_dashdash():
    assert split_dashdash(["a", "--", "-k", "x", "--", "y"]) == (["a"], ["-k", "x", "--", "y"])
    assert split_dashdash(["a", "b"]) == (["a", "b"], [])
    assert split_dashdash(["--"]) == ([], [])


def test_every_option_becomes_its_setting(tmp_path):
    got = values(
        str(tmp_path),
        "--test",
        "tests/a.py::t",
        "--test",
        "tests/b.py::u",
        "--runner",
        "uv run",
        "--out",
        "reports",
        "--passes",
        "CPU, memory,cpu",
        "--startup",
        "--budget",
        "90",
        "--format",
        "sarif,md,html",
        "--fail-on",
        "medium",
        "--quiet",
        "--cpu-engine",
        "sample",
        "--",
        "-k",
        "fast",
    )
    assert got == {
        "tests": ("tests/a.py::t", "tests/b.py::u"),
        "runner": "uv run",
        "out": Path("reports"),
        "passes": ("cpu", "memory"),
        "startup": True,
        "budget": 90.0,
        "formats": ("sarif", "html"),
        "fail_on": "medium",
        "quiet": True,
        "cpu_engine": "sample",
        "pytest_args": ("-k", "fast"),
    }
    assert type(got["budget"]) is float


def test_no_option_sets_nothing(tmp_path):
    assert values(str(tmp_path)) == {}
    assert scan_parser().parse_args([]).path == "."


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--budget", "0"], "--budget must be a positive number of seconds"),
        (["--budget", "-3"], "--budget must be a positive number of seconds"),
        (["--passes", "cpu,gpu"], "--passes: unknown pass gpu; choose from cpu,memory,import,async"),
        (["--passes", ","], "--passes: unknown pass (none)"),
        (["--format", "pdf"], "--format: unknown format pdf; choose from sarif,html"),
    ],
)
def test_a_value_no_setting_accepts_is_a_usage_error(argv, message):
    with pytest.raises(UsageError) as info:
        values(*argv)
    assert str(info.value).startswith(message)


def test_a_bad_value_exits_2_with_one_line(tmp_path, capsys):
    assert cli.main([str(tmp_path), "--budget", "0"]) == EXIT_USAGE
    assert capsys.readouterr().err == "perfscan: error: --budget must be a positive number of seconds\n"
    assert cli.main([str(tmp_path / "nowhere")]) == EXIT_USAGE
    assert capsys.readouterr().err.endswith("does not exist; pass the path of a project folder\n")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert cli.main([str(tmp_path / "file")]) == EXIT_USAGE
    assert capsys.readouterr().err.endswith("is not a folder; pass the path of a project folder\n")


def test_a_choice_outside_the_list_is_argparses_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([".", "--fail-on", "severe"])
    assert info.value.code == 2
    assert "--fail-on: invalid choice: 'severe'" in capsys.readouterr().err


def test_a_scan_that_measured_nothing_exits_2_even_with_fail_on(tmp_path, capsys):
    root = write_project(tmp_path / "p", {"pyproject.toml": "[project]\nname = 'p'\n", "p/__init__.py": ""})
    code = cli.main([str(root), "--runner", sys.executable, "--passes", "cpu", "--fail-on", "info", "--quiet"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert "perfscan: error: no tests" in captured.err and "--runner" in captured.err
    assert captured.out.startswith("[scan] ") and "Top: no tests" in captured.out


def test_an_interrupt_exits_130_and_sigterm_is_an_interrupt(tmp_path, capsys, monkeypatch):
    import perfscan.scan

    seen = []

    def interrupted(settings, progress):
        seen.append(signal.getsignal(signal.SIGTERM))
        raise KeyboardInterrupt

    monkeypatch.setattr(perfscan.scan, "run_scan", interrupted)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main([str(tmp_path), "--passes", "async"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "perfscan: interrupted; no report written\n"
    # during the scan SIGTERM raises KeyboardInterrupt (the same path); after it, the old handler is back
    (handler,) = seen
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGTERM, None)
    assert signal.getsignal(signal.SIGTERM) == before


def test_exec_without_a_command_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["exec", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "perfscan: error: exec needs a command after --, e.g. perfscan exec . -- python bench.py\n"
    )
    assert cli.main(["exec", str(tmp_path), "--"]) == EXIT_USAGE


def test_explain_in_process(capsys):
    assert cli.main(["explain", "deepcopy"]) == EXIT_OK
    out = capsys.readouterr().out
    pattern = catalog.get("deepcopy")
    assert out == f"# deepcopy (CPU): {pattern.title}\n\n{pattern.doc}\n"
    assert cli.main(["explain", "deep-copy"]) == EXIT_USAGE
    assert (
        capsys.readouterr().err
        == "perfscan: error: no pattern named 'deep-copy'; did you mean deepcopy, sleep-in-code, nested-loop?\n"
    )
    assert cli.main(["explain", "zzzz"]) == EXIT_USAGE
    assert capsys.readouterr().err == "perfscan: error: no pattern named 'zzzz'; `perfscan explain` lists them all\n"


def test_explain_listing_is_aligned():
    lines = explain.listing().splitlines()
    width = max(len(p.id) for p in catalog.PATTERNS)
    assert lines[0] == f"{'PATTERN'.ljust(width)}  DOMAIN  TITLE"
    assert lines[1:] == [f"{p.id.ljust(width)}  {p.domain:<6}  {p.title}" for p in catalog.PATTERNS]
    assert cli.main(["explain"]) == EXIT_OK


def test_scan_is_the_command_without_a_name(tmp_path, capsys):
    # `perfscan explain` runs explain; `perfscan scan` scans a folder named scan
    assert cli.main(["scan"]) == EXIT_USAGE
    assert capsys.readouterr().err == "perfscan: error: scan does not exist; pass the path of a project folder\n"


HELP = REPO / "tests" / "data" / "help.golden.txt"


def test_the_help_of_every_command_as_reviewed(capsys, monkeypatch):
    # what `--help` says is the command line's documentation; regenerate with PERFSCAN_UPDATE_GOLDEN=1
    if sys.version_info[:2] != (3, 11):
        pytest.skip("argparse lays help out differently in other Pythons; the reviewed text is 3.11's")
    monkeypatch.setenv("COLUMNS", "100")
    pages = []
    for argv in (["--help"], ["exec", "--help"], ["explain", "--help"], ["diff", "--help"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 0
        pages.append(f"$ perfscan {' '.join(argv)}\n{capsys.readouterr().out}")
    text = "\n".join(pages)
    if os.environ.get("PERFSCAN_UPDATE_GOLDEN") == "1":
        HELP.write_text(text, encoding="utf-8")
    assert text == HELP.read_text(encoding="utf-8")


def test_a_scan_that_is_not_quiet_says_what_it_wrote(tmp_path, capsys):
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname = 'p'\nversion = '1'\n",
            "p/__init__.py": "",
            "p/aio.py": "import time\n\nasync def f():\n    time.sleep(1)\n",
        },
    )
    code = cli.main([str(root), "--runner", sys.executable, "--passes", "async,import", "--format", "sarif"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert out.startswith("[scan] CPU: 0 targets | Memory: 0 targets | Import: 0 targets | Async: 1 targets | Top: f (")
    assert "#  Severity  Domain  Target" in err and "blocking-call-in-async" in err
    assert f"artifact: {root / '.codeflash' / 'imports.json'}  (open: python -m json.tool imports.json)" in err
    assert f"report: {root / '.codeflash' / 'scan-report.md'} (and scan-report.json, scan-report.sarif)\n" in err


def test_exec_scans_with_the_command_as_its_target(tmp_path, capsys):
    # the command runs the project's code (a command that runs none of it measured nothing: exit 2)
    files = {
        "pyproject.toml": "[project]\nname = 'p'\n",
        "p/__init__.py": "def total(n):\n    return sum(range(n))\n",
        "x.py": "import p\n\nprint(p.total(1000))\n",
    }
    root = write_project(tmp_path / "p", files)
    code = cli.main(
        ["exec", str(root), "--runner", sys.executable, "--passes", "cpu", "--quiet", "--", "python", "x.py"]
    )
    capsys.readouterr()
    assert code == EXIT_OK
    target = json.loads((root / ".codeflash" / "scan-report.json").read_text(encoding="utf-8"))["target"]
    assert (target["mode"], target["exec"]) == ("exec", ["python", "x.py"])
