"""The pytest plugin: records collection and outcomes, and hands each test phase to the pass's recorder."""

import json
import os
from typing import Optional

import pytest

from . import state
from .clocks import perf_counter
from .contract import PROGRESS, write_json


class Outcomes:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.tests = {}
        self.collect_errors = []
        self.written = False
        self._progress_fh = None
        self.running = None  # (nodeid, perf_counter at its start): what a timeout cut, if it comes

    def pytest_runtest_logstart(self, nodeid, location):
        self.running = (nodeid, perf_counter())

    def pytest_runtest_logfinish(self, nodeid, location):
        self.running = None

    def pytest_collection_finish(self, session):
        nodeids = [item.nodeid for item in session.items]
        write_json(os.path.join(self.out_dir, "collected.json"), {"nodeids": nodeids, "errors": self.collect_errors})

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append("%s: %s" % (report.nodeid or "<root>", _last_line(report)))

    def pytest_runtest_logreport(self, report):
        entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "seconds": 0.0, "message": ""})
        entry["seconds"] += float(getattr(report, "duration", 0.0) or 0.0)
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = ("%s: " % report.when if report.when != "call" else "") + _last_line(report)
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
        if report.when == "teardown":
            entry["done"] = True  # a dump cut short by a timeout also holds the setup of the test that was running
        if report.when == "teardown" and state.mode == "time":
            self._progress(report.nodeid, entry)

    def _progress(self, nodeid, entry):
        """A timing run may die (a crash, SIGKILL) before any dump: one line per finished test,
        appended, keeps what is known. (Rewriting outcomes.json after each test cost O(n^2):
        108 s on a suite of 5,344 tests.)"""
        if self._progress_fh is None:
            self._progress_fh = open(os.path.join(self.out_dir, PROGRESS), "a", encoding="utf-8")
        self._progress_fh.write(json.dumps([nodeid, entry], ensure_ascii=True, separators=(",", ":")) + "\n")
        self._progress_fh.flush()

    def pytest_sessionfinish(self, session, exitstatus):
        if self._progress_fh is not None:
            self._progress_fh.close()
            self._progress_fh = None
        self.dump(int(exitstatus))

    def emergency_dump(self):
        self.dump(None)

    def dump(self, exitstatus=None):
        data = {"tests": self.tests, "exitstatus": exitstatus, "neutralized": state.options.get("neutralized", [])}
        if self.running is not None:
            data["running"] = {"nodeid": self.running[0], "seconds": perf_counter() - self.running[1]}
        write_json(os.path.join(self.out_dir, "outcomes.json"), data)


class Deselect:
    """`--opt deselect=FILE`: leave out the node ids listed in FILE (a JSON list), exactly.
    (pytest's own --deselect matches prefixes: deselecting test_a would drop test_ab too.)"""

    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            self.ids = set(json.load(fh))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        kept = [item for item in items if item.nodeid not in self.ids]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item.nodeid in self.ids])
            items[:] = kept


_NOT_THE_FAILURE = ("(Use -v", "Use -v to get", "(+ where", "+ where", "+  where", "(pytest-", "...Full output")


def _last_line(report):
    """The line that says why a test failed: the first line of the exception (pytest's crash
    message), else the first `E` line of the report, never a hint such as "Use -v to get more diff"
    or an assertion's "+ where" explanation."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    message = str(getattr(crash, "message", "") or "")
    lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not ln.strip().startswith(_NOT_THE_FAILURE)]
    if lines:
        return lines[0][:300]
    text = str(getattr(report, "longreprtext", "") or report.longrepr or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("E ") and not ln[2:].strip().startswith(_NOT_THE_FAILURE):
            return ln[2:].strip()[:300]
    return (lines[-1] if lines else "")[:300]


class PhaseHooks:
    """Wraps setup, call and teardown of each test, outermost, so the recorder sees the whole phase."""

    def __init__(self, recorder):
        self.recorder = recorder

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.recorder.start(item.nodeid, "setup")
        try:
            yield
        finally:
            self.recorder.stop(item.nodeid, "setup")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        self.recorder.start(item.nodeid, "call")
        try:
            yield
        finally:
            self.recorder.stop(item.nodeid, "call")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        self.recorder.start(item.nodeid, "teardown")
        try:
            yield
        finally:
            self.recorder.stop(item.nodeid, "teardown")


class WallClock:
    """The `time` pass: the phases' wall time, and (with --opt count=1) exact call counts.

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

    def start(self, nodeid, phase):
        if self.counter is not None:
            self.counter.start(phase)
        self._t0 = perf_counter()

    def stop(self, nodeid, phase):
        self.wall[phase] += perf_counter() - self._t0
        if self.counter is not None:
            self.counter.stop(phase)

    def pytest_sessionfinish(self, session, exitstatus):
        self.emergency_dump()

    def emergency_dump(self):
        calls = None
        if self.counter is not None:
            self.counter.uninstall()
            calls = self.counter.export()
        write_json(
            os.path.join(self.out_dir, "time.json"), {"phases": self.wall, "calls": calls, "errors": self.errors}
        )


def pytest_configure(config):
    out = state.out_dir
    outcomes = Outcomes(out)
    config.pluginmanager.register(outcomes, "perfscan-outcomes")
    if state.options.get("deselect"):
        config.pluginmanager.register(Deselect(state.options["deselect"]), "perfscan-deselect")
    state.recorders.append(outcomes)
    recorder: Optional[object] = None
    if state.mode == "time":
        recorder = WallClock(out, count=state.options.get("count") == "1")
    elif state.mode == "cpu":
        from .cpu import CpuRecorder

        recorder = CpuRecorder(out)
    elif state.mode == "memory":
        from .memory import MemoryRecorder

        recorder = MemoryRecorder(out, state.options)
    if recorder is not None:
        config.pluginmanager.register(recorder, "perfscan-recorder")
        config.pluginmanager.register(PhaseHooks(recorder), "perfscan-phases")
        state.recorders.insert(0, recorder)
