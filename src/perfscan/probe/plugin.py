"""The pytest plugin: records collection and outcomes, and hands each test phase to the pass's recorder."""

import json
import os
from typing import Optional

import pytest

from . import projectmap, state
from .clocks import perf_counter
from .contract import PROGRESS, write_json


class Outcomes:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.tests = {}
        self.collect_errors = []
        self.written = False
        self._progress_fh = None

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
        write_json(
            os.path.join(self.out_dir, "outcomes.json"),
            {
                "tests": self.tests,
                "exitstatus": exitstatus,
                "neutralized": state.options.get("neutralized", []),
                "imports": projectmap.current().report(state.options.get("root") or os.getcwd()),
            },
        )


def _last_line(report):
    text = str(getattr(report, "longreprtext", "") or report.longrepr or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("E "):
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

                self.counter = CallCounter(os.getcwd())
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
