"""Which interpreter runs the project's code (docs/design.md "Two processes", Runner)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

from perfscan import children
from perfscan.errors import UsageError
from perfscan.models import RunnerEnv, with_runner_env

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")

_VALUE_OPTIONS = ("-X", "-W")  # python options whose value is the next argument (`-X dev`)


def _python_at(argv: Tuple[str, ...]) -> int:
    """Where the python stands in a runner (only its options may follow), or -1."""
    for i in range(len(argv) - 1, -1, -1):
        if _PYTHON.match(os.path.basename(argv[i])):
            return i
        if not argv[i].startswith("-") and not (i > 0 and argv[i - 1] in _VALUE_OPTIONS):
            return -1
    return -1


def _tool(argv: Tuple[str, ...]) -> str:
    """The program a runner starts, by name (`poetry` for `/usr/bin/poetry` and `poetry.exe`)."""
    return os.path.splitext(os.path.basename(argv[0]))[0].lower() if argv else ""


def ends_in_python(argv: Tuple[str, ...]) -> bool:
    """True for `python3`, `.venv/bin/python`, and a python followed only by its options (`python -X dev`)."""
    return _python_at(argv) >= 0


def as_runner(command: str, origin: str = "--runner") -> Tuple[str, ...]:
    """Split a runner command line; append `python` unless it already ends in one."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:  # an unclosed quote
        raise UsageError(
            f"the runner {command!r} (from {origin}) is not a valid command line ({exc}); fix its quoting"
        ) from None
    if not argv:
        raise UsageError("the runner is empty; pass --runner with a command such as 'uv run' or a python path")
    if argv and argv[0] == "$RUNNER":
        argv = argv[1:]
    if argv and os.sep in argv[0] and not os.path.isabs(argv[0]) and os.path.exists(argv[0]):
        # children run in the project's root: a path the user typed is relative to where they stand
        argv = (os.path.abspath(argv[0]),) + argv[1:]
    return argv if ends_in_python(argv) else argv + ("python",)


def detect_runner(root: Path, given: Optional[str], given_origin: str) -> Tuple[Tuple[str, ...], str]:
    """Return (argv prefix, where it came from); a project environment that is not there yet is a
    usage error, checked before anything runs (docs/design.md "Runner")."""
    if given:
        argv = as_runner(given, given_origin)
        tool = _tool(argv)
        if tool == "uv" and "run" in argv:
            check_uv_environment(root, f"the runner {shlex.join(argv)} (from {given_origin})")
        elif tool == "poetry" and "run" in argv:
            check_poetry_environment(root, f"the runner {shlex.join(argv)} (from {given_origin})")
            argv = poetry_run(argv)
        return argv, given_origin
    if (root / "uv.lock").is_file() and not (root / "venv").is_dir():
        check_uv_environment(root, "this uv project (uv.lock)")
        if shutil.which("uv"):
            return ("uv", "run", "--no-sync", "python"), "uv.lock and uv on PATH"
    if (root / "poetry.lock").is_file() and shutil.which("poetry"):
        check_poetry_environment(root, "this poetry project (poetry.lock)")
        return poetry_run(("poetry", "run", "python")), "poetry.lock and poetry on PATH"
    for venv in (".venv", "venv"):
        for rel in ("bin/python", "Scripts/python.exe"):
            cand = root / venv / rel
            if cand.is_file() and os.access(cand, os.X_OK):
                return (str(cand),), f"{venv}/ in the project"
    found = shutil.which("python3") or shutil.which("python")
    if found:
        return (found,), "the python on PATH"
    return (sys.executable,), "perfscan's own python (no python on PATH)"


def poetry_run(argv: Tuple[str, ...]) -> Tuple[str, ...]:
    """`poetry run` with `--` right before the python: poetry 2 reads every option of the command
    line as its own where a `--` comes later (`poetry run python -m pytest ... -- -p
    no:cacheprovider` stops with 'The option "-m" does not exist'), and every run of the tests
    has one. poetry's own options (`-q`, `--directory D`) stay before it."""
    at = _python_at(argv)
    if at < 0 or "--" in argv[:at]:
        return argv
    return argv[:at] + ("--",) + argv[at:]


