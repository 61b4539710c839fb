"""The pytest driver: pytest.main with the probe's plugin (plugin.py), after neutralizing what
would distort a profile."""

import importlib.util
import json
import os
import sys

from . import state
from .contract import WORKER_STATE


def _loaded(module, args):
    """Whether pytest will load the plugin in `module`: installed, and autoloaded or named (the
    user's PYTEST_DISABLE_PLUGIN_AUTOLOAD is kept, and an option of a plugin not loaded is an error)."""
    if importlib.util.find_spec(module) is None:
        return False
    if not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return True
    named = os.environ.get("PYTEST_PLUGINS", "").split(",") + [a for a in args if not a.startswith("-")]
    return any(n.strip() == module or n.strip().startswith(module + ".") for n in named)


def _workers():
    """`--opt workers=N`: the host asks for N xdist workers (a suite too slow for one core)."""
    try:
        return int(state.options.get("workers") or 0)
    except ValueError:
        return 0


def xdist_available(args):
    return _loaded("xdist", list(args) + os.environ.get("PYTEST_ADDOPTS", "").split())


def _neutralize(args):
    """Profiles need one process and no coverage tracer: override parallel workers and coverage."""
    extra, changed = [], []
    args = list(args) + os.environ.get("PYTEST_ADDOPTS", "").split()
    if _loaded("xdist", args):
        workers = _workers()
        if workers > 1:
            # the probe runs in every worker (plugin.py), each writing its own folder; the host merges them
            extra += ["-n", str(workers), "--dist", "load"]
            changed.append(
                "pytest-xdist: ran with -n %d (one worker per core; the probe in every worker, "
                "its samples and counts merged)" % workers
            )
            os.environ[WORKER_STATE] = json.dumps(
                {"mode": state.mode, "out_dir": os.path.abspath(state.out_dir), "options": state.options}
            )
        else:
            extra += ["-n", "0"]
            changed.append("pytest-xdist: ran with -n 0 (profiles need one process)")
    if _loaded("pytest_cov", args):
        extra += ["--no-cov"]
        changed.append("pytest-cov: ran with --no-cov (a coverage tracer distorts profiles)")
    if _loaded("pytest_benchmark", args):
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
    extra, changed = _neutralize(args)
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
