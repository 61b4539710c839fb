"""The unittest driver: the project's unittest suite, run as `python -m unittest ARGS` runs it.

ARGS are unittest's own (`discover -s tests -p "test_*.py"`, module, class or method names, file
paths; none: discovery from the project root), parsed by unittest's own TestProgram. An argument
holding `::` is a test id the host chose (`tests/test_x.py::Class::test_method`): the suite is
loaded as the other arguments say, then only those tests run.

Test ids are pytest's for the same tests: the test module's file relative to the project root,
the class, the method (a doctest: its file and name; a module outside the project: its name).

Phases, as pytest maps a unittest.TestCase:
- setup: setUpModule and setUpClass (for the first test of its module or class), Django's
  per-test fixtures, setUp (and asyncSetUp of IsolatedAsyncioTestCase);
- call: the test method;
- teardown: tearDown and the cleanups; tearDownClass and tearDownModule, which unittest runs
  when the next test belongs to another class or module, belong to the last test's teardown
  (a test's teardown stays open until the next test begins).

How: the loaded suite is flattened into one PhasedSuite, a TestSuite whose class and module
fixture steps open each test's setup; unittest's own fixture logic runs unchanged. Each test's
`_callSetUp`, `_callTestMethod`, `_callTearDown`, `doCleanups` and `_callCleanup` (unittest's
steps since 3.8, the ones IsolatedAsyncioTestCase overrides to run them in its event loop) are
wrapped on the instance to switch phase and to note in which phase an exception left a step.

Outcomes: passed; failed (the test method failed or raised); error (setup or teardown raised,
as pytest says: `setup: ...`); skipped; xfailed (expected failure); an unexpected success is
failed, as unittest counts it. A module that cannot be imported is a collection error, and the
other tests run. Exit status, as pytest's: 0 all passed, 1 some failed, 5 no test ran, 4 bad
arguments, 2 interrupted.
"""

import contextlib
import os
import sys
import traceback
import unittest
import warnings

from . import state
from .clocks import getframe, perf_counter
from .session import Session, left_out_ids
from .unittest_suite import flatten, node_id, one_line

SELECT = "::"
_STEPS = (  # (method, phase, whether the phase ends with it)
    ("_callSetUp", "setup", True),
    ("_callTestMethod", "call", True),
    ("_callTearDown", "teardown", False),
    ("doCleanups", "teardown", False),
    ("_callCleanup", "teardown", False),
)


def run(args):
    """The probe's entry: returns the exit status."""
    # before any test module is imported: the call counter's import hook must see the project's modules
    session = Session(state.out_dir, state.mode, state.options)
    driver = Driver(session, args)
    try:
        unittest.main(module=None, argv=["python -m unittest"] + driver.names, testRunner=driver.runner(), exit=False)
    except SystemExit as exc:  # unittest's argument parser said no (its message is on stderr)
        driver.exitstatus = 4 if exc.code else driver.exitstatus
    except KeyboardInterrupt:
        driver.exitstatus = 2
    except Exception:  # the runner broke outside any test (a test's own exception is its outcome)
        traceback.print_exc()
        driver.exitstatus = 3
    finally:
        session.finish(driver.exitstatus)
    return driver.exitstatus


