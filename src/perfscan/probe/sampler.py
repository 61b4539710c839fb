"""CPU sampling: a SIGPROF interval timer (ITIMER_PROF) reads the stacks of every thread.

Why this shape:
- ITIMER_PROF counts the process's CPU time, not wall time: code that sleeps or waits is not
  sampled, and the timer's ticks do not depend on where phases start or end, so each phase gets
  samples in proportion to its CPU time however short it is (no per-phase re-arming).
- The handler runs in the main thread between bytecodes. Each sample is weighted by the CPU
  time it stands for, measured, not assumed: the kernel checks CPU timers at its tick (4 ms at
  HZ=250), so a 1 ms request yields one sample every few ms. The main thread's weight is its
  thread_time since the last sample; another thread's is its own CPU clock
  (pthread_getcpuclockid) since the last sample, so a thread blocked in join() or a socket
  weighs nothing however long its stack stays the same. Only threads `threading` lists are
  read (see clocks.ThreadClocks.cpu): threads started with `_thread` directly go unsampled.
- Aggregated in the probe as (phase, test, stack) -> weight; a stack is a tuple of
  (code, line) pairs, outermost first. The line of each frame tells the host which call in a
  function was running when the callee is C code, which has no frame of its own. A signal is
  handled at a loop's back edge or a call, and from 3.10 a back edge may have no line of its own
  (f_lineno None): it takes the line of the loop it jumps back to (`_line`), so time in a tight
  loop lands on that loop's header, inside the loop's lines.
- On Linux the weight is runnable time, not CPU time alone: CPU time plus the time spent
  waiting for a CPU (run delay, /proc/self/task/<tid>/schedstat). On a loaded machine a
  CPU-bound thread spends part of its wall time waiting for a core; a share of wall time (what
  the ground truth and the report's denominator are) counts that wait, and sleeping or blocking
  still counts nothing. Elsewhere: CPU time alone.
- The handler's own time is excluded from the weights (it is the profiler's overhead).
- Threads the tests start block SIGPROF (a one-shot threading.setprofile hook). The kernel
  sends ITIMER_PROF's signal to the thread that is running when the timer expires; a worker
  thread would take it while the main thread waits in join() or Future.result() (a web test
  client's app thread), and the main thread, never interrupted, would sample nobody. Blocked
  elsewhere, the signal goes to the main thread, interrupts its wait (EINTR: Python installs
  handlers without SA_RESTART) and the handler samples the worker.
- Waiting (a thread blocked in a socket, a sleep, a lock) is no CPU time and never sampled here:
  a wall-clock sampler thread (waiting.py) records it beside these samples, under the same
  phases, tests and frames table ("waits" in the export).
- A project's own SIGPROF use is respected: if a handler or timer is already installed when
  sampling would start, the sampler does not start (the caller falls back); the previous
  handler and timer are restored at the end.
"""

import dis
import os
import signal
import sys
import threading
from typing import Any, Dict, List, Optional

from .clocks import ThreadClocks, current_frames, perf_counter, thread_clock_available
from .projectmap import to_project

try:
    from _thread import get_ident as _get_ident
except ImportError:  # pragma: no cover
    _get_ident = threading.get_ident

MAX_DEPTH = 400  # deeper stacks are cut at the outer end (the project's code is at the inner end)


def available():
    """Why sampling cannot run here, or "" when it can."""
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGPROF"):
        return "this platform has no ITIMER_PROF"
    if threading.current_thread() is not threading.main_thread():
        return "signal handlers can only be installed from the main thread"
    handler = signal.getsignal(signal.SIGPROF)
    if handler not in (signal.SIG_DFL, signal.SIG_IGN, None):
        return "SIGPROF already has a handler (%r)" % (handler,)
    if signal.getitimer(signal.ITIMER_PROF)[0] > 0:
        return "ITIMER_PROF is already armed"
    return ""


