"""pytest plugin of bench/truth.py and bench/engines.py: ground truth measured with no profiler.

Loaded into a corpus project's own test run with `-p truth_plugin` (this folder on PYTHONPATH).
$TRUTH_TARGETS (JSON) names what to measure:

- "cpu": [{"function": "pkg.mod:Class.meth", "recursive": bool, "callees": ["pkg.mod:f", ...]}]
  Each function is wrapped where it is looked up (module globals, class attributes) and timed at
  its call sites with perf_counter; the time of its listed direct project callees, called from
  it, is timed too so that the attributable time (inclusive minus callees) can be taken. For a
  recursive function only the outside calls are wrapped.
- "memory": [{"function": "pkg.mod:f"}] the bytes newly held by what the function returned (a
  deep sizeof walk that skips everything reachable from its arguments), the most over its calls;
  [{"value": "pkg.mod:NAME"}] the deep size of a module-level value when the tests start (made
  at import) and when they end (with "growth": true, what one run of the suite added).

$TRUTH_OUT gets a JSON document: the wall and CPU time of the test phases (setup, call,
teardown; the time spent sizing memory plants taken out), seconds per target and per target's
callees, and the memory figures in bytes. Memory sizing wraps outside the CPU timers, so a
function that is both keeps its own time clean.
Standard library and pytest only; never imports perfscan.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

import pytest

_PHASES = {"wall": 0.0, "cpu": 0.0}
_SIZING = {"wall": 0.0, "cpu": 0.0}  # time spent sizing memory plants, taken out of the phases
_SPENT = {}
_CALLEES = {}
_ACTIVE = []
_MEMORY = {}
_VALUES = {}


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    yield from _phase()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    yield from _phase()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    yield from _phase()


def _phase():
    w0, c0 = time.perf_counter(), time.process_time()
    s0 = dict(_SIZING)
    yield
    _PHASES["wall"] += time.perf_counter() - w0 - (_SIZING["wall"] - s0["wall"])
    _PHASES["cpu"] += time.process_time() - c0 - (_SIZING["cpu"] - s0["cpu"])


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


def _timed(key, fn):
    _SPENT.setdefault(key, 0.0)
    _CALLEES.setdefault(key, 0.0)

    def timed(*args, **kwargs):
        _ACTIVE.append(key)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _SPENT[key] += time.perf_counter() - t0
            _ACTIVE.pop()

    timed.__wrapped__ = fn
    return timed


def _callee(parent, name, fn):
    def timed(*args, **kwargs):
        # the callee may be a target too: then its own entry is innermost, the caller's below it
        active = _ACTIVE[:-1] if _ACTIVE and _ACTIVE[-1] == name else _ACTIVE
        if not active or active[-1] != parent:
            return fn(*args, **kwargs)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _CALLEES[parent] += time.perf_counter() - t0

    timed.__wrapped__ = fn
    return timed


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
        key = t["function"]
        _replace(key, lambda fn, key=key: _timed(key, fn), skip_own_module=t.get("recursive", False))
        for callee in t.get("callees", []):
            _replace(callee, lambda fn, key=key, callee=callee: _callee(key, callee, fn))
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
                    "memory": _MEMORY,
                    "values": _VALUES,
                    "exitstatus": int(exitstatus),
                },
                fh,
            )
