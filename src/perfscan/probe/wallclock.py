"""The `time` mode's recorder: each phase's wall time, and (with --opt count=1) exact call counts."""

import os

from .clocks import perf_counter
from .contract import write_json


class WallClock:
    """The plain timing run: no profiler, so it is the baseline of the profilers' overhead.

    The counts are taken here, in the plain run, so that the CPU pass's sampled run carries no
    counters: counting a function called a million times costs as much as the function itself,
    and taking an estimate of that cost back out left the sampled shares noisy.
    """

    def __init__(self, out_dir, count=False):
        self.out_dir = out_dir
        self.wall = {"setup": 0.0, "call": 0.0, "teardown": 0.0}
        self._t0 = 0.0
        self.counter = None
        self.errors = []
        if count:
            try:
                from .calls import CallCounter

                # loop iterations too: their counters cost too much for a sampled run, not for this one
                self.counter = CallCounter(os.getcwd(), loops=True)
                self.counter.install()
            except Exception as exc:
                self.errors.append("call counts unavailable: %s: %s" % (type(exc).__name__, exc))
                self.counter = None

    def start(self, nodeid, phase, base=None):
        if self.counter is not None:
            self.counter.start(phase)
        self._t0 = perf_counter()

    def stop(self, nodeid, phase):
        self.wall[phase] += perf_counter() - self._t0
        if self.counter is not None:
            self.counter.stop(phase)

    def emergency_dump(self):
        calls = None
        if self.counter is not None:
            self.counter.uninstall()
            calls = self.counter.export()
        write_json(
            os.path.join(self.out_dir, "time.json"), {"phases": self.wall, "calls": calls, "errors": self.errors}
        )
