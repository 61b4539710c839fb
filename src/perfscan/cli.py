"""Command line: `perfscan [PATH] [options] [-- PYTEST_ARGS...]` (DESIGN.md "Command line").

Imports stay lazy so `perfscan --version` starts fast.
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, Sequence

from perfscan import __version__

EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info")


def _scan_parser() -> "argparse.ArgumentParser":
    import argparse
    p = argparse.ArgumentParser(
        prog="perfscan",
        description="Profile a Python project across CPU, memory, import time and async in one pass, "
                    "and write one ranked diagnosis to .codeflash/scan-report.md (and .json).",
        epilog="Arguments after -- go to every pytest run. Also: `perfscan exec [PATH] -- CMD...` profiles a command; "
               "`perfscan diff BASE.json HEAD.json` compares two scans. Exit codes: 0 done, 1 --fail-on reached, "
               "2 usage or set-up error, 130 interrupted.")
    p.add_argument("path", nargs="?", default=".", help="project root (default: the current folder)")
    p.add_argument("--test", action="append", dest="tests", metavar="NODEID", help="profile this test (repeatable)")
    p.add_argument("--runner", metavar="CMD", help="command prefix that runs the project's python, e.g. 'uv run' or .venv/bin/python")
    p.add_argument("--out", metavar="DIR", help="output folder (default: PATH/.codeflash)")
    p.add_argument("--passes", metavar="LIST", help="comma-separated passes: cpu,memory,import,async (default: all)")
    p.add_argument("--startup", action="store_true", default=None, help="rank import (start-up) findings at their base severity")
    p.add_argument("--cpu-engine", choices=("auto", "sample", "cprofile"), metavar="ENGINE",
                   help="CPU engine: auto (default: sampling + exact call counts where possible, else cprofile), sample, cprofile")
    p.add_argument("--budget", type=float, metavar="SECONDS", help="time budget for the whole scan (default 300)")
    p.add_argument("--format", dest="formats", metavar="LIST", help="extra report formats: sarif,html")
    p.add_argument("--fail-on", choices=SEVERITY_CHOICES, metavar="SEVERITY",
                   help="exit 1 when a finding is at or above SEVERITY (critical, high, medium, low, info)")
    p.add_argument("--quiet", action="store_true", default=None, help="print only the summary line")
    p.add_argument("--version", action="version", version=f"perfscan {__version__}")
    return p


def _split_dashdash(argv: Sequence[str]):
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _cli_values(ns: "argparse.Namespace", extra: List[str]) -> Dict[str, Any]:
    from perfscan.settings import parse_formats, parse_passes
    values: Dict[str, Any] = {}
    if ns.tests:
        values["tests"] = tuple(ns.tests)
    if ns.runner:
        values["runner"] = ns.runner
    if ns.out:
        from pathlib import Path
        values["out"] = Path(ns.out)
    if ns.passes:
        values["passes"] = parse_passes(ns.passes, "--passes")
    if ns.startup:
        values["startup"] = True
    if ns.budget is not None:
        if ns.budget <= 0:
            from perfscan.errors import UsageError
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
    if extra:
        values["pytest_args"] = tuple(extra)
    return values


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # the fast path: no parser, no imports
        print(f"perfscan {__version__}")
        return EXIT_OK
    if argv and argv[0] == "diff":
        from perfscan.diff import diff_main
        return diff_main(argv[1:])
    if argv and argv[0] == "exec":
        from perfscan.exec_cmd import exec_main
        return exec_main(argv[1:])
    before, extra = _split_dashdash(argv)
    ns = _scan_parser().parse_args(before)
    return run_scan_command(ns, extra)


def run_scan_command(ns: "argparse.Namespace", extra: List[str], exec_command: Sequence[str] = ()) -> int:
    import signal
    from pathlib import Path

    from perfscan import children
    from perfscan.errors import UsageError
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from perfscan.progress import Progress
        from perfscan.ranking import at_or_above
        from perfscan.report.summary import summary_line, top_table
        from perfscan.safetext import clean_text
        from perfscan.scan import run_scan
        from perfscan.settings import load_settings

        cli = _cli_values(ns, extra)
        if exec_command:
            cli["exec_command"] = tuple(exec_command)
        path = Path(ns.path)
        if not path.exists():
            raise UsageError(f"{path} does not exist; pass the path of a project folder")
        if not path.is_dir():
            raise UsageError(f"{path} is not a folder; pass the path of a project folder")
        settings = load_settings(path, cli)
        progress = Progress(quiet=settings.quiet)
        result, out_dir = run_scan(settings, progress)
        if not settings.quiet:
            if result.findings:
                print(top_table(result, colour=progress.colour), file=sys.stderr)
            for name, p in result.passes.items():
                for a in p.artifacts:
                    print(f"artifact: {a.path}" + (f"  (open: {a.open_with})" if a.open_with else ""), file=sys.stderr)
            twins = ", ".join(["scan-report.json"] + [f"scan-report.{fmt}" for fmt in settings.formats])
            print(f"report: {out_dir / 'scan-report.md'} (and {twins})", file=sys.stderr)
        print(clean_text(summary_line(result)))
        if settings.fail_on and any(at_or_above(r.severity, settings.fail_on) for r in result.findings):
            return EXIT_FAIL_ON
        return EXIT_OK
    except UsageError as exc:
        print(f"perfscan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        children.kill_all()
        print("perfscan: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
