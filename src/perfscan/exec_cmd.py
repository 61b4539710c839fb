"""`perfscan exec [PATH] [options] -- CMD [ARGS...]`: profile a command instead of tests.

The CPU, memory and async passes look at that run; the import pass runs as usual.
"""
from __future__ import annotations

import sys
from typing import Sequence

from perfscan.cli import _scan_parser, _split_dashdash, run_scan_command


def exec_main(argv: Sequence[str]) -> int:
    before, command = _split_dashdash(argv)
    parser = _scan_parser()
    parser.prog = "perfscan exec"
    parser.usage = "perfscan exec [PATH] [options] -- CMD [ARGS...]"
    ns = parser.parse_args(before)
    if not command:
        print("perfscan: error: exec needs a command after --, e.g. perfscan exec . -- python bench.py", file=sys.stderr)
        return 2
    return run_scan_command(ns, [], exec_command=command)
