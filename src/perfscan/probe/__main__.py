"""Entry point: python -m perfscan_probe <collect|time|cpu|memory> --out DIR [--opt K=V] -- PYTEST_ARGS"""

import importlib.util
import os
import signal
import sys

from . import state


def _terminate(signum, frame):
    # The host's timeout: save what was measured so far, then go.
    for rec in list(state.recorders):
        try:
            rec.emergency_dump()
        except Exception:
            pass
    os._exit(128 + signum)


def _loaded(module, args):
    """Whether pytest will load the plugin in `module`: installed, and autoloaded or named (the
    user's PYTEST_DISABLE_PLUGIN_AUTOLOAD is kept, and an option of a plugin not loaded is an error)."""
    if importlib.util.find_spec(module) is None:
        return False
    if not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return True
    named = os.environ.get("PYTEST_PLUGINS", "").split(",") + [a for a in args if not a.startswith("-")]
    return any(n.strip() == module or n.strip().startswith(module + ".") for n in named)


def _neutralize(args):
    """Profiles need one process and no coverage tracer: override parallel workers and coverage."""
    extra, changed = [], []
    args = list(args) + os.environ.get("PYTEST_ADDOPTS", "").split()
    if _loaded("xdist", args):
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


class _AsyncioDump:
    def emergency_dump(self):
        from . import asyncdebug

        asyncdebug.dump(state.out_dir)


def main(argv):
    if not argv or argv[0] not in ("collect", "time", "cpu", "memory"):
        print(
            "usage: python -m perfscan_probe <collect|time|cpu|memory> --out DIR [--opt K=V] -- PYTEST_ARGS",
            file=sys.stderr,
        )
        return 2
    state.mode = argv[0]
    rest = argv[1:]
    pytest_args = []
    if "--" in rest:
        i = rest.index("--")
        rest, pytest_args = rest[:i], rest[i + 1 :]
    exec_mode = False
    i = 0
    while i < len(rest):
        if rest[i] == "--exec":
            exec_mode = True
            i += 1
            continue
        if rest[i] == "--out":
            state.out_dir = rest[i + 1]
            i += 2
        elif rest[i] == "--opt":
            key, _, value = rest[i + 1].partition("=")
            state.options[key] = value
            i += 2
        else:
            i += 1
    signal.signal(signal.SIGTERM, _terminate)
    if state.options.get("asyncio_debug") == "1":
        from . import asyncdebug

        asyncdebug.enable()
        state.recorders.append(_AsyncioDump())
    if exec_mode:
        return _run_exec(pytest_args)
    try:
        import pytest
    except ImportError:
        print("perfscan probe: pytest cannot be imported by this interpreter (%s)" % sys.executable, file=sys.stderr)
        return 4
    extra, changed = _neutralize(pytest_args)
    state.options["neutralized"] = changed
    # a module that fails to import stops pytest before any test runs; the others are still worth profiling
    args = (
        ["-p", "perfscan_probe.plugin", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
        + extra
        + list(pytest_args)
    )
    if state.mode == "collect":
        args.append("--collect-only")
    try:
        return int(pytest.main(args))
    finally:
        for rec in state.recorders:
            if isinstance(rec, _AsyncioDump):
                rec.emergency_dump()


def _run_exec(command):
    from .workload import run_command

    if state.mode == "cpu":
        from .cpu import CpuRecorder

        recorder = CpuRecorder(state.out_dir)
    elif state.mode == "memory":
        from .memory import MemoryRecorder

        recorder = MemoryRecorder(state.out_dir, dict(state.options, repeat="0"))
    else:
        print("perfscan probe: --exec works with the cpu and memory modes", file=sys.stderr)
        return 2
    state.recorders.insert(0, recorder)
    return run_command(command, recorder, state.out_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
