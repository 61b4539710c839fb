"""CPU recorder: cProfile per phase (setup, call, teardown), in every thread the tests start.

Before Python 3.12 a cProfile.Profile profiles only the thread that enabled it, so a
`threading.setprofile` hook gives each new thread its own profiler, filed under the phase in
which the thread started. From 3.12 cProfile is built on sys.monitoring: one enabled profiler
sees every thread, and only one profiler may be active at a time (a test that starts its own
fails with ValueError; that test fails alone).
"""
import cProfile
import os
import sys
import threading
import time

from perfscan_probe.contract import write_json

PHASES = ("setup", "call", "teardown")
MONITORING = sys.version_info >= (3, 12)


class CpuRecorder:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.profilers = {p: cProfile.Profile() for p in PHASES}
        self.wall = {p: 0.0 for p in PHASES}
        self.thread_profiles = []  # (phase, Profile)
        self.errors = []
        self.phase = None
        self._t0 = 0.0
        self._active = False
        self._dumped = False

    # -- threads (before 3.12)
    def _thread_hook(self, frame, event, arg):
        phase = self.phase or "call"
        sys.setprofile(None)
        prof = cProfile.Profile()
        self.thread_profiles.append((phase, prof))
        prof.enable()

    def start(self, nodeid, phase):
        self.phase = phase
        if not MONITORING:
            threading.setprofile(self._thread_hook)
        self._t0 = time.perf_counter()
        try:
            self.profilers[phase].enable()
            self._active = True
        except ValueError as exc:  # another profiler is active (3.12+)
            self._active = False
            self.errors.append("%s (%s): profiler not started: %s" % (nodeid, phase, exc))

    def stop(self, nodeid, phase):
        if self._active:
            self.profilers[phase].disable()
            self._active = False
        self.wall[phase] += time.perf_counter() - self._t0
        if not MONITORING:
            threading.setprofile(None)
        self.phase = None

    def pytest_sessionfinish(self, session, exitstatus):
        self.emergency_dump()

    def emergency_dump(self):
        if self._dumped:
            return
        self._dumped = True
        if self._active and self.phase:
            self.profilers[self.phase].disable()
            self.wall[self.phase] += time.perf_counter() - self._t0
        phases = {}
        for phase in PHASES:
            stats = _stats_of([self.profilers[phase]] + [p for ph, p in self.thread_profiles if ph == phase])
            phases[phase] = {"wall": self.wall[phase], "stats": stats}
        write_json(os.path.join(self.out_dir, "cpu.json"), {
            "engine": "cProfile",
            "python": "%d.%d.%d" % sys.version_info[:3],
            "threads": len(self.thread_profiles) if not MONITORING else "all (sys.monitoring)",
            "phases": phases,
            "errors": self.errors,
        })


def _stats_of(profilers):
    """Merge profilers into one pstats-shaped table, serialised as a list with caller indexes."""
    merged = {}
    for prof in profilers:
        try:
            prof.disable()
            prof.create_stats()
        except Exception:
            continue
        for func, (cc, nc, tt, ct, callers) in prof.stats.items():
            old = merged.get(func)
            if old is None:
                merged[func] = [cc, nc, tt, ct, dict(callers)]
            else:
                old[0] += cc
                old[1] += nc
                old[2] += tt
                old[3] += ct
                for caller, vals in callers.items():
                    prev = old[4].get(caller)
                    old[4][caller] = vals if prev is None else tuple(a + b for a, b in zip(prev, vals))
    keys = list(merged)
    index = {k: i for i, k in enumerate(keys)}
    out = []
    for func in keys:
        cc, nc, tt, ct, callers = merged[func]
        calls = []
        for caller, vals in callers.items():
            if caller not in index:
                continue
            if not isinstance(vals, tuple):  # old pstats: just a call count
                vals = (vals, vals, 0.0, 0.0)
            calls.append([index[caller]] + [round(v, 9) if isinstance(v, float) else v for v in vals])
        out.append([func[0], func[1], func[2], cc, nc, round(tt, 9), round(ct, 9), calls])
    return out