def _has_python(venv: Path) -> bool:
    return any((venv / rel).is_file() for rel in ("bin/python", "Scripts/python.exe"))


def check_uv_environment(root: Path, what: str) -> None:
    """uv would create the project's environment (`.venv`, or $UV_PROJECT_ENVIRONMENT) and install
    into it: perfscan never lets it. Read from the disk alone: the check needs no uv."""
    venv = Path(os.environ.get("UV_PROJECT_ENVIRONMENT") or ".venv")
    venv = venv if venv.is_absolute() else root / venv
    if not _has_python(venv):
        raise UsageError(
            f"{what} has no environment yet ({venv} holds no python) and perfscan does not create one; "
            "run `uv sync` in the project first, or pass --runner with a python that can run its tests"
        )


def check_poetry_environment(root: Path, what: str) -> None:
    """`poetry run` would create a virtualenv for a project that has none: ask poetry where its
    environment is (`poetry env info --path`, which creates nothing) before running it."""
    if _has_python(root / ".venv"):
        return
    log_dir = Path(tempfile.mkdtemp(prefix="perfscan-runner-"))
    try:
        result = children.run(
            ["poetry", "env", "info", "--path"],
            cwd=root,
            env=dict(os.environ),
            timeout=60,
            log_dir=log_dir,
            name="poetry",
        )
        found = result.stdout_path.read_text(errors="replace").strip() if result.returncode == 0 else ""
    except OSError:
        found = ""
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    if not found or not _has_python(Path(found)):
        raise UsageError(
            f"{what} has no poetry environment yet and perfscan does not create one; run `poetry install` "
            "in the project first, or pass --runner with a python that can run its tests"
        )


@dataclass(frozen=True)
class Interpreter:
    version: str
    executable: str
    has_pytest: bool
    has_memray: bool
    has_django: bool = False
    has_pytest_django: bool = False
    # what tells one start of it from another: the environment it saw, its prefix, sys.path and
    # the options it was started with (-X, -W, -O, -I ...)
    environ: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    path: Tuple[str, ...] = ()
    options: str = ""


_CHECK = (
    "import json, os, sys, importlib.util as u\n"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], 'executable': sys.executable,"
    " 'pytest': u.find_spec('pytest') is not None, 'memray': u.find_spec('memray') is not None,"
    " 'django': u.find_spec('django') is not None, 'pytest_django': u.find_spec('pytest_django') is not None,"
    " 'environ': dict(os.environ), 'prefix': sys.prefix, 'path': sys.path,"
    " 'options': repr((sys.flags, sys._xoptions, sys.warnoptions))}))"
)


def inspect_interpreter(runner: Tuple[str, ...], origin: str, root: Path, env: Dict[str, str]) -> Interpreter:
    """Start the runner's python once: its version, and whether it has pytest, memray, Django and pytest-django."""
    log_dir = Path(tempfile.mkdtemp(prefix="perfscan-runner-"))
    try:
        result = children.run(
            list(runner) + ["-c", _CHECK], cwd=root, env=env, timeout=60, log_dir=log_dir, name="check"
        )
        if result.start_error:
            raise UsageError(
                f"the runner {shlex.join(runner)} (from {origin}) cannot be started: "
                f"{result.start_error}; pass --runner with a python that can run the project"
            )
        if result.returncode != 0:
            tail = result.tail(2).replace("\n", " ")
            raise UsageError(
                f"the runner {shlex.join(runner)} (from {origin}) does not run python ({result.describe_exit()}: "
                f"{tail}); pass --runner with a python that can run the project"
            )
        lines = [ln for ln in result.stdout_path.read_text(errors="replace").splitlines() if ln.startswith("{")]
        info = json.loads(lines[-1]) if lines else {}
        return Interpreter(
            str(info.get("version", "?")),
            str(info.get("executable", runner[-1])),
            bool(info.get("pytest")),
            bool(info.get("memray")),
            bool(info.get("django")),
            bool(info.get("pytest_django")),
            {str(k): str(v) for k, v in (info.get("environ") or {}).items()},
            str(info.get("prefix", "")),
            tuple(str(p) for p in info.get("path") or ()),
            str(info.get("options", "")),
        )
    except (ValueError, OSError, TypeError, AttributeError) as exc:
        raise UsageError(
            f"the runner {shlex.join(runner)} (from {origin}) gave no answer ({exc}); pass --runner"
        ) from None
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


