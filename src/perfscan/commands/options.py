"""The options shared by `perfscan [PATH]` and `perfscan exec [PATH] -- CMD`: one parser, and the
settings values it gives (what the command line sets, before setup.md and pyproject fill the rest).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from perfscan import __version__
from perfscan.models import SEVERITIES, TEST_RUNNERS

EPILOG = (
    "Arguments after -- go to every run of the test runner (pytest's, unittest's or manage.py test's own). Also: `perfscan exec [PATH] -- CMD...` profiles a command; "
    "`perfscan diff BASE.json HEAD.json` compares two scans; `perfscan explain [PATTERN]` describes a pattern. "
    "Exit codes: 0 done, 1 --fail-on reached, 2 usage or set-up error, 130 interrupted."
)


def scan_parser(prog: str = "perfscan", usage: Optional[str] = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        usage=usage,
        description="Profile a Python project across CPU, memory, import time and async in one pass, "
        "and write one ranked diagnosis to .codeflash/scan-report.md (and .json).",
        epilog=EPILOG,
    )
    p.add_argument("path", nargs="?", default=".", help="project root (default: the current folder)")
    p.add_argument("--test", action="append", dest="tests", metavar="NODEID", help="profile this test (repeatable)")
    p.add_argument(
        "--runner",
        metavar="CMD",
        help="command prefix that runs the project's python, e.g. 'uv run' or .venv/bin/python",
    )
    p.add_argument(
        "--test-runner",
        choices=TEST_RUNNERS,
        metavar="NAME",
        help="run the tests with pytest, unittest or django (manage.py test); default: pytest when the "
        "project's python has it, else Django's runner where manage.py exists, else unittest",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default: PATH/.codeflash)")
    p.add_argument("--passes", metavar="LIST", help="comma-separated passes: cpu,memory,import,async (default: all)")
    p.add_argument(
        "--startup", action="store_true", default=None, help="rank import (start-up) findings at their base severity"
    )
    p.add_argument(
        "--cpu-engine",
        choices=("auto", "sample", "cprofile"),
        metavar="ENGINE",
        help="CPU engine: auto (default: sampling + exact call counts where possible, else cprofile), sample, cprofile",
    )
    p.add_argument("--budget", type=float, metavar="SECONDS", help="time budget for the whole scan (default 300)")
    p.add_argument("--format", dest="formats", metavar="LIST", help="extra report formats: sarif,html")
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when a finding is at or above SEVERITY (critical, high, medium, low, info)",
    )
    p.add_argument("--quiet", action="store_true", default=None, help="print only the summary line")
    p.add_argument("--version", action="version", version=f"perfscan {__version__}")
    return p


def split_dashdash(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(perfscan's own arguments, the ones after the first `--`)."""
    args = list(argv)
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1 :]
    return args, []


def cli_values(ns: argparse.Namespace, extra: Sequence[str]) -> Dict[str, Any]:
    """Settings the command line gives; raises UsageError for a value no setting accepts."""
    from perfscan.errors import UsageError
    from perfscan.settings import parse_formats, parse_passes

    values: Dict[str, Any] = {}
    if ns.tests:
        values["tests"] = tuple(ns.tests)
    if ns.runner:
        values["runner"] = ns.runner
    if ns.out:
        values["out"] = Path(ns.out)
    if ns.passes:
        values["passes"] = parse_passes(ns.passes, "--passes")
    if ns.startup:
        values["startup"] = True
    if ns.budget is not None:
        if ns.budget <= 0:
            raise UsageError("--budget must be a positive number of seconds")
        values["budget"] = float(ns.budget)
    if ns.formats:
        values["formats"] = parse_formats(ns.formats, "--format")
    if ns.fail_on:
        values["fail_on"] = ns.fail_on
    if ns.quiet:
        values["quiet"] = True
    if ns.cpu_engine:
        values["cpu_engine"] = ns.cpu_engine
    if getattr(ns, "test_runner", None):
        values["test_runner"] = ns.test_runner
    if extra:
        values["pytest_args"] = tuple(extra)
    return values
