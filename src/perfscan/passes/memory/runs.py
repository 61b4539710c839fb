"""Running the memory probe: the options every memory run shares, and one call for a run."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Sequence

from perfscan.passes import PassContext
from perfscan.probe_host import ProbeRun, package_paths, run_probe

if TYPE_CHECKING:
    from perfscan.passes.memory.spare import Spare


def probe_options(ctx: PassContext, frames: int = 1) -> Dict[str, str]:
    """The probe's options: the project, its exclusions, frames traced per allocation, the floor."""
    return {
        "root": str(ctx.project.root),
        "exclude": json.dumps(list(ctx.settings.exclude)),
        "frames": str(frames),
        "min_mib": str(ctx.settings.thresholds.floor("memory")),
    }


def run_memory_probe(
    ctx: PassContext, name: str, pytest_args: Sequence[str], timeout: float, options: Dict[str, str]
) -> ProbeRun:
    """One run of the memory probe over the target (its tests, or the command of `perfscan exec`)."""
    return run_probe(
        "memory",
        runner=ctx.project.command(),
        runner_env=ctx.project.launch_env,
        root=Path(ctx.project.root),
        workdir=ctx.workdir,
        probe_path=ctx.probe_path,
        pytest_args=pytest_args,
        timeout=timeout,
        options=options,
        name=name,
        exec_command=ctx.target.exec_command,
        source_roots=ctx.project.source_roots,
        driver=ctx.target.driver,
        packages=package_paths(ctx.project),
    )


def run_tests(
    ctx: PassContext,
    name: str,
    tests: Sequence[str],
    timeout: float,
    options: Dict[str, str],
    spare: Optional[Spare] = None,
) -> ProbeRun:
    """A memory run of these tests alone (node ids, in the order they ran): made by the screen's
    spare where there is one (spare.py), else, or where the spare's run cannot be trusted
    (`Spare.trusted`), by a process of its own."""
    start = time.monotonic()
    if spare is not None:
        run = spare.run(name, tests, options, timeout)
        if run is not None and (run.child.timed_out or spare.trusted(run, tests)):
            return run
        if run is not None:
            spare.close()
            shutil.rmtree(run.out_dir, ignore_errors=True)
        timeout -= time.monotonic() - start
    return run_memory_probe(ctx, name, list(ctx.target.argv_with(tuple(tests))), timeout, options)
