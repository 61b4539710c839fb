"""perfscan's subcommands, listed in one table: name -> the module whose `main(argv)` runs it.

`perfscan [PATH] ...` with no subcommand name runs the scan. A module is imported only when its
command runs, so `perfscan --version` loads none of them (keep this file free of imports).
"""

from __future__ import annotations

# exit codes of every command
EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

SCAN = "scan"
# name -> the module with `main(argv: Sequence[str]) -> int`
COMMANDS = {
    SCAN: "perfscan.commands.scan",  # `perfscan [PATH] [options] [-- PYTEST_ARGS...]`
    "exec": "perfscan.commands.exec_cmd",  # `perfscan exec [PATH] [options] -- CMD [ARGS...]`
    "diff": "perfscan.commands.diff",  # `perfscan diff BASE.json HEAD.json`
    "merge": "perfscan.commands.merge",  # `perfscan merge REPORT.json... [--out DIR]`
    "explain": "perfscan.commands.explain",  # `perfscan explain [PATTERN]`
}
