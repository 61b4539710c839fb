"""The return hook that catches each phase's memory peak for the memory recorder (memory.py).

How the peak is caught. tracemalloc traces from the start of the test loop (collection is not
traced: the import pass measures import-time work, and module-level data made at import is
measured by the census in census.py). At the start of each phase the peak is reset; a hook runs at
Python function returns (sys.monitoring PY_RETURN from 3.12, sys.setprofile 'return' before)
and compares the traced size with the next high-water mark; on a new mark (1 MiB above the
phase's start, then max(1 MiB, 5% of the phase's growth) above the last snapshot, wider when a
snapshot was slow) it takes a snapshot and at once reduces it to a per-line summary, so only
one full snapshot ever exists. A temporary freed before the test ends is still alive when its
holder returns (the event fires before the frame's locals go), so it is caught; a background
poller misses it (the GIL switch interval is longer than such a temporary lives). Every return
of project and test code is checked until a function gets hot (HOT_RETURNS in a phase); hot
functions, generators' yields and library code are sampled (one in LIB_SAMPLE), because each
check allocates and its allocations are traced too. tracemalloc's own peak for the phase is
recorded beside the snapshot, so a missed peak shows. Once the hook costs too much, it is put in
place only where a phase's memory rises (arm_where_memory_rises).
"""

import gc
import signal
import sys
import threading
import tracemalloc
from typing import Any, Dict

from .attribution import PROBE_DIR
from .sampler import available as sampler_available

LIB_SAMPLE = 16  # one library return in this many is checked
HOT_RETURNS = 200  # checked returns per function and phase before it is sampled too (below 256: small ints)
MONITORING = sys.version_info >= (3, 12)
INF = float("inf")


def install(recorder):
    """Hook Python function returns to snapshot at the recorder's next high-water mark."""
    nxt = recorder._next
    get = tracemalloc.get_traced_memory
    snap = recorder._snapshot
    # co_filename -> 1: every return checked until the function gets hot (project and test code),
    # 0: sampled (libraries), -1: never (the probe's own: the arming callbacks' returns hold nothing
    # of the test's, and inside a comprehension that builds a large list they would be its only
    # checks, a snapshot at each mark)
    kinds: Dict[str, int] = {}
    kind = recorder.classifier.kind
    count = [0]
    events = recorder._events  # [returns seen, next count at which the recorder weighs the hook's cost]
    weigh = recorder._weigh_hook
    calls = recorder._calls  # co_name -> checked returns in this phase (cleared at each phase start)
    live = recorder._live  # [False] once the phase that armed the hook is over

    # Each check allocates (get_traced_memory's tuple and ints) and those allocations are
    # traced, so checks are what the hook costs. Returns of project and test code are checked
    # (a temporary's holder returns there) until a function has returned HOT_RETURNS times in
    # the phase (deep recursion, tight helpers); past that, and in libraries, one return in
    # LIB_SAMPLE is checked. The counters stay small ints, which allocate nothing.
    def wanted(code):
        every = kinds.get(code.co_filename)
        if every is None:
            name = code.co_filename
            every = kinds[name] = -1 if name.startswith(PROBE_DIR) else 1 if kind(name) != "l" else 0
        if every > 0:
            n = calls.get(code.co_name, 0)
            if n < HOT_RETURNS:
                calls[code.co_name] = n + 1
                return True
        elif every < 0:
            return False
        c = count[0] + 1
        if c < LIB_SAMPLE:
            count[0] = c
            return False
        count[0] = 0
        return True

    if sys.version_info >= (3, 12):  # MONITORING, spelled so the checker knows sys.monitoring
        mon = sys.monitoring
        if recorder._tool_id is None:
            for tid in (4, 3, 5, 2):
                try:
                    mon.use_tool_id(tid, "perfscan-memory")
                except ValueError:
                    continue
                recorder._tool_id = tid
                break
            if recorder._tool_id is None:
                why = "sys.monitoring: no free tool id; peaks are taken at phase ends"
                if why not in recorder.errors:  # armed again at every mark
                    recorder.errors.append(why)
                return

            def on_return(code, offset, retval):
                events[0] += 1
                if events[0] >= events[1]:
                    weigh()
                if wanted(code):
                    cur = get()[0]
                    if cur >= nxt[0]:
                        snap(cur, "return")

            # kept alive here too: the recorder may turn the hook off from inside this callback
            recorder._callback = on_return
            mon.register_callback(recorder._tool_id, mon.events.PY_RETURN, on_return)
        mon.set_events(recorder._tool_id, mon.events.PY_RETURN)
        recorder.hook = "sys.monitoring"
    else:

        def on_event(frame, event, arg):
            if not live[0]:  # a thread the hook was armed in, after its phase: it disarms itself
                sys.setprofile(None)
                return
            # 'return' also fires at every yield: a generator's yields are sampled like library code
            if event == "return":
                events[0] += 1
                if events[0] >= events[1]:
                    weigh()
                code = frame.f_code
                if code.co_flags & 0x20:
                    c = count[0] + 1
                    if c < LIB_SAMPLE:
                        count[0] = c
                        return
                    count[0] = 0
                elif not wanted(code):
                    return
                cur = get()[0]
                if cur >= nxt[0]:
                    snap(cur, "return")

        recorder._profile_fn = on_event
        sys.setprofile(on_event)
        threading.setprofile(on_event)
        recorder.hook = "setprofile"


