"""The pytest driver: pytest.main with the probe's plugin (plugin.py), after neutralizing what
would distort a profile."""

import importlib.util
import os
import sys

from . import state


def _neutralize():
    """Profiles need one process and no coverage tracer: override parallel workers and coverage."""
    extra, changed = [], []
    if importlib.util.find_spec("xdist") is not None:
        extra += ["-n", "0"]
        changed.append("pytest-xdist: ran with -n 0 (profiles need one process)")
    if importlib.util.find_spec("pytest_cov") is not None:
        extra += ["--no-cov"]
        changed.append("pytest-cov: ran with --no-cov (a coverage tracer distorts profiles)")
    if importlib.util.find_spec("pytest_benchmark") is not None:
        # its storage folder would otherwise appear in the project
        extra += ["--benchmark-storage=file://" + os.path.join(os.path.abspath(state.out_dir), "benchmarks")]
        changed.append("pytest-benchmark: results stored in perfscan's temp folder")
    return extra, changed


def run(args):
    try:
        import pytest
    except ImportError:
        print("perfscan probe: pytest cannot be imported by this interpreter (%s)" % sys.executable, file=sys.stderr)
        return 4
    extra, changed = _neutralize()
    state.neutralized[:] = changed
    # a module that fails to import stops pytest before any test runs; the others are still worth profiling
    argv = (
        ["-p", "perfscan_probe.plugin", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
        + extra
        + list(args)
    )
    if state.mode == "collect":
        argv.append("--collect-only")
    return int(pytest.main(argv))
