"""`perfscan [PATH] [options] [-- PYTEST_ARGS...]`: scan a project and print where the report is.

`run_scan_command` is also how `perfscan exec` runs its scan (with the command to profile).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from perfscan import children
from perfscan.commands import EXIT_FAIL_ON, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from perfscan.commands.options import cli_values, scan_parser, split_dashdash
from perfscan.errors import UsageError

if TYPE_CHECKING:
    from perfscan.models import ScanResult


def main(argv: Sequence[str]) -> int:
    before, extra = split_dashdash(argv)
    ns = scan_parser().parse_args(before)
    return run_scan_command(ns, extra)


def outcome(result: ScanResult, fail_on: Optional[str], unmeasured_error: str) -> int:
    """Print the summary line; the exit code a CI job reads: 2 when nothing was measured (and
    `unmeasured_error` on stderr), 1 when a finding is at or above `fail_on`, else 0. A scan that
    profiled nothing never goes green, --fail-on or not. `perfscan merge` ends the same way."""
    from perfscan.ranking import at_or_above
    from perfscan.report.summary import summary_line
    from perfscan.safetext import clean_text

    print(clean_text(summary_line(result)))
    if result.unmeasured:
        print(f"perfscan: error: {unmeasured_error}", file=sys.stderr)
        return EXIT_USAGE
    if fail_on and any(at_or_above(r.severity, fail_on) for r in result.findings):
        return EXIT_FAIL_ON
    return EXIT_OK


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_scan_command(ns: argparse.Namespace, extra: Sequence[str], exec_command: Sequence[str] = ()) -> int:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # inside the handlers: Ctrl-C while the stages load is still an interrupt (exit 130)
        from perfscan.fidelity import advice
        from perfscan.progress import Progress
        from perfscan.report.summary import top_table
        from perfscan.safetext import clean_text
        from perfscan.scan import run_scan
        from perfscan.settings import load_settings

        cli = cli_values(ns, extra)
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
            for p in result.passes.values():
                for a in p.artifacts:
                    print(f"artifact: {a.path}" + (f"  (open: {a.open_with})" if a.open_with else ""), file=sys.stderr)
            twins = ", ".join(["scan-report.json"] + [f"scan-report.{fmt}" for fmt in settings.formats])
            print(f"report: {out_dir / 'scan-report.md'} (and {twins})", file=sys.stderr)
        return outcome(result, settings.fail_on, f"{clean_text(result.unmeasured)}; {advice(result.unmeasured)}")
    except UsageError as exc:
        print(f"perfscan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        children.kill_all()
        print("perfscan: interrupted; no report written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
