"""The pytest plugin: pytest's hooks, handed to the probe's session (session.py), which the
unittest and Django drivers share."""

import json
import os
import signal

import pytest

from . import state
from .contract import WORKER_STATE, WORKERS_DIR
from .session import Session, left_out_ids


class PytestHooks:
    """Collection and outcomes from pytest's reports; each test phase wrapped, outermost, so the
    recorder sees the whole phase."""

    def __init__(self, session):
        self.session = session
        self.collect_errors = []

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append("%s: %s" % (report.nodeid or "<root>", _last_line(report)))

    def pytest_collection_finish(self, session):
        self.session.outcomes.collected(
            [item.nodeid for item in session.items], self.collect_errors, _rootdir(session.config)
        )

    def pytest_runtest_logreport(self, report):
        outcomes = self.session.outcomes
        outcomes.add_seconds(report.nodeid, getattr(report, "duration", 0.0))
        if report.failed:
            outcomes.outcome(
                report.nodeid,
                "failed" if report.when == "call" else "error",
                ("%s: " % report.when if report.when != "call" else "") + _last_line(report),
            )
        elif report.skipped:
            outcomes.outcome(report.nodeid, "xfailed" if hasattr(report, "wasxfail") else "skipped")
        if report.when == "teardown":
            outcomes.finished(report.nodeid)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.session.start(item.nodeid, "setup")
        try:
            yield
        finally:
            self.session.stop(item.nodeid, "setup")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        self.session.start(item.nodeid, "call")
        try:
            yield
        finally:
            self.session.stop(item.nodeid, "call")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        self.session.start(item.nodeid, "teardown")
        try:
            yield
        finally:
            self.session.stop(item.nodeid, "teardown")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session):
        wanted = self.session.begin_loop()
        if wanted is not None:  # a spare's worker (spare.py): only these, in the loop's order
            session.items[:] = [item for item in session.items if item.nodeid in wanted]
        outcome = yield
        self.session.end_loop()
        interrupted = outcome.excinfo is not None
        stopped = bool(getattr(session, "shouldfail", False) or getattr(session, "shouldstop", False))
        if not interrupted and not stopped and session.items:
            items = list(session.items)
            # keep: the node ids the memory recorder asks to repeat (None: all)
            self.session.repeat(lambda keep=None: _run_unlogged([i for i in items if keep is None or i.nodeid in keep]))

    def pytest_sessionfinish(self, session, exitstatus):
        if state.forked:
            # a fork ends in finish (forkpool.py): fixtures left set up (-x, --maxfail, an
            # interrupt) are torn down first, as pytest's own hook would after this one
            try:
                session._setupstate.teardown_exact(None)
            except Exception:
                pass
        self.session.finish(int(exitstatus))


def _run_unlogged(items):
    """The tests once more, with log=False: outcomes.json and the terminal report stay the measured run's."""
    try:
        from _pytest.runner import runtestprotocol
    except ImportError as exc:
        raise RuntimeError("repetitions not run: %s" % exc) from None
    failures = 0
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        try:
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        except Exception as exc:  # a repetition that breaks ends the repetitions, not the run
            raise RuntimeError("repetition of %s: %s" % (item.nodeid, exc)) from None
        if any(r.failed for r in reports):
            failures += 1
    return failures


class Deselect:
    """`--opt deselect=FILE`: leave out the node ids listed in FILE (a JSON list), exactly.
    (pytest's own --deselect matches prefixes: deselecting test_a would drop test_ab too.)"""

    def __init__(self, ids):
        self.ids = ids

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        kept = [item for item in items if item.nodeid not in self.ids]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item.nodeid in self.ids])
            items[:] = kept


_NOT_THE_FAILURE = ("(Use -v", "Use -v to get", "(+ where", "+ where", "+  where", "(pytest-", "...Full output")


def _rootdir(config):
    """pytest's rootdir, which its node ids are relative to (`rootpath` from pytest 6.1)."""
    rootdir = getattr(config, "rootpath", None) or getattr(config, "rootdir", None)
    return str(rootdir) if rootdir else None


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


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        _worker_state(str(workerinput.get("workerid") or "gw"))
        mode = state.mode
    else:
        # the xdist controller runs no test: its workers record, it keeps the outcomes
        mode = state.mode if not _has_workers(config) else "collect"
    hooks = PytestHooks(Session(state.out_dir, mode, state.options))
    config.pluginmanager.register(hooks, "perfscan-session")
    if workerinput is None and _has_workers(config):
        config.pluginmanager.register(XdistController(hooks.session), "perfscan-xdist")
    left_out = left_out_ids()
    if left_out:
        config.pluginmanager.register(Deselect(left_out), "perfscan-deselect")


def _has_workers(config):
    try:
        return bool(config.getoption("numprocesses", None)) and WORKER_STATE in os.environ
    except Exception:
        return False


def _worker_state(worker_id):
    """An xdist worker: the probe's state from the controller, and a folder of its own."""
    raw = json.loads(os.environ[WORKER_STATE])
    state.mode = raw["mode"]
    state.options.update(raw.get("options") or {})
    state.out_dir = os.path.join(raw["out_dir"], WORKERS_DIR, worker_id)
    os.makedirs(state.out_dir, exist_ok=True)
    from .__main__ import _terminate

    signal.signal(signal.SIGTERM, _terminate)  # the host's timeout: the worker saves what it measured


class XdistController:
    """The controller collects nothing itself: the workers' collection is the run's."""

    def __init__(self, session):
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.session.outcomes.collected(list(ids), [], _rootdir(node.config))
