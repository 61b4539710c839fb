"""pytest plugin of bench/truth.py and bench/engines.py: ground truth measured with no profiler.

Loaded into a corpus project's own test run with `-p truth_plugin` (this folder on PYTHONPATH).
$TRUTH_TARGETS (JSON) names what to measure:

- "cpu": [{"function": "pkg.mod:Class.meth", "recursive": bool, "callees": ["pkg.mod:f", ...],
  "waits": ["time:sleep", "socket:SocketIO.readinto", "lock:pkg.mod:LOCK"], "threads": "pkg.mod:entry"}]
  Each function is wrapped where it is looked up (module globals, class attributes) and timed at
  its call sites with perf_counter (wall time: what it computed and what it waited); the time of
  its listed direct project callees, called from it, is timed too so that the attributable time
  (inclusive minus callees) can be taken. For a recursive function only the outside calls are
  wrapped. A generator function is timed at each resumption (what its consumer waits for).
  `waits`: the calls it waits in, timed while it is the innermost timed function of its
  thread (a function or method patched where it lives, or a module-level lock replaced by a
  timed one that times each acquisition). `threads`: the function runs in worker threads that
  the main thread's `entry` waits for; its time and waiting are also kept per test phase, apart
  from the main thread's, with the entry's time (bench/truth.py's `shares` scales a test
  phase whose threads hold more time than its wall time, as perfscan does).
- "memory": [{"function": "pkg.mod:f"}] the bytes newly held by what the function returned (a
  deep sizeof walk that skips everything reachable from its arguments), the most over its calls;
  [{"value": "pkg.mod:NAME"}] the deep size of a module-level value when the tests start (made
  at import) and when they end (with "growth": true, what one run of the suite added).

$TRUTH_OUT gets a JSON document: the wall and CPU time of the test phases (setup, call,
teardown; the time spent sizing memory plants taken out), seconds per target and per target's
callees, seconds each target waited ("waited"), the per-phase figures of threaded targets
("by_phase"), and the memory figures in bytes. Memory sizing wraps outside the CPU timers, so a
function that is both keeps its own time clean.
Standard library and pytest only; never imports perfscan.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import threading
import time

import pytest

_PHASES = {"wall": 0.0, "cpu": 0.0}
_SIZING = {"wall": 0.0, "cpu": 0.0}  # time spent sizing memory plants, taken out of the phases
_SPENT = {}
_CALLEES = {}
_WAITED = {}
_LOCAL = threading.local()  # .active: the timed targets running in this thread, innermost last
_GUARD = threading.Lock()  # workers add to the totals side by side
_MAIN = threading.main_thread()
_WAITERS = {}  # wait spec -> targets that list it
_ENTRIES = {}  # entry function -> its threaded targets
_NOW = {"key": None, "w0": 0.0}  # the test phase running: "nodeid|phase"
_BY_PHASE = {}  # "nodeid|phase" -> {"wall", "threads": {target: s}, "waited_threads": {target: s}, "entry": {target: s}}
_MEMORY = {}
_VALUES = {}


def _active():
    stack = getattr(_LOCAL, "active", None)
    if stack is None:
        stack = _LOCAL.active = []
    return stack


def _add(table, key, seconds):
    with _GUARD:
        table[key] = table.get(key, 0.0) + seconds


def _phase_add(field, target, seconds):
    key = _NOW["key"]
    if key is None:
        return
    with _GUARD:
        entry = _BY_PHASE.setdefault(key, {"wall": 0.0, "threads": {}, "waited_threads": {}, "entry": {}})
        entry[field][target] = entry[field].get(target, 0.0) + seconds


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    yield from _phase(item.nodeid + "|setup")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    yield from _phase(item.nodeid + "|call")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    yield from _phase(item.nodeid + "|teardown")


def _phase(key):
    w0, c0 = time.perf_counter(), time.process_time()
    s0 = dict(_SIZING)
    _NOW["key"] = key
    yield
    _NOW["key"] = None
    wall = time.perf_counter() - w0 - (_SIZING["wall"] - s0["wall"])
    _PHASES["wall"] += wall
    _PHASES["cpu"] += time.process_time() - c0 - (_SIZING["cpu"] - s0["cpu"])
    entry = _BY_PHASE.setdefault(key, {"wall": 0.0, "threads": {}, "waited_threads": {}, "entry": {}})
    entry["wall"] += wall


def deep_size(obj, skip):
    """Bytes of obj and everything it reaches through containers and instance dicts, each
    object once, leaving out the ids in skip (which it extends)."""
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in skip:
            continue
        skip.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, type) and not callable(o):
            stack.append(o.__dict__)
    return total


def _reachable(objs):
    seen = set()
    for o in objs:
        deep_size(o, seen)
    return seen


def _timed(key, fn, threaded=False, entry_of=()):
    _SPENT.setdefault(key, 0.0)
    _CALLEES.setdefault(key, 0.0)

    def timed(*args, **kwargs):
        stack = _active()
        stack.append(key)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.perf_counter() - t0
            _add(_SPENT, key, spent)
            stack.pop()
            in_worker = threading.current_thread() is not _MAIN
            if threaded and in_worker:
                _phase_add("threads", key, spent)
            for target in entry_of:
                if not in_worker:
                    _phase_add("entry", target, spent)

    timed.__wrapped__ = fn
    if inspect.isgeneratorfunction(fn) and not threaded:
        return _timed_generator(key, fn)
    return timed


def _timed_generator(key, fn):
    """A generator function's time is spent while its consumer resumes it: each step is timed."""

    def timed(*args, **kwargs):
        steps = fn(*args, **kwargs)
        while True:
            stack = _active()
            stack.append(key)
            t0 = time.perf_counter()
            try:
                item = next(steps)
            except StopIteration as stop:
                return stop.value
            finally:
                _add(_SPENT, key, time.perf_counter() - t0)
                stack.pop()
            yield item

    timed.__wrapped__ = fn
    return timed