class Driver:
    """Runs a loaded suite with the probe's phases and outcomes; the unittest and Django drivers share it."""

    def __init__(self, session, args):
        self.session = session
        self.names = [a for a in args if SELECT not in a]
        self.chosen = set(a for a in args if SELECT in a)
        self.root = os.getcwd()
        self.exitstatus = 3  # until a run says otherwise: something broke outside the tests
        self.base = None  # the suite's run frame: samples are cut there
        self.current = None  # node id of the test in progress
        self.phase = None  # its open phase
        self._t0 = 0.0
        self.log = True  # False during the memory pass's repetitions
        self._ids = {}  # id(test) -> node id
        self._taken = set()  # the node ids given so far
        self._tests = []  # keeps the tests alive, so id() stays theirs
        self.failed_phase = {}  # node id -> the phase whose step an exception left first
        self.started = set()
        self.fixture_error = ""

    # -- unittest's TestProgram calls runner().run(suite)
    def runner(self):
        driver = self

        class _Runner:
            def __init__(self, failfast=False, buffer=False, warnings=None, tb_locals=False, **_ignored):
                self.options = {"failfast": failfast, "buffer": buffer, "warnings": warnings, "tb_locals": tb_locals}

            def run(self, suite):
                return driver.run(suite, **self.options)

        return _Runner

    def run(self, suite, failfast=False, buffer=False, warnings=None, tb_locals=False):
        tests, errors = flatten(suite)
        ids = [self.node_id(t) for t in tests]
        if self.chosen:
            # other modules' import errors are not these tests' (the whole suite's run reported them)
            tests = [t for t, n in zip(tests, ids) if n in self.chosen]
            ids = [self._ids[id(t)] for t in tests]
            errors = []
        left_out = left_out_ids()
        if left_out:
            # the timing run restarted past a hanging test: the ids given are left out, exactly
            tests = [t for t, n in zip(tests, ids) if n not in left_out]
            ids = [self._ids[id(t)] for t in tests]
        self.session.outcomes.collected(ids, errors)
        result = ProbeResult(self)
        result.failfast, result.buffer, result.tb_locals = bool(failfast), bool(buffer), bool(tb_locals)
        if state.mode == "collect":
            self.exitstatus = 0 if tests else 5
            return result
        phased = PhasedSuite(tests, self)
        unittest.registerResult(result)
        with _warnings_as_unittest(warnings):
            result.startTestRun()
            wanted = self.session.begin_loop()
            if wanted is not None:  # a spare's worker (spare.py): only these, in the suite's order
                tests, ids = _only(tests, ids, wanted)
                phased = PhasedSuite(tests, self)
            try:
                phased(result)
            finally:
                self.session.end_loop()
                result.stopTestRun()
            if tests and not result.shouldStop:
                self.session.repeat(lambda keep=None: self._run_unlogged(phased, tests, ids, keep))
        if not tests:
            self.exitstatus = 5
        else:
            self.exitstatus = 0 if result.wasSuccessful() and not errors else 1
        return result

    def _run_unlogged(self, phased, tests, ids, keep=None):
        """The tests once more, unlogged: only those in `keep` (node ids) when given, in the
        suite's order; their class and module fixtures run again around them, as in the suite."""
        if keep is not None:
            phased = PhasedSuite([t for t, n in zip(tests, ids) if n in keep], self)
        self.log = False
        try:
            again = unittest.TestResult()
            phased(again)
            return len(again.failures) + len(again.errors) + len(again.unexpectedSuccesses)
        finally:
            self.log = True

    # -- test ids
    def node_id(self, test):
        key = id(test)
        found = self._ids.get(key)
        if found is not None:
            return found
        nodeid = node_id(test, self.root)
        if nodeid in self._taken:  # the same test loaded twice: ids stay unique
            n = 2
            while "%s[%d]" % (nodeid, n) in self._taken:
                n += 1
            nodeid = "%s[%d]" % (nodeid, n)
        self._ids[key] = nodeid
        self._taken.add(nodeid)
        self._tests.append(test)
        return nodeid

    # -- phases
    def begin(self, test):
        """The test's turn: the previous test is done, this one's setup opens."""
        nodeid = self.node_id(test)
        if nodeid == self.current:
            return
        self.finish_current()
        self.current = nodeid
        self._wrap(test, nodeid)
        self.open("setup")

    def open(self, phase):
        if self.phase == phase or self.current is None:
            return
        self.close()
        self.phase = phase
        self._t0 = perf_counter()
        self.session.start(self.current, phase, self.base)

    def close(self):
        if self.phase is None:
            return
        phase, self.phase = self.phase, None
        self.session.stop(self.current, phase)
        if self.log:
            self.session.outcomes.add_seconds(self.current, perf_counter() - self._t0)

    def finish_current(self):
        nodeid = self.current
        if nodeid is None:
            return
        self.close()
        if self.log:
            if nodeid not in self.started:
                # its class's or module's setup failed, so unittest never ran it
                self.session.outcomes.outcome(nodeid, "error", "setup: %s" % (self.fixture_error or "not run"))
            self.session.outcomes.finished(nodeid)
        self.current = None

    def _wrap(self, test, nodeid):
        if getattr(test, "_perfscan_probe_steps", False):
            return  # a repetition runs the same instance again
        for name, phase, ends in _STEPS:
            step = getattr(test, name, None)
            if step is not None:
                setattr(test, name, self._step(step, nodeid, phase, ends))
        try:
            test._perfscan_probe_steps = True
        except AttributeError:
            pass

    def _step(self, step, nodeid, phase, ends):
        driver = self

        def wrapped(*args, **kwargs):
            if driver.current != nodeid:  # run outside the suite's order (by another test): no phase of its own
                return step(*args, **kwargs)
            driver.open(phase)
            try:
                return step(*args, **kwargs)
            except BaseException:
                driver.failed_phase.setdefault(nodeid, phase)
                raise
            finally:
                if ends and driver.current == nodeid:
                    driver.close()

        return wrapped

    # -- outcomes (from ProbeResult)
    def test_started(self, test):
        if self.log:
            self.started.add(self.node_id(test))

    def record(self, test, outcome, message=""):
        if self.log:
            nodeid = self.node_id(_case(test))
            self.started.add(nodeid)  # a skipped test is not started (3.12+) but has run its course
            self.session.outcomes.outcome(nodeid, outcome, message)

    def failure(self, test, err, subtest=False):
        if not self.log:
            return
        if not isinstance(test, unittest.TestCase):
            # a class or module fixture (setUpClass, tearDownModule, ...): the test whose phase is open
            self.fixture_error = "%s: %s" % (getattr(test, "description", test), one_line(err))
            if self.current is not None:
                self.session.outcomes.outcome(
                    self.current, "error", "%s: %s" % (self.phase or "setup", self.fixture_error)
                )
            return
        nodeid = self.node_id(_case(test))
        self.started.add(nodeid)
        phase = "call" if subtest else self.failed_phase.get(nodeid) or (self.phase if nodeid == self.current else None)
        if phase in (None, "call"):
            self.session.outcomes.outcome(nodeid, "failed", one_line(err))
        else:
            self.session.outcomes.outcome(nodeid, "error", "%s: %s" % (phase, one_line(err)))


