"""The probe's clocks and frame access, held where a test's patching cannot reach them.

Tests freeze time (freezegun replaces `time.perf_counter` and every module attribute bound to
the real function), replace `time.sleep` with a stub, or delete `sys._getframe`; the probe's
measurements must not follow them. The real functions are taken when the probe loads, before
any test runs, and kept in a dict, which no such patcher walks.

Also here: the samplers' per-thread clocks (`ThreadClocks`: a thread's CPU seconds and, on
Linux, the seconds it waited for a CPU).
"""

import gc
import os
import sys
import threading
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


# -- per-thread clocks (the samplers'): CPU seconds and the time spent waiting for a CPU

_thread_clock = getattr(time, "pthread_getcpuclockid", None)


def thread_clock_available():
    return _thread_clock is not None


class ThreadClocks:
    """Per-thread clocks: CPU seconds, plus seconds spent waiting for a CPU where schedstat is readable."""

    def __init__(self):
        self.fds = {}  # ident -> (native id, fd of its schedstat)
        self.kind = "cpu"
        main = threading.main_thread()
        nid = getattr(main, "native_id", None)
        fd = self._open(nid)
        if fd is not None:
            self.fds[main.ident] = (nid, fd)
            self.kind = "runnable"

    @staticmethod
    def _open(nid):
        if nid is None:
            return None
        try:
            fd = os.open("/proc/self/task/%d/schedstat" % nid, os.O_RDONLY)
        except (OSError, AttributeError):
            return None
        try:
            _waited(fd)
        except (OSError, ValueError, IndexError):
            os.close(fd)
            return None
        return fd

    def _wait_of(self, ident):
        held = self.fds.get(ident)
        if held is None:
            return 0.0
        try:
            return _waited(held[1])
        except (OSError, ValueError, IndexError):
            return 0.0

    def main(self, ident):
        return thread_time() + self._wait_of(ident)

    def other(self, ident):
        """Runnable seconds of a thread `threading` lists (None for others): cpu() + delay()."""
        cpu = self.cpu(ident)
        return None if cpu is None else cpu + self.delay(ident)

    def cpu(self, ident):
        # Only a thread `threading` still lists is sure to be alive: a finishing thread leaves
        # that list while sys._current_frames() still shows it, and the CPU clock of a thread
        # whose stack is gone crashes the process (pthread_getcpuclockid reads its descriptor).
        # Nothing here lets the GIL go, so a listed thread cannot finish meanwhile.
        if threading._active.get(ident) is None:  # type: ignore[attr-defined]  # private, but the only live-thread table
            return None
        return _cpu_of(ident)

    def delay(self, ident):
        """Seconds the thread waited for a CPU (0 without schedstat). Reading it lets the GIL go
        (os.pread): other threads run, and may finish, meanwhile; read their stacks first."""
        if self.kind != "runnable":
            return 0.0
        thread = threading._active.get(ident)  # type: ignore[attr-defined]
        if thread is None:
            return 0.0
        nid = getattr(thread, "native_id", None)
        held = self.fds.get(ident)
        if held is not None and held[0] != nid:
            os.close(held[1])
            del self.fds[ident]
            held = None
        if held is None and nid is not None:
            fd = self._open(nid)
            if fd is not None:
                self.fds[ident] = (nid, fd)
        return self._wait_of(ident)

    def close(self):
        for _nid, fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}


def _waited(fd):
    """Seconds the thread has spent runnable but waiting for a CPU (schedstat's second field)."""
    return int(os.pread(fd, 128, 0).split()[1]) / 1e9


def _cpu_of(ident):
    if _thread_clock is None:
        return None
    try:
        return time.clock_gettime(_thread_clock(ident))
    except (OSError, ValueError, OverflowError):
        return None
