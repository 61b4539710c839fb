"""Waiting time: a wall-clock sampler thread that tells a thread's waiting from its running.

Why this shape:
- The CPU sampler (sampler.py) runs on ITIMER_PROF, which ticks only while the process uses CPU:
  a thread blocked in a socket, a sleep, a lock or a query to a database server is never
  sampled there. This sampler wakes on the wall clock (every `interval`, 5 ms by default) in a
  thread of its own and reads every thread's stack (sys._current_frames) and its runnable clock
  (its CPU clock plus, on Linux, the time it spent waiting for a core: the CPU sampler's
  clocks). Over an interval of wall time dt, a thread whose runnable clock advanced by r was
  not running for dt - r: that waiting goes to the stack the thread is in at the tick.
  (A wall-clock profiler that runs in the profiled thread attributes whole intervals of wall
  time with no split; reading the OS thread state instead would be fooled by the sampler
  itself: while it holds the GIL every thread that wants the GIL sleeps.)
- Sums telescope: over a phase, a thread's waiting is its wall time less its runnable time,
  exactly, whatever the ticks' jitter; only which stack gets it is sampled. A tick whose
  clocks, read a little apart, say the thread ran more than dt carries the excess to the next
  tick instead of dropping it, so jitter adds no bias.
- The GIL, apart: a thread ready to run but kept off the GIL stands where the interpreter let it
  go, at a loop's backward jump or a function's start, never inside a call; waiting seen there
  is filed as waiting for the GIL. A thread kept off the GIL just after a call returns cannot be
  told from one still blocked in the call: that counts as waiting in the call.
- Threads working for the test: while other threads do project work (a pool's workers, an app
  in a server thread), the main thread's waiting is the time their work takes. That waiting is
  given to them (the main thread's waiting in a tick is reduced by their runnable and waiting
  time in the same tick), so the same wall time is not counted twice. Other threads' waiting is
  kept only where their stack holds project code (an idle executor worker or a server's select
  loop is not time the tests spent in the project), and only for as much of the tick as the
  main thread waited too: while the main thread runs, another thread's waiting holds nothing up
  (a server thread idling for the test's next request, a worker blocked on a lock the main
  thread holds).
- Invisible to the tests: a bare `_thread` thread (tests that count threading.enumerate() do
  not see it), SIGPROF blocked in it (the CPU sampler's signal must reach the main thread), and
  the real clocks and sleep (clocks.py), whatever a test patches.
"""

import dis
import signal
import sys
import threading

from .clocks import ThreadClocks, current_frames, perf_counter, sleep, thread_time
from .projectcode import PROBE_DIR, ProjectFiles
from .sampler import _stack

try:
    import _thread
except ImportError:  # pragma: no cover
    _thread = None  # type: ignore[assignment]

# where the interpreter hands the GIL to another thread without a call in progress
_SWITCH_OPS = frozenset(("JUMP_BACKWARD", "JUMP_ABSOLUTE", "RESUME", "JUMP_BACKWARD_NO_INTERRUPT"))


def available():
    """Why waiting cannot be sampled here, or "" when it can."""
    if _thread is None:
        return "no threads"
    if not hasattr(__import__("time"), "pthread_getcpuclockid"):
        return "no per-thread CPU clock (time.pthread_getcpuclockid)"
    return ""


