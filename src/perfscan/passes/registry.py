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

from perfscan.models import PassResult, Project, Settings
from perfscan.passes import PassContext
from perfscan.passes.cpu_engine import asked_engine

PassFunction = Callable[[PassContext], PassResult]


def _no_options(settings: Settings, project: Project) -> Mapping[str, str]:
    return {}


def _counts_and_samples(settings: Settings, project: Project) -> Mapping[str, str]:
    """Exact call counts from the plain run (probe/wallclock.py), and the sampling engine beside
    them: when the timing run runs the whole target it is also the CPU pass's sampled run
    (docs/design.md "One run, two jobs"). cProfile's cost would distort the timing run: not there."""
    engine = asked_engine(settings)[0]
    if engine == "cprofile":
        return {"count": "1"}
    return {"count": "1", "sample": "1", "engine": engine}


def _asyncio_debug_mode(settings: Settings, project: Project) -> Mapping[str, str]:
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
    plain_run_options: Callable[[Settings, Project], Mapping[str, str]] = _no_options
    artifacts: Tuple[str, ...] = ()  # files it may write to the output folder
    # its runs tolerate a neighbour (CPU-time sampling, tracemalloc): it may run beside the next
    # such pass on a free core (schedule.py)
    side_by_side: bool = False
    # it measures wall-clock time that a neighbour would inflate (import timing), and reads no
    # other pass's results: it runs alone, before the other passes (schedule.py)
    quiet: bool = False
    reads: Tuple[str, ...] = ()  # the passes whose results it reads (PassContext.inputs): it runs after them

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
        plain_run_options=_counts_and_samples,
        artifacts=("cpu.pstats", "cpu.collapsed"),
        side_by_side=True,
    ),
    Pass("memory", "Memory", 4.0, True, "perfscan.passes.memory", "run_memory_pass", side_by_side=True),
    Pass(
        "import",
        "Import time",
        1.5,
        False,
        "perfscan.passes.imports",
        "run_import_pass",
        artifacts=("imports.json",),
        quiet=True,
    ),
    Pass(
        "async",
        "Async (static analysis)",
        0.5,
        False,
        "perfscan.passes.async_pass",
        "run_async_pass",
        plain_run_options=_asyncio_debug_mode,
        side_by_side=True,  # static analysis in the host: no run of the project's to disturb
        reads=("cpu",),
    ),
)


def selected(domains: Sequence[str]) -> Tuple[Pass, ...]:
    """The passes named in `domains`, in the order they run."""
    return tuple(p for p in PASSES if p.domain in domains)
