"""`perfscan exec [PATH] [options] -- CMD [ARGS...]`: profile a command instead of tests.

The CPU, memory and async passes look at that run; the import pass runs as usual.
"""

from __future__ import annotations

import sys
from typing import Sequence

from perfscan.commands import EXIT_USAGE
from perfscan.commands.options import scan_parser, split_dashdash
from perfscan.commands.scan import run_scan_command


def main(argv: Sequence[str]) -> int:
    before, command = split_dashdash(argv)
    ns = scan_parser("perfscan exec", "perfscan exec [PATH] [options] -- CMD [ARGS...]").parse_args(before)
    if not command:
        print(
            "perfscan: error: exec needs a command after --, e.g. perfscan exec . -- python bench.py", file=sys.stderr
        )
        return EXIT_USAGE
    return run_scan_command(ns, [], exec_command=command)
