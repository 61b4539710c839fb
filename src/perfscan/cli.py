"""Command line: `perfscan [PATH] [options] [-- PYTEST_ARGS...]` and the subcommands listed in
`perfscan.commands.COMMANDS` (exec, diff, explain).

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
    # the scan goes by no name on the command line (`perfscan scan` scans a folder named scan)
    name = args[0] if args and args[0] in COMMANDS and args[0] != SCAN else SCAN
    if name != SCAN:
        args = args[1:]
    import importlib

    module, _ = COMMANDS[name]
    return int(importlib.import_module(module).main(args))


if __name__ == "__main__":
    sys.exit(main())