def _callee(parent, name, fn):
    def timed(*args, **kwargs):
        # the callee may be a target too: then its own entry is innermost, the caller's below it
        stack = _active()
        active = stack[:-1] if stack and stack[-1] == name else stack
        if not active or active[-1] != parent:
            return fn(*args, **kwargs)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(_CALLEES, parent, time.perf_counter() - t0)

    timed.__wrapped__ = fn
    return timed


def _waited(spec, seconds):
    """Waiting in `spec`, filed under the innermost timed target of this thread when it listed it."""
    stack = _active()
    if not stack or stack[-1] not in _WAITERS.get(spec, ()):
        return
    target = stack[-1]
    _add(_WAITED, target, seconds)
    if threading.current_thread() is not _MAIN:
        _phase_add("waited_threads", target, seconds)


def _waiting(spec, fn):
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _waited(spec, time.perf_counter() - t0)

    timed.__wrapped__ = fn
    return timed


class _TimedLock:
    """A lock that times each acquisition (the wait) and files it like a timed call."""

    def __init__(self, spec, lock):
        self._spec = spec
        self._lock = lock

    def acquire(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self._lock.acquire(*args, **kwargs)
        finally:
            _waited(self._spec, time.perf_counter() - t0)

    def release(self):
        return self._lock.release()

    def locked(self):
        return self._lock.locked()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _install_wait(spec):
    if spec.startswith("lock:"):
        module, name = spec[len("lock:") :].split(":")
        mod = importlib.import_module(module)
        setattr(mod, name, _TimedLock(spec, getattr(mod, name)))
        return
    module, path = spec.split(":")
    owner = importlib.import_module(module)
    parts = path.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    setattr(owner, parts[-1], _waiting(spec, getattr(owner, parts[-1])))


def _sized(key, fn):
    _MEMORY.setdefault(key, 0)

    def sized(*args, **kwargs):
        result = fn(*args, **kwargs)
        w0, c0 = time.perf_counter(), time.process_time()
        held = deep_size(result, _reachable(list(args) + list(kwargs.values())))
        _MEMORY[key] = max(_MEMORY[key], held)
        _SIZING["wall"] += time.perf_counter() - w0
        _SIZING["cpu"] += time.process_time() - c0
        return result

    sized.__wrapped__ = fn
    return sized


def _replace(target, make, skip_own_module=False):
    module, qualname = target.split(":")
    mod = importlib.import_module(module)
    if "." in qualname:
        cls_name, meth = qualname.split(".", 1)
        cls = getattr(mod, cls_name)
        setattr(cls, meth, make(cls.__dict__[meth]))
        return
    fn = getattr(mod, qualname)
    wrapped = make(fn)
    for other in list(sys.modules.values()):
        names = getattr(other, "__dict__", None)
        if not isinstance(names, dict) or (skip_own_module and other is mod):
            continue  # a recursive function's own calls stay unwrapped: only outside calls are timed
        for name, value in list(names.items()):
            if value is fn:
                names[name] = wrapped


def _value(target):
    module, name = target.split(":")
    return deep_size(getattr(importlib.import_module(module), name), set())


def pytest_collection_finish(session):
    targets = json.loads(os.environ.get("TRUTH_TARGETS") or "{}")
    for t in targets.get("cpu", []):
        for spec in t.get("waits", []):
            _WAITERS.setdefault(spec, []).append(t["function"])
        if t.get("threads"):
            _ENTRIES.setdefault(t["threads"], []).append(t["function"])
    for spec in _WAITERS:
        _install_wait(spec)
    timed_keys = {t["function"] for t in targets.get("cpu", [])}
    for t in targets.get("cpu", []):
        key = t["function"]
        _replace(
            key,
            lambda fn, key=key, t=t: _timed(key, fn, bool(t.get("threads")), _ENTRIES.get(key, ())),
            skip_own_module=t.get("recursive", False),
        )
        for callee in t.get("callees", []):
            _replace(callee, lambda fn, key=key, callee=callee: _callee(key, callee, fn))
    for entry, threaded in _ENTRIES.items():
        if entry not in timed_keys:  # an entry that is no target of its own: timed for the threads' figures only
            _replace(entry, lambda fn, e=entry, ts=tuple(threaded): _timed("entry " + e, fn, False, ts))
    for t in targets.get("memory", []):
        if "function" in t:
            _replace(t["function"], lambda fn, key=t["function"]: _sized(key, fn))
        else:
            _VALUES[t["value"]] = [_value(t["value"])]


def pytest_sessionfinish(session, exitstatus):
    for key, sizes in _VALUES.items():
        sizes.append(_value(key))
    out = os.environ.get("TRUTH_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "phases": _PHASES,
                    "spent": _SPENT,
                    "callees": _CALLEES,
                    "waited": _WAITED,
                    "by_phase": _BY_PHASE,
                    "memory": _MEMORY,
                    "values": _VALUES,
                    "exitstatus": int(exitstatus),
                },
                fh,
            )
