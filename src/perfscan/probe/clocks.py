"""The probe's clocks and frame access, held where a test's patching cannot reach them.

Tests freeze time (freezegun replaces `time.perf_counter` and every module attribute bound to
the real function), replace `time.sleep` with a stub, or delete `sys._getframe`; the probe's measurements must not follow them.
The real functions are taken when the probe loads, before any test runs, and kept in a dict,
which no such patcher walks.
"""

import gc
import sys
import time
from typing import Any, Callable, Dict

_REAL: Dict[str, Callable[..., Any]] = {
    "perf_counter": time.perf_counter,
    "process_time": time.process_time,
    "thread_time": time.thread_time,
    "sleep": time.sleep,
    "getframe": sys._getframe,
    "current_frames": sys._current_frames,
}


def perf_counter():
    return _REAL["perf_counter"]()


def process_time():
    return _REAL["process_time"]()


def thread_time():
    return _REAL["thread_time"]()


def sleep(seconds):
    return _REAL["sleep"](seconds)


def getframe(depth=0):
    return _REAL["getframe"](depth + 1)


def current_frames():
    # With the collector on, sys._current_frames() can deadlock against a thread that is exiting
    # (it allocates while holding the runtime's thread list lock; CPython gh-106883): it runs
    # with the collector off, turned back on at once.
    if not gc.isenabled():
        return _REAL["current_frames"]()
    gc.disable()
    try:
        return _REAL["current_frames"]()
    finally:
        gc.enable()
