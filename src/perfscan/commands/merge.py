"""`perfscan merge REPORT.json... [--out DIR] [--fail-on SEVERITY] [--quiet]`: the shards' reports as one.

Writes `scan-report.json` and `scan-report.md` of the whole suite to DIR (default `.codeflash`
in the current folder) and prints the one summary line, as a scan does; the exit codes are a
scan's (docs/design.md "Sharded scans").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from perfscan.commands import EXIT_USAGE
from perfscan.errors import UsageError
from perfscan.models import SEVERITIES


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="perfscan merge",
        description="Merge the scan-report.json files of a suite scanned in shards into one report.",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="each shard's scan-report.json")
    p.add_argument("--out", default=".codeflash", help="output folder (default .codeflash in the current folder)")
    p.add_argument(
        "--fail-on", choices=SEVERITIES, metavar="SEVERITY", help="exit 1 when a finding is at or above SEVERITY"
    )
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    ns = p.parse_args(list(argv))
    try:
        from perfscan.commands.scan import outcome
        from perfscan.merge import merge_reports
        from perfscan.report.summary import top_table
        from perfscan.safetext import clean_text
        from perfscan.scan import write_reports

        result, _ = merge_reports(ns.reports)
        out_dir = Path(ns.out)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            write_reports(result, out_dir)
        except OSError as exc:
            raise UsageError(
                f"cannot write the report to {out_dir} ({exc.strerror or exc}); pass a writable --out"
            ) from None
        if not ns.quiet:
            if result.findings:
                print(top_table(result), file=sys.stderr)
            print(f"report: {out_dir / 'scan-report.md'} (and scan-report.json)", file=sys.stderr)
        return outcome(result, ns.fail_on, f"no shard measured the project ({clean_text(result.unmeasured)})")
    except UsageError as exc:
        print(f"perfscan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
