"""The Django driver: the project's tests run by Django's own test runner, as `manage.py test ARGS`.

What `manage.py test` does, in order, done the same way here: DJANGO_SETTINGS_MODULE as manage.py
sets it (`os.environ.setdefault`: the environment's value wins; the host read manage.py's with
`ast` and passes it as --django-settings), `--settings` and `--pythonpath` applied first,
`django.setup()`, the test command's own argument parser (so the TEST_RUNNER's options are
accepted), then `TestRunner(**options).run_tests(labels)`: Django builds the suite, creates the
test databases (sqlite in memory unless the settings name a test database) and runs its checks.

One change: the runner's `run_suite` is the probe's unittest loop (unittest_driver.Driver), so
each test's phases and outcomes are recorded as for any unittest suite; the databases' creation
and the checks come before the first test and belong to no test's phases. Tests run in one process
(`--parallel` is set back to one and the report says so). Arguments holding `::` are test ids the
host chose; the other arguments are the test command's.

Exit status: 0 all passed, 1 some failed, 5 no test ran, 4 bad arguments or a TEST_RUNNER without
run_suite, 3 Django could not be set up or the run broke outside a test.
"""

import argparse
import os
import sys
import traceback

from . import state
from .session import Session
from .unittest_driver import Driver

PARALLEL_NOTE = "Django's --parallel: ran in one process (profiles need one process)"


def run(args, settings_module):
    # before Django imports the project's apps: the call counter's import hook must see them
    session = Session(state.out_dir, state.mode, state.options)
    driver = Driver(session, args)
    try:
        driver.exitstatus = _run(driver, settings_module)
    except KeyboardInterrupt:
        driver.exitstatus = 2
    except SystemExit as exc:  # a management command's own exit
        driver.exitstatus = exc.code if isinstance(exc.code, int) else 3
    except Exception:
        traceback.print_exc()
        driver.exitstatus = 3
    finally:
        session.finish(driver.exitstatus)
    return driver.exitstatus


def _run(driver, settings_module):
    if settings_module:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    # what Django's ManagementUtility reads before anything else
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument("--settings")
    early.add_argument("--pythonpath")
    early.add_argument("--testrunner")
    known, _ = early.parse_known_args(driver.names)
    if known.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = known.settings
    if known.pythonpath:
        sys.path.insert(0, known.pythonpath)

    import django
    from django.conf import settings
    from django.core.management.base import CommandError
    from django.core.management.commands.test import Command
    from django.test.utils import get_runner

    django.setup()
    command = Command()
    command.test_runner = known.testrunner  # the runner's own options join the parser
    parser = command.create_parser("manage.py", "test")
    try:
        options = vars(parser.parse_args(["--noinput"] + driver.names))
    except CommandError as exc:
        print("perfscan probe: manage.py test: %s" % exc, file=sys.stderr)
        return 4
    labels = options.pop("args", None) or []
    test_runner = get_runner(settings, options.get("testrunner"))
    parallel = options.get("parallel")
    if parallel not in (None, 0, 1, "0", "1"):
        options["parallel"] = 0
        state.neutralized.append(PARALLEL_NOTE)
    runner = test_runner(**options)
    if not hasattr(runner, "run_suite"):
        print(
            "perfscan probe: the test runner %s.%s has no run_suite(); perfscan runs Django's tests through "
            "DiscoverRunner's" % (test_runner.__module__, test_runner.__name__),
            file=sys.stderr,
        )
        return 4

    def run_suite(suite, **kwargs):
        return driver.run(
            suite,
            failfast=getattr(runner, "failfast", False),
            buffer=getattr(runner, "buffer", False),
        )

    runner.run_suite = run_suite
    failures = runner.run_tests(labels)
    if driver.exitstatus == 5:
        return 5
    return 1 if failures else driver.exitstatus
