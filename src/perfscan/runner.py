"""Which interpreter runs the project's code (docs/design.md "Two processes", Runner)."""

from __future__ import annotations

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
from perfscan.models import with_runner_env

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")

# what a runner changes in the environment of the python it starts: variable -> its value there
# (None: the runner removes it)
RunnerEnv = Tuple[Tuple[str, Optional[str]], ...]


def _python_at(argv: Tuple[str, ...]) -> int:
    """Where the python stands in a runner (only its options may follow), or -1."""
    for i in range(len(argv) - 1, -1, -1):
        if _PYTHON.match(os.path.basename(argv[i])):
            return i
        if not argv[i].startswith("-"):
            return -1
    return -1


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
        tool = os.path.basename(argv[0])
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
    """`poetry run` with `--` after `run`: poetry 2 reads every option of the command line as its
    own where a `--` comes later (`poetry run python -m pytest ... -- -p no:cacheprovider` stops
    with 'The option "-m" does not exist'), and every run of the tests has one."""
    at = argv.index("run")
    return argv if argv[at + 1 : at + 2] == ("--",) else argv[: at + 1] + ("--",) + argv[at + 1 :]


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
    except (ValueError, OSError) as exc:
        raise UsageError(
            f"the runner {shlex.join(runner)} (from {origin}) gave no answer ({exc}); pass --runner"
        ) from None
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def direct_launch(
    runner: Tuple[str, ...], origin: str, root: Path, env: Dict[str, str], interp: Interpreter
) -> Tuple[Tuple[str, ...], RunnerEnv]:
    """How a scan's children start the runner's python: the python itself, with the environment
    the runner hands it, where that starts the very same interpreter; else the runner as it is
    ((), ()). A runner that wraps the python (a pyenv shim, `uv run`, `poetry run`) pays its own
    start-up at every child (a pyenv shim 0.2 s, poetry more), for the same interpreter each time.

    Checked by starting it that way once: the same executable, version, prefix, sys.path and
    environment, or the runner stays. A runner that sets a PYTHON* variable stays too: perfscan
    composes those for each child itself."""
    at = _python_at(runner)
    exe = interp.executable
    if at < 0 or not os.path.isabs(exe) or not os.access(exe, os.X_OK) or not interp.environ:
        return (), ()
    if at == 0 and os.path.realpath(shutil.which(runner[0]) or runner[0]) == os.path.realpath(exe):
        return (), ()  # the runner is the python already
    changed = [(k, v) for k, v in sorted(interp.environ.items()) if env.get(k) != v]
    removed = [(k, None) for k in sorted(env) if k not in interp.environ]
    runner_env: RunnerEnv = tuple(changed) + tuple(removed)
    if any(k.startswith("PYTHON") for k, _ in runner_env):
        return (), ()
    launch = (exe,) + runner[at + 1 :]  # the python's own options stay
    try:
        again = inspect_interpreter(launch, origin, root, with_runner_env(env, runner_env))
    except UsageError:
        return (), ()
    return (launch, runner_env) if again == interp else ((), ())
