"""The passes, listed in `registry.py`. Each is a package with one function
`run(ctx: PassContext) -> PassResult`.

Passes do not import each other or ranking. What one pass needs from another (the async pass
wants the functions the CPU pass saw run) comes from the orchestrator (scan.py) in
`PassContext.inputs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Mapping, Optional

from perfscan.models import Deployment, Project, Settings, Target

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


def child_env(workdir: Path, probe_path: Path) -> Dict[str, str]:
    """Environment for a child running project code.

    Bytecode goes to a private prefix (the project gets no __pycache__, and repeated runs reuse
    it even where PYTHONDONTWRITEBYTECODE is set); coverage data, if a plugin collects any,
    goes to the temp folder; the probe alone is on PYTHONPATH.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PERFSCAN_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = str(probe_path)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env["COVERAGE_FILE"] = str(workdir / ".coverage")
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(workdir / "hypothesis")
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUTF8"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("NO_COLOR", "1")
    return env


def import_env(workdir: Path, project: Project) -> Dict[str, str]:
    """Environment for `-X importtime` runs: the tests' sys.path (source roots), no probe."""
    env = child_env(workdir, Path(workdir))
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in project.source_roots)
    return env