# Runners that only choose the python and set its environment: a project tool's `run`, or a
# version manager's shim (a file in a `shims` folder: pyenv, asdf). Anything else (nice, taskset,
# timeout, unshare, sudo, a sandbox) does what no start of the python alone would.
WRAPPERS = frozenset({"uv", "poetry", "pdm", "hatch", "pipenv", "rye", "pyenv", "conda", "mamba", "micromamba"})
# what such a runner sets: where the python is found, which environment is active
_RUNNER_VARIABLES = frozenset({"PATH", "VIRTUAL_ENV", "UV"})
_RUNNER_PREFIXES = (
    "PYENV_",
    "_PYENV_",
    "ASDF_",
    "UV_",
    "POETRY_",
    "PDM_",
    "HATCH_",
    "PIPENV_",
    "RYE_",
    "CONDA_",
    "MAMBA_",
)
# what a shell script sets for itself, not for the python (a shim is one)
_SHELL_VARIABLES = frozenset({"PWD", "OLDPWD", "_", "SHLVL"})


def _wraps_python(runner: Tuple[str, ...], at: int) -> bool:
    if at == 0:
        return os.path.basename(os.path.dirname(shutil.which(runner[0]) or runner[0])) == "shims"
    return _tool(runner) in WRAPPERS


def direct_launch(
    runner: Tuple[str, ...], origin: str, root: Path, env: Dict[str, str], interp: Interpreter
) -> Tuple[Tuple[str, ...], RunnerEnv]:
    """How a scan's children start the runner's python: the python itself, with the variables the
    runner sets for it, where the runner only chooses the python and sets its environment; else
    the runner as it is ((), ()). A runner that wraps the python (a pyenv shim, `uv run`, `poetry
    run`) pays its own start-up at every child (a pyenv shim 0.2 s, poetry 0.7 s), for the same
    interpreter each time.

    Only a known wrapper (WRAPPERS, a version manager's shim) whose changes to the environment are
    all its kind's (PATH, VIRTUAL_ENV, PYENV_*, UV_*...). A PYTHON* variable, which perfscan
    composes for each child itself, or any other keeps the runner: a socket of a session the
    runner keeps alive, a value it draws at each start. Then the python started that way once more
    must see the same executable, version, prefix, sys.path, flags and environment."""
    at = _python_at(runner)
    exe = interp.executable
    if at < 0 or not os.path.isabs(exe) or not os.access(exe, os.X_OK) or not interp.environ:
        return (), ()
    if not _wraps_python(runner, at):
        return (), ()  # a python itself, or a command that does more than choose one
    seen, sent = _without_shell(interp.environ), _without_shell(env)
    changed = [(k, v) for k, v in sorted(seen.items()) if sent.get(k) != v]
    removed = [(k, None) for k in sorted(sent) if k not in seen]
    runner_env: RunnerEnv = tuple(changed) + tuple(removed)
    if not all(k in _RUNNER_VARIABLES or k.startswith(_RUNNER_PREFIXES) for k, _ in runner_env):
        return (), ()
    launch = (exe,) + runner[at + 1 :]  # the python's own options stay
    try:
        again = inspect_interpreter(launch, origin, root, with_runner_env(env, runner_env))
    except UsageError:
        return (), ()
    first = dataclasses.replace(interp, environ=seen)
    return (
        (launch, runner_env) if dataclasses.replace(again, environ=_without_shell(again.environ)) == first else ((), ())
    )


def _without_shell(environ: Mapping[str, str]) -> Dict[str, str]:
    return {k: v for k, v in environ.items() if k not in _SHELL_VARIABLES}