def _only(tests, ids, wanted):
    kept = [(t, n) for t, n in zip(tests, ids) if n in wanted]
    return [t for t, _ in kept], [n for _, n in kept]


def _case(test):
    """A subtest's own test case."""
    return getattr(test, "test_case", test)


class PhasedSuite(unittest.TestSuite):
    """One flat suite whose fixture steps open each test's setup (see the module's doc)."""

    _cleanup = False  # keep the tests: the memory pass's repetitions run them again

    def __init__(self, tests, driver):
        super().__init__(tests)
        self._driver = driver
        self._upcoming = None

    def run(self, result, debug=False):
        self._driver.base = getframe(0)
        try:
            return super().run(result, debug)
        finally:
            self._driver.finish_current()
            self._driver.base = None

    # TestSuite's fixture steps (private, the same from 3.8 to 3.13), typeshed lists none of them
    def _tearDownPreviousClass(self, test, result):
        self._upcoming = test  # the previous test's teardown is still open around tearDownClass
        super()._tearDownPreviousClass(test, result)  # type: ignore[misc]

    def _handleModuleTearDown(self, result):
        super()._handleModuleTearDown(result)  # type: ignore[misc]
        if self._upcoming is not None:
            self._driver.begin(self._upcoming)  # before its module's setUpModule

    def _handleClassSetUp(self, test, result):
        self._driver.begin(test)  # before its class's setUpClass
        super()._handleClassSetUp(test, result)  # type: ignore[misc]


class ProbeResult(unittest.TestResult):
    """unittest's result, every outcome also handed to the driver."""

    def __init__(self, driver):
        super().__init__()
        self._driver = driver

    def startTest(self, test):
        super().startTest(test)
        self._driver.test_started(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._driver.record(test, "passed")

    def addError(self, test, err):
        super().addError(test, err)
        self._driver.failure(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._driver.failure(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._driver.failure(test, err, subtest=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._driver.record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._driver.record(test, "xfailed", one_line(err))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._driver.record(test, "failed", "unexpected success")


@contextlib.contextmanager
def _warnings_as_unittest(action):
    """Warnings filtered as unittest's text runner does (`default` unless -W was given)."""
    action = action if action is not None or sys.warnoptions else "default"
    with warnings.catch_warnings():
        if action:
            warnings.simplefilter(action)
            if action in ("default", "always"):
                warnings.filterwarnings("module", category=DeprecationWarning, message=r"Please use assert\w+ instead.")
        yield
