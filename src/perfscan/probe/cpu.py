"""CPU recorders, one per engine (the host's --cpu-engine, passed as `--opt engine=...`).

- cprofile: cProfile per phase (setup, call, teardown), in every thread the tests start.
  Before Python 3.12 a cProfile.Profile profiles only the thread that enabled it, so a
  `threading.setprofile` hook gives each new thread its own profiler, filed under the phase in
  which the thread started. From 3.12 cProfile is built on sys.monitoring: one enabled profiler
  sees every thread, and only one profiler may be active at a time (a test that starts its own
  fails with ValueError; that test fails alone).
- sample: CPU-time samples of every thread's stack (sampler.py) for the shares, plus exact call
  counts compiled into the project's functions (calls.py). Where sampling cannot run (no
  ITIMER_PROF, SIGPROF already taken), it falls back to cProfile and says so in "errors".
- auto: sample where it can run, else cprofile (the same fallback).

The database statements the tests run are counted with the call counts (calls.py, queries.py),
in whichever run counts; the cProfile engine counts them itself. The sampling engine records
waiting time beside its CPU samples (waiting.py).
"""

import cProfile
import os
import sys
import threading
from typing import Any, Dict, List

from . import state
from .clocks import getframe, perf_counter, process_time
from .contract import write_json
from .projectmap import to_project
from .session import runner_frame

PHASES = ("setup", "call", "teardown")
MONITORING = sys.version_info >= (3, 12)
ENGINES = ("cprofile", "sample", "auto")
WAIT_INTERVAL = 0.005  # the waiting sampler's period (waiting.py); --opt wait_interval=0 turns it off


def CpuRecorder(out_dir, options=None):
    """The recorder of the engine asked for (default cprofile, the engine the contract began with)."""
    options = dict(state.options if options is None else options)
    engine = str(options.get("engine") or "cprofile").lower()
    if engine not in ENGINES:
        engine = "cprofile"
    if engine == "cprofile":
        return CProfileRecorder(out_dir, queries=_queries(options))
    return SampleRecorder(out_dir, options, engine)


def _queries(options):
    """The statement counter, installed now: connections made while tests are imported count too."""
    from .queries import QueryRecorder

    if str(options.get("queries", "1")) == "0":
        return None
    recorder = QueryRecorder(os.getcwd())
    why = recorder.install()
    return recorder if not why else None


class CProfileRecorder:
    def __init__(self, out_dir, errors=None, extra=None, queries=None):
        self.out_dir = out_dir
        self.queries = queries
        self.extra = extra or {}  # added fields of cpu.json (a fallback says what was asked)
        self.profilers = {p: cProfile.Profile() for p in PHASES}
        self.wall = {p: 0.0 for p in PHASES}
        self.cpu = {p: 0.0 for p in PHASES}  # process CPU seconds (all threads): a load-independent overhead figure
        self._c0 = 0.0
        self.thread_profiles = []  # (phase, Profile)
        self.errors = list(errors or [])
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

    def start(self, nodeid, phase, base=None):
        self.phase = phase
        if not MONITORING:
            threading.setprofile(self._thread_hook)
        if self.queries is not None:
            self.queries.start_phase(phase)
        self._t0 = perf_counter()
        self._c0 = process_time()
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
        self.wall[phase] += perf_counter() - self._t0
        self.cpu[phase] += process_time() - self._c0
        if self.queries is not None:
            self.queries.stop_phase()
        if not MONITORING:
            threading.setprofile(None)
        self.phase = None

    def emergency_dump(self):
        if self._dumped:
            return
        self._dumped = True
        if self._active and self.phase:
            self.profilers[self.phase].disable()
            self.wall[self.phase] += perf_counter() - self._t0
        phases = {}
        for phase in PHASES:
            stats = _stats_of([self.profilers[phase]] + [p for ph, p in self.thread_profiles if ph == phase])
            phases[phase] = {"wall": self.wall[phase], "cpu": self.cpu[phase], "stats": stats}
        data = {
            "engine": "cProfile",
            "python": "%d.%d.%d" % sys.version_info[:3],
            "threads": len(self.thread_profiles) if not MONITORING else "all (sys.monitoring)",
            "phases": phases,
            "queries": _stop_queries(self.queries),
            "errors": self.errors,
        }
        data.update(self.extra)
        write_json(os.path.join(self.out_dir, "cpu.json"), data)