ARM_TICK = 0.001  # seconds of the process's CPU time between two checks of the arming level


class Arming:
    """What watch_memory() put in place: the collector callback, and the CPU-time timer's
    handler (None when the timer could not be used) with the handler it replaced."""

    def __init__(self, on_collection, on_tick, previous):
        self.on_collection = on_collection
        self.on_tick = on_tick
        self.previous = previous


def arm_where_memory_rises(recorder):
    """Arm the hook where a phase's memory rises: the traced size is compared with the phase's
    arming level (halfway from its start to its next mark, set by the recorder) at the start of
    each garbage collection and at every millisecond of the process's CPU time (ITIMER_PROF), and
    the hook is armed once it is reached. A phase that stays below it, as most do, never pays the
    hook's check at every return.

    Objects the collector tracks (lists, dicts, instances) start a collection every few hundred
    allocations, in the thread that allocates. Bytes and strings start none: a serializer that
    builds megabytes of text would pass its mark unarmed; the timer sees it within a few
    milliseconds of work (the kernel's timer granularity; its handler runs in the main thread,
    where tests run, at its next bytecode boundary). A rise made in one C call (a
    single large buffer) may still pass the mark between two checks: the recorder marks such a
    phase, and the host runs it again with the hook on from its start (catch.py)."""
    get = tracemalloc.get_traced_memory
    level = recorder._arm
    arm = recorder._arm_hook

    def check():
        if level[0] != INF and get()[0] >= level[0]:
            arm()

    return watch_memory(
        check, recorder.errors, "the peak hook is armed by garbage collections alone, not by a CPU-time timer: "
    )


def watch_memory(check, errors, said):
    """Call `check()` at the start of every garbage collection and at every millisecond of the
    process's CPU time (ITIMER_PROF), as arm_where_memory_rises explains; without the timer (the
    project's own SIGPROF use comes first) `said` and why go to `errors`, once."""

    def on_collection(phase, info):
        if phase == "start":
            check()

    def on_tick(signum, frame):
        check()

    gc.callbacks.append(on_collection)
    previous: Any = signal.SIG_DFL  # the handler the tick replaces, put back at the end
    ticking = False
    why = sampler_available()
    if not why:
        try:
            # None: a handler not set from Python, put back as the default
            previous = signal.signal(signal.SIGPROF, on_tick) or signal.SIG_DFL
            ticking = True
            signal.siginterrupt(signal.SIGPROF, False)  # SA_RESTART: a tick restarts what can be restarted
            signal.setitimer(signal.ITIMER_PROF, ARM_TICK, ARM_TICK)
        except (ValueError, OSError) as exc:
            if ticking:
                signal.signal(signal.SIGPROF, previous)
            ticking, why = False, str(exc)
    if why and said + why not in errors:  # arming starts again after a phase hooked from its start
        errors.append(said + why)
    return Arming(on_collection, on_tick if ticking else None, previous)


def stop_arming(arming):
    """Take away what watch_memory() put in place."""
    try:
        gc.callbacks.remove(arming.on_collection)
    except ValueError:
        pass
    if arming.on_tick is not None:
        try:
            ours = signal.getsignal(signal.SIGPROF) is arming.on_tick
            # our timer stops even under a handler a test put in place and left: ticking into it,
            # it would end the process at exit, when Python puts SIGPROF's default action back
            if ours or abs(signal.getitimer(signal.ITIMER_PROF)[1] - ARM_TICK) < 1e-6:
                signal.setitimer(signal.ITIMER_PROF, 0)
            if ours:
                signal.signal(signal.SIGPROF, arming.previous)
        except (ValueError, OSError):
            pass
    arming.on_tick = None


def uninstall(recorder):
    """Remove the hook install() put in place."""
    if sys.version_info >= (3, 12):  # MONITORING, spelled so the checker knows sys.monitoring
        if recorder._tool_id is not None:
            mon = sys.monitoring
            try:
                mon.set_events(recorder._tool_id, 0)
                mon.register_callback(recorder._tool_id, mon.events.PY_RETURN, None)
                mon.free_tool_id(recorder._tool_id)
            except Exception:
                pass
            recorder._tool_id = None
    else:
        if sys.getprofile() is getattr(recorder, "_profile_fn", None):
            sys.setprofile(None)
        threading.setprofile(None)
