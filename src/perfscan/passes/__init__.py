"""The passes, listed in `registry.py`. Each is a package with one function
`run(ctx: PassContext) -> PassResult`.

Passes do not import each other or ranking. What one pass needs from another (the async pass
wants the functions the CPU pass saw run) comes from the orchestrator (scan.py) in
`PassContext.inputs`.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from perfscan.children import ChildResult
from perfscan.models import Deployment, Project, RunnerEnv, Settings, Target, with_runner_env

if TYPE_CHECKING:
    from perfscan.passes.async_pass.records import AsyncioDebugRun


@dataclass(frozen=True)
class PassInputs:
    """What earlier stages hand a pass, passed explicitly (passes never call each other)."""

    plain_counts: Optional[Mapping[str, Any]] = (
        None  # exact call counts of the plain timing run, when it ran the target
    )
    asyncio_debug: Optional[AsyncioDebugRun] = None  # asyncio debug mode's records of the plain run, if it ran
    ran: FrozenSet[str] = frozenset()  # "module:qualname" of every project function the CPU pass saw run
    # "module:qualname" -> {line: seconds per run} where the CPU pass measured project code waiting
    waits: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    # the plain timing run (its process and output folder), when it ran the whole target in one
    # piece and sampled it too: the CPU pass's first sampled run (docs/design.md "One run, two jobs")
    sampled_run: Optional[Tuple[ChildResult, Path]] = None
    # the timing run ran the whole target only across this many pytest-xdist workers (0: in one
    # process): the memory pass's measured run goes across them too (docs/design.md "Every core")
    workers: int = 0
    # the target's test time in the plain timing run (its tests' phases), when it ran them all
    plain_test_seconds: Optional[float] = None


@dataclass(frozen=True)
class PassContext:
    settings: Settings
    project: Project
    deployment: Deployment
    target: Target
    workdir: Path  # private mkdtemp folder of this scan; removed at the end
    probe_path: Path  # folder holding the `perfscan_probe` package (the child's PYTHONPATH)
    out_dir: Path  # the output folder (.codeflash), for artifacts
    timeout: float  # this pass's share of the budget, in seconds
    inputs: PassInputs = PassInputs()


# Variables a running pytest sets for itself: inherited only when perfscan is started from inside a
# test run (a tool's own tests), they are not the user's configuration of the project's tests.
_PYTEST_RUNTIME = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_")

# What perfscan changes in a child's environment and in pytest's command line, and why
# (docs/design.md "The child environment"); the report lists these under "Changed for profiling".
PYTEST_OPTIONS_ADDED = (
    "pytest runs with -p no:cacheprovider (its cache would be written into the project as .pytest_cache)",
    "pytest runs with --continue-on-collection-errors (a test module that fails to import does not stop "
    "the other tests from being profiled)",
)


def child_env(workdir: Path, probe_path: Path, runner_env: RunnerEnv = ()) -> Dict[str, str]:
    """Environment for a child running project code: the user's, plus only what the probe needs.

    The probe's folder goes first on PYTHONPATH, before the user's entries. No bytecode is
    written (PYTHONDONTWRITEBYTECODE), so the project gets no __pycache__, and bytecode already
    cached where plain Python looks for it (beside the sources, in site-packages, under the
    user's own PYTHONPYCACHEPREFIX) is read as a plain run reads it. A private prefix would hide
    all of it: every child then compiled pytest, its plugins and the libraries from source (1.6 s
    a child on a small project where the user's environment forbids writing bytecode, as many CI
    images do). Coverage and hypothesis data, if the tests write any, go to the temp folder.
    Everything else (PYTEST_ADDOPTS, PYTEST_PLUGINS, colour, encoding, hash seed) is the user's,
    as plain pytest would see it; `runner_env`: what the runner sets for its python, where the
    child starts that python directly (Project.launch_env).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFSCAN_",) + _PYTEST_RUNTIME)}
    env["PYTHONPATH"] = os.pathsep.join([str(probe_path)] + _user_pythonpath())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COVERAGE_FILE"] = str(workdir / ".coverage")
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(workdir / "hypothesis")
    return with_runner_env(env, runner_env)


def launch_change(project: Project) -> str:
    """The runner started once, its python directly for every run (runner.direct_launch)."""
    changed = [k for k, v in project.launch_env if v is not None]
    removed = [k for k, v in project.launch_env if v is None]
    env = ", ".join(
        part
        for part in (f"{', '.join(changed)} set" if changed else "", f"{', '.join(removed)} removed" if removed else "")
        if part
    )
    return (
        f"runner: {shlex.join(project.runner)} started once; every run starts its python, "
        f"{shlex.join(project.launch)}, directly, with the environment the runner gives it"
        + (f" ({env})" if env else "")
        + ": the same interpreter, sys.path and environment, without the runner's own start-up at every run"
    )


def _user_pythonpath() -> List[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def environment_changes(project: Project) -> Tuple[str, ...]:
    """What perfscan changes for the children that run the project's tests, each with its reason."""
    user_path = os.environ.get("PYTHONPATH")
    changes = [launch_change(project)] if project.launch else []
    changes += [
        "PYTHONPATH: perfscan's probe folder put first (the probe runs inside the project's python), "
        + ("the user's entries follow" if user_path else "no PYTHONPATH was set"),
        "PYTHONDONTWRITEBYTECODE=1: no bytecode is written (the project gets no __pycache__); bytecode "
        "already cached is read, as a plain run reads it"
        + ("" if not os.environ.get("PYTHONDONTWRITEBYTECODE") else " (the user's setting too)"),
        "COVERAGE_FILE and HYPOTHESIS_STORAGE_DIRECTORY: perfscan's temp folder (coverage and hypothesis "
        "data are not written into the project)",
    ]
    dropped = sorted(k for k in os.environ if k.startswith(_PYTEST_RUNTIME))
    if dropped:
        changes.append(f"{', '.join(dropped)} removed (set by the pytest run that started perfscan, not the project's)")
    return tuple(changes) + PYTEST_OPTIONS_ADDED


def import_env(workdir: Path, project: Project) -> Dict[str, str]:
    """Environment for `-X importtime` runs: the tests' sys.path (source roots, then the user's
    PYTHONPATH), no probe; bytecode always cached (in the private prefix), so the warm runs are warm."""
    env = child_env(workdir, Path(workdir), project.launch_env)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in project.source_roots] + _user_pythonpath())
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
