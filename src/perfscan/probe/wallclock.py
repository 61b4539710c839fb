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


class SampledWallClock:
    """The timing run that is also the CPU pass's sampled run (`--opt sample=1`): the wall clock
    and its counters as above, and the sampling engine beside them (cpu.py's SampleRecorder,
    without counters of its own: the clock's counters count this run, and the host takes their
    measured cost out of the samples). Where sampling cannot run, the run is only timed (no
    cpu.json): the timing run never falls back to cProfile, whose cost would be in its times.
    """

    def __init__(self, clock, out_dir, options):
        from .cpu import SampleRecorder

        self.clock = clock
        sampling = dict(options, count="0", fallback="0")
        self.sampling = SampleRecorder(out_dir, sampling, str(options.get("engine") or "auto"))

    def start(self, nodeid, phase, base=None):
        self.clock.start(nodeid, phase, base)
        self.sampling.start(nodeid, phase, base)

    def stop(self, nodeid, phase):
        self.sampling.stop(nodeid, phase)
        self.clock.stop(nodeid, phase)

    def emergency_dump(self):
        self.sampling.emergency_dump()
        self.clock.emergency_dump()
