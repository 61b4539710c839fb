"""`perfscan diff BASE.json HEAD.json [--fail-on SEVERITY] [--json]`: the command line of perfscan.diff.

Reads the two reports, prints the comparison (Markdown, or JSON with --json), and exits 1 when
--fail-on is given and a new or worsened finding is at or above that severity.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from perfscan.commands import EXIT_FAIL_ON, EXIT_OK, EXIT_USAGE
from perfscan.diff import _load, compare, engine_note, render_markdown, to_json
from perfscan.errors import UsageError
from perfscan.models import SEVERITIES


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="perfscan diff", description="Compare two scans: new, gone, worsened and improved findings."
    )
    p.add_argument("base")
    p.add_argument("head")
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when a new or worsened finding is at or above SEVERITY",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ns = p.parse_args(list(argv))
    try:
        base, head = _load(ns.base), _load(ns.head)
    except UsageError as exc:
        print(f"perfscan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    changes = compare(base, head)
    sys.stdout.write(to_json(changes) if ns.json else render_markdown(changes, engine_note(base, head)))
    if ns.fail_on:
        limit = SEVERITIES.index(ns.fail_on)
        if any(
            c.kind in ("new", "worsened") and c.severity in SEVERITIES and SEVERITIES.index(c.severity) <= limit
            for c in changes
        ):
            return EXIT_FAIL_ON
    return EXIT_OK
