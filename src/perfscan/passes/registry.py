"""The passes as data: what each is called, its share of the budget, what it needs, where it lives.

Every pass is one function `run(ctx: PassContext) -> PassResult`, named here by module and
function so that importing the registry imports no pass. The scan runs the selected rows in this
order; what a later pass needs from an earlier one travels in `PassContext.inputs`.

To add a pass: a package under `perfscan/passes/` with that function, a row below, and its name
in `perfscan.models.DOMAINS` (the settings accept the names listed there).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Tuple

from perfscan.models import PassResult, Project
from perfscan.passes import PassContext

PassFunction = Callable[[PassContext], PassResult]


def _no_options(project: Project) -> Mapping[str, str]:
    return {}


def _exact_call_counts(project: Project) -> Mapping[str, str]:
    return {"count": "1"}  # exact call counts from the plain run (see probe/plugin.py WallClock)


def _asyncio_debug_mode(project: Project) -> Mapping[str, str]:
    # the plain timing run doubles as the asyncio debug-mode run: no profiler inflates the slow callbacks
    return {"asyncio_debug": "1"} if _has_async_code(project) else {}


def _has_async_code(project: Project) -> bool:
    from perfscan.sources import iter_project_files

    for path in iter_project_files(project.root):
        try:
            if b"async def" in path.read_bytes()[:2_000_000]:
                return True
        except OSError:
            continue
    return False


@dataclass(frozen=True)
class Pass:
    domain: str  # the name in settings, reports and findings
    title: str
    weight: float  # share of the remaining budget; time a pass leaves unused flows to the passes after it
    needs_tests: bool  # runs the project's tests: skipped when there is no test target
    module: str
    function: str
    # what the pass asks of the plain timing run of the tests (probe options)
    plain_run_options: Callable[[Project], Mapping[str, str]] = _no_options
    artifacts: Tuple[str, ...] = ()  # files it may write to the output folder

    def load(self) -> PassFunction:
        run: PassFunction = getattr(importlib.import_module(self.module), self.function)
        return run


PASSES: Tuple[Pass, ...] = (
    Pass(
        "cpu",
        "CPU",
        3.0,
        True,
        "perfscan.passes.cpu",
        "run_cpu_pass",
        plain_run_options=_exact_call_counts,
        artifacts=("cpu.pstats", "cpu.collapsed"),
    ),
    Pass("memory", "Memory", 4.0, True, "perfscan.passes.memory", "run_memory_pass"),
    Pass(
        "import", "Import time", 1.5, False, "perfscan.passes.imports", "run_import_pass", artifacts=("imports.json",)
    ),
    Pass(
        "async",
        "Async (static analysis)",
        0.5,
        False,
        "perfscan.passes.async_pass",
        "run_async_pass",
        plain_run_options=_asyncio_debug_mode,
    ),
)


def selected(domains: Sequence[str]) -> Tuple[Pass, ...]:
    """The passes named in `domains`, in the order they run."""
    return tuple(p for p in PASSES if p.domain in domains)