class WaitSampler:
    """Waiting samples of every thread: (phase, test, stack, main thread?, GIL?) -> [seconds, ticks].

    `owner` is the CPU sampler: its phase, test, base frame and clocks class are shared, so the
    two samplers file time under the same phases and tests and cut stacks at the same frame.
    """

    def __init__(self, owner, interval=0.005, root="."):

        self.owner = owner
        self.interval = float(interval)
        self.project = ProjectFiles(root)
        self.stacks = {}
        self.ticks = 0
        self.seconds = 0.0  # this thread's own CPU time
        self.covered = 0.0  # main-thread waiting given to other threads working meanwhile
        self.errors = []
        self.ident = None
        self._main = threading.main_thread().ident
        self._clocks = ThreadClocks()
        self._last_wall = None
        self._last = {}  # ident -> runnable seconds at the last tick
        self._last_cpu = {}  # ident -> CPU seconds at the last tick
        self._carry = {}  # ident -> waiting owed back (a tick that read more runnable time than wall time)
        self._switch = {}  # code -> offsets of its switch points
        self._stop = False
        self._done = None
        self.running = False

    # -- lifetime
    def start(self):
        why = available()
        if why:
            return why
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self.running = True
        _thread.start_new_thread(self._run, ())
        return ""

    def stop(self, timeout=1.0):
        if not self.running:
            return
        self._stop = True
        done = self._done
        if done is not None and done.acquire(True, timeout):
            done.release()
        self.running = False
        try:
            self._clocks.close()
        except Exception:
            pass

    def _run(self):
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPROF])
        except (AttributeError, OSError, ValueError):
            pass
        sys.setprofile(None)
        sys.settrace(None)
        self.ident = _thread.get_ident()
        c0 = thread_time()
        try:
            self._last_wall = perf_counter()
            while not self._stop:
                sleep(self.interval)
                if self._stop:
                    break
                try:
                    self._tick()
                except Exception as exc:  # a sampler bug must not end the tests: stop sampling, say why
                    self.errors.append("waiting sampler stopped: %s: %s" % (type(exc).__name__, exc))
                    break
        finally:
            self.seconds += thread_time() - c0
            if self._done is not None:
                self._done.release()

    # -- sampling
    def _tick(self):
        owner = self.owner
        phase, test, base, started = owner.phase, owner.test, owner.base, owner.phase_started
        now = perf_counter()
        dt = now - self._last_wall
        self._last_wall = now
        clocks = self._clocks
        last, carry = self._last, self._carry
        # Stacks first, while nothing has let the GIL go: reading a run delay does (os.pread),
        # and a thread that finishes meanwhile leaves frames that crash a walk. A thread whose
        # CPU clock advanced by the whole interval cannot have waited: its stack is not read.
        taken = []  # (ident, CPU seconds, stack or None, GIL?, at project code?)
        frames = current_frames()
        for ident, frame in frames.items():
            if ident == self.ident:
                continue
            cpu = clocks.cpu(ident)
            if cpu is None:
                continue  # not listed by threading (finishing, or ours): its clock cannot be read safely
            main = ident == self._main
            stack, gil, project = None, False, False
            if phase is not None:
                if not main:
                    project = self.project.innermost(frame) is not None
                busy = cpu - self._last_cpu.get(ident, cpu - dt)
                # the CPU sampler's handler, reading a clock, is the profiler's time, not the test's
                if busy < dt and (project or main) and not frame.f_code.co_filename.startswith(PROBE_DIR):
                    stack = _stack(frame, base if main else None)
                    gil = self._at_switch_point(frame)
            self._last_cpu[ident] = cpu
            taken.append((ident, cpu, stack, gil, project))
        del frames
        seen = set()
        main_wait, main_at = 0.0, None
        others = []  # (CPU, waiting, stack, GIL?) of the other threads at project code in this tick
        for ident, cpu, stack, gil, project in taken:
            run = cpu + clocks.delay(ident)
            seen.add(ident)
            prev = last.get(ident)
            last[ident] = run
            if prev is None or run < prev:
                carry[ident] = 0.0
                continue  # first sight (or a reused ident whose clock restarted): a baseline
            ran = run - prev
            waited = dt - ran + carry.get(ident, 0.0)
            if waited < 0:
                carry[ident] = waited
                waited = 0.0
            else:
                carry[ident] = 0.0
            if phase is None:
                continue
            if ident == self._main:
                main_wait = waited
                if stack is not None:
                    main_at = (stack, gil)
            elif project:
                others.append((ran, waited, stack, gil))
        for ident in [i for i in last if i not in seen]:
            del last[ident]
            carry.pop(ident, None)
            self._last_cpu.pop(ident, None)
        if phase is None:
            return
        self.ticks += 1
        # the part of the interval before the phase started is not the phase's
        inside = (now - started) / dt if dt > 0 and started is not None else 1.0
        scale = 1.0 if inside >= 1.0 else max(inside, 0.0)
        # Another thread's waiting holds the test up only while the main thread waits too (for
        # it, or with it): while the main thread runs, a server thread idling for its next
        # request or a worker blocked on a lock the main thread holds delays nothing.
        held = min(main_wait / dt, 1.0) if dt > 0 else 0.0
        work = 0.0
        for ran, waited, stack, gil in others:
            waited *= held
            work += ran + waited
            if waited > 0 and stack is not None:
                self._add(phase, test, stack, gil, waited * scale, False)
        if main_wait > 0:
            covered = min(main_wait, work)
            self.covered += covered * scale
            if main_at is not None and main_wait - covered > 0:
                self._add(phase, test, main_at[0], main_at[1], (main_wait - covered) * scale, True)

    def _add(self, phase, test, stack, gil, seconds, main):
        if seconds <= 0:
            return
        key = (phase, test, stack, main, gil)
        entry = self.stacks.get(key)
        if entry is None:
            self.stacks[key] = [seconds, 1]
        else:
            entry[0] += seconds
            entry[1] += 1

    def _at_switch_point(self, frame):
        code = frame.f_code
        offsets = self._switch.get(code)
        if offsets is None:
            try:
                offsets = frozenset(i.offset for i in dis.get_instructions(code) if i.opname in _SWITCH_OPS)
            except Exception:
                offsets = frozenset()
            self._switch[code] = offsets
        return frame.f_lasti in offsets

    # -- output
    def items(self):
        return list(self.stacks.items())  # one C call: a tick in progress cannot change it halfway