class Sampler:
    def __init__(self, interval=0.001, wait_interval=0.005):
        self.interval = float(interval)
        self.wait_interval = float(wait_interval)  # 0: no waiting sampler
        self.waits = None  # the waiting sampler (waiting.py), while it runs and after
        self.stacks = {}  # (phase, test index, stack) -> [seconds, samples]
        self.tests = []
        self._test_index = {}
        self.walls = {}  # (phase, test index) -> main-thread wall seconds
        self.phase = None
        self.phase_started = None  # perf_counter() at the phase's start (the waiting sampler's ticks straddle it)
        self.test = -1
        self.base = None  # the frame that called start(): frames from it outwards are the runner's
        self.errors = []
        self.samples = 0
        self.sampled_seconds = 0.0
        self.handler_seconds = 0.0
        self.thread_samples = 0
        self.installed = False
        self._main = _get_ident()
        self._last_main = 0.0
        self._last_thread = {}  # ident -> runnable seconds at the last sample
        self._last_cpu = {}  # ident -> CPU seconds at the last sample
        self._prev_handler = None
        self._prev_timer = (0.0, 0.0)
        self._replaced_noted = False
        self._clocks: Optional[ThreadClocks] = None
        self._thread_hook_set = False
        self._busy = False

    # -- lifetime
    def install(self):
        why = available()
        if why:
            return why
        self._prev_handler = signal.getsignal(signal.SIGPROF)
        self._prev_timer = signal.getitimer(signal.ITIMER_PROF)
        clocks = self._clocks = ThreadClocks()
        self._baseline_threads(clocks)
        self._last_main = clocks.main(self._main)
        # Python's default: no SA_RESTART. A wait interrupted by the signal returns EINTR, Python
        # runs the handler and retries the call (PEP 475); with SA_RESTART the kernel would
        # restart a futex wait itself and a main thread in join() would never sample a worker.
        signal.signal(signal.SIGPROF, self._handler)
        # the timer runs for the whole session: phases shorter than a tick are still sampled
        # with the probability their CPU time deserves
        self._thread_hook_set = _thread_profile_hook() is None
        if self._thread_hook_set:
            threading.setprofile(_block_sigprof_in_new_thread)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        self.installed = True
        if self.wait_interval > 0:
            from .waiting import WaitSampler

            waits = WaitSampler(self, self.wait_interval, os.getcwd())
            why = waits.start()
            if why:
                self.errors.append("waiting time not measured: %s" % why)
            else:
                self.waits = waits
        return ""

    def uninstall(self):
        if not self.installed:
            return
        self.installed = False
        if self.waits is not None:
            self.waits.stop()
        try:
            if self._clocks is not None:
                self._clocks.close()
        except Exception:
            pass
        if self._thread_hook_set and _thread_profile_hook() is _block_sigprof_in_new_thread:
            threading.setprofile(None)
        try:
            signal.setitimer(signal.ITIMER_PROF, 0.0, 0.0)
            if signal.getsignal(signal.SIGPROF) == self._handler or self._replaced_noted:
                signal.signal(signal.SIGPROF, self._prev_handler if self._prev_handler is not None else signal.SIG_DFL)
            if self._prev_timer[0] > 0:
                signal.setitimer(signal.ITIMER_PROF, *self._prev_timer)
        except (OSError, ValueError):
            pass

    def start(self, nodeid, phase, base=None):
        if self.installed and signal.getsignal(signal.SIGPROF) != self._handler:
            # a test replaced the handler and left it: take it back for the next phase
            if not self._replaced_noted:
                self.errors.append("%s: a test replaced the SIGPROF handler; sampling resumed at this phase" % nodeid)
                self._replaced_noted = True
            signal.signal(signal.SIGPROF, self._handler)
            signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        idx = self._test_index.get(nodeid)
        if idx is None:
            idx = self._test_index[nodeid] = len(self.tests)
            self.tests.append(nodeid)
        self.base = base
        self.test = idx
        self.phase_started = perf_counter()
        self.phase = phase

    def stop(self, nodeid, phase):
        if self.phase is not None and self.phase_started is not None:
            key = (self.phase, self.test)
            self.walls[key] = self.walls.get(key, 0.0) + perf_counter() - self.phase_started
        self.phase = None
        self.base = None

    # -- sampling
    def _baseline_threads(self, clocks):
        self._last_thread = {}
        for ident in current_frames():
            if ident != self._main:
                cpu = clocks.cpu(ident)
                if cpu is not None:
                    self._last_cpu[ident] = cpu
                    self._last_thread[ident] = cpu + clocks.delay(ident)

    def _handler(self, signum, frame):
        if self._busy:
            return  # Python handlers can be re-entered: a tick during a slow sample is the next sample's
        self._busy = True
        try:
            self._sample(frame)
        finally:
            self._busy = False

    def _sample(self, frame):
        clocks = self._clocks
        if clocks is None:
            return  # not installed
        now = clocks.main(self._main)
        weight = now - self._last_main
        phase = self.phase
        if phase is not None:
            test = self.test
            stacks = self.stacks
            if frame is not None and weight > 0:
                key = (phase, test, _stack(frame, self.base))
                entry = stacks.get(key)
                if entry is None:
                    stacks[key] = [weight, 1]
                else:
                    entry[0] += weight
                    entry[1] += 1
                self.samples += 1
                self.sampled_seconds += weight
            self._sample_threads(clocks, phase, test)
        else:
            self._baseline_threads(clocks)
        end = clocks.main(self._main)
        self.handler_seconds += end - now
        self._last_main = end

    def _sample_threads(self, clocks, phase, test):
        frames = current_frames()
        if len(frames) < 2:
            return
        # Stacks first, while nothing has let the GIL go: reading a run delay does (os.pread),
        # and a thread that finishes meanwhile leaves frames that crash the walk.
        taken = []
        for ident, f in frames.items():
            if ident == self._main:
                continue
            cpu = clocks.cpu(ident)
            if cpu is None:
                continue  # no clock for this thread: its CPU cannot be told from its waits
            ran = cpu != self._last_cpu.get(ident)
            self._last_cpu[ident] = cpu
            taken.append((ident, cpu, _stack(f, None) if ran else None))
        del frames, f
        last = self._last_thread
        stacks = self.stacks
        for ident, cpu, stack in taken:
            run = cpu + clocks.delay(ident)
            prev = last.get(ident, 0.0)
            # a new thread (or a reused ident, whose clock restarted) counts from its start
            weight = run - prev if run >= prev else run
            last[ident] = run
            if weight <= 0 or stack is None:
                continue  # no CPU since the last sample: a run delay alone is no sample of its own
            key = (phase, test, stack)
            entry = stacks.get(key)
            if entry is None:
                stacks[key] = [weight, 1]
            else:
                entry[0] += weight
                entry[1] += 1
            self.thread_samples += 1
            self.sampled_seconds += weight

    # -- output
    def export(self):
        """The contract's "samples" object: frames table and weighted stacks (outermost first)."""
        frames: List[List[Any]] = []  # [file, first line, name]
        index: Dict[Any, int] = {}  # code object -> its row in frames

        def encode(stack):
            encoded = []
            for code, line in stack:
                fi = index.get(code)
                if fi is None:
                    fi = index[code] = len(frames)
                    frames.append([to_project(code.co_filename), code.co_firstlineno, code.co_name])
                encoded.append([fi, line])
            return encoded

        out = [
            [phase, test, encode(stack), round(seconds, 9), count]
            for (phase, test, stack), (seconds, count) in self.stacks.items()
        ]
        waits = None
        if self.waits is not None:
            w = self.waits
            waits = {
                "interval": w.interval,
                "ticks": w.ticks,
                "seconds": round(w.seconds, 6),
                "covered": round(w.covered, 6),
                "errors": list(w.errors),
                # [phase, test index, stack, seconds, ticks, thread ("main" or "other"), GIL (bool)]
                "stacks": [
                    [phase, test, encode(stack), round(sec, 9), n, "main" if main else "other", gil]
                    for (phase, test, stack, main, gil), (sec, n) in w.items()
                ],
            }
        count = self.samples + self.thread_samples
        return {
            "timer": "ITIMER_PROF",
            "interval": self.interval,
            "mean_interval": (self.sampled_seconds / count) if count else None,
            "samples": count,
            "sampled_seconds": round(self.sampled_seconds, 6),
            "handler_seconds": round(self.handler_seconds, 6),
            "clock": self._clocks.kind if self._clocks is not None else None,
            "thread_cpu": thread_clock_available() or (self._clocks is not None and self._clocks.kind == "runnable"),
            "tests": list(self.tests),
            "frames": frames,
            "stacks": out,
            "walls": [[phase, test, round(sec, 9)] for (phase, test), sec in self.walls.items()],
            "waits": waits,
        }


