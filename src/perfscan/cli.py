"""Command line: `perfscan [PATH] [options] [-- PYTEST_ARGS...]` and the subcommands listed in
`perfscan.commands.COMMANDS` (exec, diff, merge, explain).

Nothing but the dispatch happens at import, so `perfscan --version` starts fast: a command's
module (and argparse, and the scan's stages) is imported only when that command runs.
"""

from __future__ import annotations

import sys

from perfscan import __version__
from perfscan.commands import COMMANDS, EXIT_OK, SCAN


def main(argv: list[str] | None = None) -> int:
    """Run one perfscan command; returns its exit code (0 done, 1 --fail-on reached, 2 usage, 130 interrupted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # the fast path: no parser, no imports
        print(f"perfscan {__version__}")
        return EXIT_OK
    if args and args[0] != SCAN and args[0] in COMMANDS:
        name, args = args[0], args[1:]
    else:
        name = SCAN  # the scan goes by no name (`perfscan scan` scans a folder named scan)
    import importlib

    return int(importlib.import_module(COMMANDS[name]).main(args))


if __name__ == "__main__":
    sys.exit(main())
