"""`perfscan exec`: run a script, a module or a console script under the pass's recorder.

The command is what the user would type: `python script.py ARGS`, `python -m module ARGS`, or a
console script name `tool ARGS`. A leading `python` (any spelling) is dropped: the probe already
runs in the project's interpreter.
"""

import os
import re
import runpy
import sys
import time

from . import projectmap
from .contract import write_json

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")


def _console_script(name):
    try:
        from importlib.metadata import entry_points
    except ImportError:  # pragma: no cover
        return None
    if sys.version_info >= (3, 10):
        group = entry_points(group="console_scripts")
    else:
        group = entry_points().get("console_scripts", [])
    for ep in group:
        if ep.name == name:
            return ep
    return None


def run_command(command, recorder, out_dir):
    """Run the command between recorder.start/stop; returns the exit code the command asked for."""
    argv = list(command)
    if argv and _PYTHON.match(os.path.basename(argv[0])):
        argv = argv[1:]
    if not argv:
        print("perfscan probe: exec needs a command", file=sys.stderr)
        return 2
    outcome, message, code = "passed", "", 0
    start = time.perf_counter()
    sys.path.insert(0, os.getcwd())
    begin, end = getattr(recorder, "begin_run", None), getattr(recorder, "end_run", None)
    if begin is not None:
        begin()
    recorder.start("exec", "call")
    try:
        if argv[0] == "-m" and len(argv) > 1:
            sys.argv = [argv[1]] + argv[2:]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0].endswith(".py") or os.path.isfile(argv[0]):
            sys.argv = argv[:]
            sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
            runpy.run_path(argv[0], run_name="__main__")
        else:
            ep = _console_script(argv[0])
            if ep is None:
                raise FileNotFoundError("%s is not a script, a module (-m) or an installed console script" % argv[0])
            sys.argv = argv[:]
            result = ep.load()()
            code = result if isinstance(result, int) else 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # the command's own failure is a result, not the probe's
        outcome, message, code = "failed", "%s: %s" % (type(exc).__name__, exc), 1
    finally:
        recorder.stop("exec", "call")
        if end is not None:
            end()
    if code:
        outcome = "failed"
        message = message or "exit code %s" % code
    write_json(
        os.path.join(out_dir, "outcomes.json"),
        {
            "tests": {"exec": {"outcome": outcome, "seconds": time.perf_counter() - start, "message": message[:300]}},
            "exitstatus": code,
            "neutralized": [],
            "imports": projectmap.current().report(os.getcwd()),
        },
    )
    recorder.emergency_dump()
    return 0 if outcome == "passed" else 1
