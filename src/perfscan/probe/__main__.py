"""Entry point:

    python -m perfscan_probe <collect|time|cpu|memory> --out DIR [--opt K=V ...]
        [--driver pytest|unittest|django] [--django-settings MODULE] -- TEST_RUNNER_ARGS
    python -m perfscan_probe <cpu|memory> --out DIR [--opt K=V ...] --exec -- COMMAND

The driver runs the tests (pytest_driver.py, unittest_driver.py, django_driver.py), each through
the same session (session.py), so every pass measures the same way under every test runner.
"""

import os
import signal
import sys

from . import state


def _terminate(signum, frame):
    # The host's timeout: save what was measured so far, then go.
    for rec in list(state.recorders):
        try:
            rec.emergency_dump()
        except Exception:
            pass
    os._exit(128 + signum)


class _AsyncioDump:
    def emergency_dump(self):
        from . import asyncdebug

        asyncdebug.dump(state.out_dir)


USAGE = (
    "usage: python -m perfscan_probe <collect|time|cpu|memory> --out DIR [--opt K=V] "
    "[--driver pytest|unittest|django] [--django-settings MODULE] -- TEST_RUNNER_ARGS"
)
DRIVERS = ("pytest", "unittest", "django")


def main(argv):
    if not argv or argv[0] not in ("collect", "time", "cpu", "memory"):
        print(USAGE, file=sys.stderr)
        return 2
    state.mode = argv[0]
    rest = argv[1:]
    args = []
    if "--" in rest:
        i = rest.index("--")
        rest, args = rest[:i], rest[i + 1 :]
    exec_mode = False
    driver, django_settings = "pytest", ""
    i = 0
    while i < len(rest):
        if rest[i] == "--exec":
            exec_mode = True
            i += 1
            continue
        if rest[i] == "--out":
            state.out_dir = rest[i + 1]
            i += 2
        elif rest[i] == "--opt":
            key, _, value = rest[i + 1].partition("=")
            state.options[key] = value
            i += 2
        elif rest[i] == "--driver":
            driver = rest[i + 1]
            i += 2
        elif rest[i] == "--django-settings":
            django_settings = rest[i + 1]
            i += 2
        else:
            i += 1
    if driver not in DRIVERS:
        print(USAGE, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    if state.mode == "memory" and state.options.get("deep") and int(state.options.get("frames") or 1) > 10:
        # 25 frames reach the runner's frames below the test loop; a 10-frame run sets it at the loop
        from .memory import give_line_tables

        give_line_tables()
    if state.options.get("asyncio_debug") == "1":
        from . import asyncdebug

        asyncdebug.enable()
        state.recorders.append(_AsyncioDump())
    if exec_mode:
        return _run_exec(args)
    try:
        if driver == "unittest":
            from . import unittest_driver

            return unittest_driver.run(args)
        if driver == "django":
            from . import django_driver

            return django_driver.run(args, django_settings)
        from . import pytest_driver

        return pytest_driver.run(args)
    finally:
        for rec in state.recorders:
            if isinstance(rec, _AsyncioDump):
                rec.emergency_dump()


def _run_exec(command):
    from .workload import run_command

    if state.mode == "cpu":
        from .cpu import CpuRecorder

        recorder = CpuRecorder(state.out_dir)
    elif state.mode == "memory":
        from .memory import MemoryRecorder

        recorder = MemoryRecorder(state.out_dir, dict(state.options, repeat="0"))
    else:
        print("perfscan probe: --exec works with the cpu and memory modes", file=sys.stderr)
        return 2
    state.recorders.insert(0, recorder)
    return run_command(command, recorder, state.out_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
