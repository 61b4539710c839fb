"""Asyncio debug mode for run-time confirmation of blocking calls in async code.

Debug mode logs "Executing <Handle or Task ...> took N seconds" for every callback slower than
the loop's slow_callback_duration; those records confirm the async pass's static findings.
The threshold is lowered to 45 ms (the default, 100 ms, misses short sleeps).

Debug mode stays on whatever runner the tests use: pytest-asyncio 1.x makes its loops with
`asyncio.Runner(debug=False)` unless `--asyncio-debug` is given, and anyio, `asyncio.run(...,
debug=False)` and unittest's IsolatedAsyncioTestCase set it too; every one of them goes through
`BaseEventLoop.set_debug`, which is wrapped to keep it on (the times it was asked off are counted).

A record names the task's outermost coroutine or the callback, not the code that blocked: with
an in-process ASGI transport (httpx's ASGITransport) the app runs inside the test's own task,
and the record names the test. So a watcher thread samples the loop thread's stack while one
callback has run longer than POLL; the samples of a callback that asyncio then logs go with its
record, as the project frames of each distinct stack, innermost first.
"""

import logging
import os
import threading
import time
from typing import Any, Dict, List, Optional

from . import clocks
from .attribution import Classifier
from .contract import write_json

SLOW_SECONDS = 0.045
POLL = 0.01  # how often the watcher looks at running callbacks, and how long one must run to be sampled
MAX_STACKS = 8  # distinct stacks kept per callback
MAX_FRAMES = 40  # project frames kept per stack
MAX_RECORDS = 500

_sleep = time.sleep  # taken now: a test that patches time.sleep must not stop the watcher
_ident = threading.get_ident

_counts = {"loops": 0, "callbacks": 0, "debug_kept_on": 0}
_running: Dict[int, List[Any]] = {}  # thread id -> [start, {stack: samples} or None] of the callback running there
_last: Dict[int, List[Any]] = {}  # thread id -> the entry of the callback that ran last there
_handler = None
_classifier = Classifier("")  # set to the project's root by enable()
_watcher: Optional[threading.Thread] = None


class _Collect(logging.Handler):
    def __init__(self, limit=MAX_RECORDS):
        logging.Handler.__init__(self, logging.DEBUG)
        self.records = []
        self.stacks = []  # per record: [[[[file, line, name], ...innermost first], samples], ...]
        self.limit = limit

    def emit(self, record):
        if len(self.records) >= self.limit:
            return
        try:
            msg = record.getMessage()
        except Exception:
            return
        if msg.startswith("Executing"):
            # asyncio logs right after the callback returns, in the loop's thread: the callback
            # that ran last in this thread is the one the record is about
            entry = _last.pop(_ident(), None)
            sampled = entry[1] if entry is not None else None
            # a long task repr must keep its end ("took N seconds") and its start (where the coroutine is)
            self.records.append(msg if len(msg) <= 4000 else msg[:3000] + " ... " + msg[-900:])
            self.stacks.append(_stacks_json(sampled))


def _stacks_json(sampled):
    if not sampled:
        return []
    ordered = sorted(sampled.items(), key=lambda item: -item[1])
    return [[[list(frame) for frame in stack], count] for stack, count in ordered if stack]


def _project_stack(frame):
    """(file, line, name) of the project frames under `frame`, innermost first."""
    out: List[Any] = []
    f = frame
    while f is not None and len(out) < MAX_FRAMES:
        code = f.f_code
        if _classifier.kind(code.co_filename) == "p":
            out.append((_classifier.rel(code.co_filename), f.f_lineno or 0, code.co_name))
        f = f.f_back
    return tuple(out)


def _watch():
    while True:
        _sleep(POLL)
        if not _running:
            continue
        try:
            _sample()
        except Exception:
            pass  # a sample is worth less than the tests it would disturb


def _sample():
    now = clocks.perf_counter()
    frames = None
    for tid, entry in list(_running.items()):
        if now - entry[0] < POLL:
            continue
        if frames is None:
            frames = clocks.current_frames()
        frame = frames.get(tid)
        if frame is None:
            continue
        stack = _project_stack(frame)
        if _running.get(tid) is not entry:
            continue  # that callback ended while the stack was read
        sampled = entry[1]
        if sampled is None:
            sampled = entry[1] = {}
        if stack in sampled or len(sampled) < MAX_STACKS:
            sampled[stack] = sampled.get(stack, 0) + 1


def _start_watcher():
    global _watcher
    if _watcher is None:
        _watcher = threading.Thread(target=_watch, name="perfscan-asyncio-watch", daemon=True)
        _watcher.start()


def enable():
    global _handler, _classifier
    os.environ["PYTHONASYNCIODEBUG"] = "1"
    import asyncio.base_events as base_events
    import asyncio.events as events

    _classifier = Classifier(os.getcwd())  # the probe runs in the project's root
    loop_class = base_events.BaseEventLoop
    original_init = loop_class.__init__
    original_set_debug = loop_class.set_debug
    original_run = events.Handle._run

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.slow_callback_duration = SLOW_SECONDS
        original_set_debug(self, True)
        _counts["loops"] += 1
        _start_watcher()

    def set_debug(self, enabled):
        if not enabled and getattr(self, "slow_callback_duration", None) == SLOW_SECONDS:
            _counts["debug_kept_on"] += 1  # a runner asked it off after the loop was made
        original_set_debug(self, True)

    def run(self):
        tid = _ident()
        entry = [clocks.perf_counter(), None]
        outer = _running.get(tid)  # a loop run inside a callback (nested loops) has its own entry
        _running[tid] = entry
        _counts["callbacks"] += 1
        try:
            return original_run(self)
        finally:
            if outer is None:
                _running.pop(tid, None)
            else:
                _running[tid] = outer
            _last[tid] = entry

    # the patches are the point: every loop, whoever makes it, runs in debug mode
    loop_class.__init__ = init  # type: ignore[method-assign]
    loop_class.set_debug = set_debug  # type: ignore[method-assign]
    events.Handle._run = run  # type: ignore[method-assign]
    _handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(_handler)
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)


def dump(out_dir):
    if _handler is not None:
        write_json(
            os.path.join(out_dir, "asyncio.json"),
            {
                "records": _handler.records,
                "stacks": _handler.stacks,
                "threshold": SLOW_SECONDS,
                "loops": _counts["loops"],
                "callbacks": _counts["callbacks"],
                "debug_kept_on": _counts["debug_kept_on"],
            },
        )