def _thread_profile_hook():
    getter = getattr(threading, "getprofile", None)  # 3.10+
    return getter() if getter is not None else getattr(threading, "_profile_hook", None)


def _block_sigprof_in_new_thread(frame, event, arg):
    sys.setprofile(None)
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPROF])
    except (AttributeError, OSError, ValueError):
        pass


def _stack(frame, base):
    out = []
    f = frame
    n = 0
    while f is not None and f is not base and n < MAX_DEPTH:
        out.append((f.f_code, _line(f)))
        f = f.f_back
        n += 1
    out.reverse()
    return tuple(out)


_UNNUMBERED: Dict[Any, Dict[int, int]] = {}  # code -> {offset: line} for instructions with no line


def _line(frame):
    line = frame.f_lineno
    if line is not None:
        return line
    code = frame.f_code
    table = _UNNUMBERED.get(code)
    if table is None:
        table = _UNNUMBERED[code] = _unnumbered_lines(code)
    return table.get(frame.f_lasti, 0)


def _unnumbered_lines(code):
    """Lines for a code object's instructions that have none: a backward jump (a loop's back
    edge) takes the line of the instruction it jumps to, the loop's header; anything else the line
    of the instruction before it."""
    lines_of = getattr(code, "co_lines", None)
    if lines_of is None:
        return {}
    at = {}
    try:
        for start, end, line in lines_of():
            for offset in range(start, end, 2):
                at[offset] = line
        out = {}
        before = 0
        for ins in dis.get_instructions(code):
            line = at.get(ins.offset)
            if line is not None:
                before = line
                continue
            backward = "JUMP" in ins.opname and isinstance(ins.argval, int) and ins.argval < ins.offset
            target = ins.argval if backward else None
            out[ins.offset] = at.get(target) or before if target is not None else before
        return out
    except Exception:  # an odd code object: its unnumbered lines stay unknown (0)
        return {}