def _stats_of(profilers):
    """Merge profilers into one pstats-shaped table, serialised as a list with caller indexes."""
    merged: Dict[Any, List[Any]] = {}  # function -> [cc, nc, tt, ct, callers]
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
        out.append([to_project(func[0]), func[1], func[2], cc, nc, round(tt, 9), round(ct, 9), calls])
    return out


class SampleRecorder:
    """Samples for the shares, compiled counters for the call counts, in one run."""

    def __init__(self, out_dir, options, engine):
        from .calls import CallCounter
        from .sampler import Sampler, available

        self.out_dir = out_dir
        self.asked = engine
        self.options = options
        self.sampler = Sampler(
            float(options.get("interval") or 0.001), float(options.get("wait_interval") or WAIT_INTERVAL)
        )
        self.wall = {p: 0.0 for p in PHASES}
        self.cpu = {p: 0.0 for p in PHASES}
        self.errors = []
        self.phase = None
        self.fallback = None
        self._t0 = 0.0
        self._c0 = 0.0
        self._tried = False
        self._dumped = False
        self.counter = None
        self.off = False
        why = available()
        if why:  # decided now, before any module is compiled with counters cProfile would then time
            self._fall_back(why)
        elif str(options.get("count", "1")) != "0":
            # now, before the tests' modules are imported (conftest's imports are patched in place)
            self.counter = CallCounter(os.getcwd())
            try:
                self.counter.install()
            except Exception as exc:
                self.errors.append("call counts unavailable: %s: %s" % (type(exc).__name__, exc))
                self.counter.uninstall()
                self.counter = None

    def _install(self):
        self._tried = True
        why = self.sampler.install()
        if why:
            self._fall_back(why)

    def _fall_back(self, why):
        self._tried = True
        if str(self.options.get("fallback", "1")) == "0":
            self.off = True  # the timing run's sampling: no profile rather than cProfile's cost in its times
            return
        self.fallback = CProfileRecorder(
            self.out_dir,
            self.errors + ["sampling unavailable (%s): measured with cProfile" % why],
            {"engine_asked": self.asked},
            _queries(self.options),
        )
        if self.counter is not None:
            self.counter.uninstall()
            self.counter = None

    def start(self, nodeid, phase, base=None):
        """`base`: the test runner's frame around the phase (the caller's, by default)."""
        if not self._tried:
            self._install()
        if self.off:
            return None
        if self.fallback is not None:
            return self.fallback.start(nodeid, phase)
        self.phase = phase
        if self.counter is not None:
            self.counter.start(phase)
        self.sampler.start(nodeid, phase, base if base is not None else runner_frame(getframe(1)))
        self._c0 = process_time()
        self._t0 = perf_counter()

    def stop(self, nodeid, phase):
        if self.off:
            return None
        if self.fallback is not None:
            return self.fallback.stop(nodeid, phase)
        self.wall[phase] += perf_counter() - self._t0
        self.cpu[phase] += process_time() - self._c0
        self.sampler.stop(nodeid, phase)
        if self.counter is not None:
            self.counter.stop(phase)
        self.phase = None

    def emergency_dump(self):
        if self.off:
            return None
        if self.fallback is not None:
            return self.fallback.emergency_dump()
        if self._dumped:
            return
        self._dumped = True
        if self.phase:
            self.wall[self.phase] += perf_counter() - self._t0
        self.sampler.phase = None
        self.sampler.uninstall()
        if self.counter is not None:
            self.counter.uninstall()
        samples = self.sampler.export()
        calls = self.counter.export() if self.counter is not None else None
        errors = self.errors + self.sampler.errors + (self.counter.errors if self.counter is not None else [])
        if self.sampler.waits is not None:
            errors += self.sampler.waits.errors
        write_json(
            os.path.join(self.out_dir, "cpu.json"),
            {
                "engine": "sample",
                "engine_asked": self.asked,
                "python": "%d.%d.%d" % sys.version_info[:3],
                "threads": "all (sampled, per-thread CPU clocks)"
                if samples["thread_cpu"]
                else "main thread only (no per-thread CPU clock)",
                # the contract's per-phase tables stay: wall is what every share divides by
                "phases": {p: {"wall": self.wall[p], "cpu": self.cpu[p], "stats": []} for p in PHASES},
                "samples": samples,
                "calls": calls,
                "errors": errors,
            },
        )


def _stop_queries(queries):
    if queries is None:
        return None
    queries.stop()
    return queries.export()
