"""perfscan's subcommands, listed in one table: name -> the module whose `main(argv)` runs it.

`perfscan [PATH] ...` with no subcommand name runs the scan. A module is imported only when its
command runs, so `perfscan --version` loads none of them (keep this file free of imports).
"""
from __future__ import annotations

# exit codes of every command
EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

SCAN = "scan"
# name -> (module with `main(argv: list[str]) -> int`, one line for help texts)
COMMANDS = {
    SCAN: ("perfscan.commands.scan", "profile the project's tests (the default: `perfscan [PATH]`)"),
    "exec": ("perfscan.commands.exec_cmd", "profile a command instead of tests: `perfscan exec [PATH] -- CMD...`"),
    "diff": ("perfscan.commands.diff", "compare two scans: `perfscan diff BASE.json HEAD.json`"),
    "explain": ("perfscan.commands.explain", "describe a pattern: `perfscan explain [PATTERN]`"),
}
