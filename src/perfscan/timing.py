"""The plain timing run of the suite, carried past a test that hangs or kills the test process.

One test that hangs (or runs far longer than the rest) would otherwise cost every test after it:
the run ends at its time limit and only the tests before it can be profiled. So when a run is
cut by one test (it was still running after half of the run's time, or the process died inside
it), that test is left out, and the run restarts on the tests not run yet: the ones already
timed and the ones left out are deselected (by exact node id, in the probe: pytest's own
`--deselect` matches prefixes, and `test_a` would take `test_ab` with it). The restarts share
one more slice of time; what they cannot reach is reported like a suite that did not finish.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.children import ChildResult
from perfscan.models import Driver, ImportedCopy, Project, RunFacts
from perfscan.probe_host import ProbeRun, failed_in, package_paths, run_probe, summarize_failed

HANG_SHARE = 0.5  # a test still running after this share of its run's time cut the run
MAX_RUNS = 8  # the first run and its restarts
MIN_RESTART_SECONDS = 2.0
MIN_HANG_SECONDS = 1.0  # a test cut after less than this is a slow suite's last test, not a hang  # a restart with less time than this could not even collect


@dataclass(frozen=True)
class LeftOut:
    nodeid: str
    reason: str


@dataclass(frozen=True)
class TimingRun:
    """The timing run: one probe run, or the pieces of a run restarted past tests that cut it."""

    runs: Tuple[ProbeRun, ...]
    left_out: Tuple[LeftOut, ...] = ()
    complete: bool = False  # the run ended on its own, apart from the tests left out
    note: str = ""  # why a cut run was not restarted
    workers: int = 0  # the run went across this many pytest-xdist workers (0: one process)

    @property
    def child(self) -> ChildResult:
        """The last piece's process: whether the run as a whole finished."""
        return self.runs[-1].child

    def read(self, name: str) -> Optional[Dict[str, Any]]:
        """A JSON file of the first piece (collection, the whole-suite figures of a run in one piece)."""
        return self.runs[0].read(name)

    def read_all(self, name: str) -> List[Dict[str, Any]]:
        """A JSON file of every piece that wrote it."""
        return [d for d in (r.read(name) for r in self.runs) if d is not None]

    def outcomes(self) -> Dict[str, Dict[str, Any]]:
        merged: Dict[str, Dict[str, Any]] = {}
        for run in self.runs:
            merged.update(run.outcomes())
        return merged

    def finished(self) -> bool:
        return self.runs[-1].finished()

    def facts(self) -> RunFacts:
        """Every piece's finished tests, and what the pieces saw of the project's code together."""
        pieces = [r.facts() for r in self.runs]
        outcomes: Dict[str, Tuple[str, str]] = {}
        copies: Dict[str, ImportedCopy] = {}
        for piece in pieces:
            outcomes.update(piece.outcomes)
            copies.update((c.module, c) for c in piece.copies)
        loaded = [p.project_modules for p in pieces if p.project_modules is not None]
        return RunFacts(outcomes, tuple(copies.values()), max(loaded) if loaded else None)

    def neutralized(self) -> Tuple[str, ...]:
        return self.runs[0].neutralized()

    def failed_tests(self) -> Tuple[Tuple[str, str], ...]:
        return failed_in(self.outcomes())

    def failed_summary(self, limit: int = 5) -> str:
        return summarize_failed(self.failed_tests(), limit)


CRASH_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL")


def time_suite(
    *,
    project: Project,
    workdir: Path,
    probe_path: Path,
    pytest_args: Sequence[str],
    options: Optional[Mapping[str, str]],
    slice_seconds: float,
    restart_seconds: float,
    driver: Driver,
    cores: int = 1,
    after_first: Optional[Callable[[ProbeRun], None]] = None,
) -> TimingRun:
    """The timing run (`_time_suite`). `after_first` is told of the first run as soon as it ends
    (before any restart or run across workers). Where it also sampled (docs/design.md "One run, two jobs")
    and the test process crashed inside a test, the sampler's signals may be the cause: the
    timing run is the plain reference, so it runs again without sampling, and the CPU pass
    meets the crash in its own run (and falls back to cProfile there)."""
    run = functools.partial(
        _time_suite,
        project=project,
        workdir=workdir,
        probe_path=probe_path,
        pytest_args=pytest_args,
        slice_seconds=slice_seconds,
        restart_seconds=restart_seconds,
        driver=driver,
        cores=cores,
        after_first=after_first,
    )
    timing = run(options=options)
    if (options or {}).get("sample") == "1" and any(r.child.signal_name in CRASH_SIGNALS for r in timing.runs):
        plain = {k: v for k, v in (options or {}).items() if k not in ("sample", "engine")}
        return run(options=plain, name_prefix="time-plain")
    return timing


def _time_suite(
    *,
    project: Project,
    workdir: Path,
    probe_path: Path,
    pytest_args: Sequence[str],
    options: Optional[Mapping[str, str]],
    slice_seconds: float,
    restart_seconds: float,
    driver: Driver,
    cores: int = 1,
    name_prefix: str = "time",
    after_first: Optional[Callable[[ProbeRun], None]] = None,
) -> TimingRun:
    """Time the suite within `slice_seconds`; restart past a test that cut it, within `restart_seconds` more.
    A suite too slow for one core runs again across `cores` pytest-xdist workers in that time, where
    the project's pytest has xdist (docs/design.md "Every core")."""
    deadline = time.monotonic() + slice_seconds + restart_seconds

    def start(name: str, timeout: float, deselect: Optional[Path], workers: int = 0) -> ProbeRun:
        opts = dict(options or {})
        if deselect is not None:
            opts["deselect"] = str(deselect)
        if workers > 1:
            opts["workers"] = str(workers)
        return run_probe(
            "time",
            runner=project.command(),
            runner_env=project.launch_env,
            root=project.root,
            workdir=workdir,
            probe_path=probe_path,
            pytest_args=list(pytest_args),
            timeout=timeout,
            options=opts,
            name=name,
            driver=driver,
            packages=package_paths(project),
        )

    run = start(name_prefix, slice_seconds, None)
    if after_first is not None:
        after_first(run)
    runs = [run]
    collected = run.read("collected.json")
    if collected is None:
        return TimingRun(tuple(runs))
    nodeids = [str(n) for n in collected.get("nodeids") or ()]
    outcomes: Dict[str, Dict[str, Any]] = dict(run.outcomes())
    left: List[LeftOut] = []
    note = ""
    piece = nodeids
    while True:
        cause = cut_by(run, piece, outcomes)
        if cause is None:
            # the run ended on its own (pytest's -x and --maxfail end it early too), or ran out of time
            complete = not run.child.timed_out
            break
        left.append(cause)
        skip = {n for n, t in outcomes.items() if t.get("done")} | {x.nodeid for x in left}
        remaining = [n for n in nodeids if n not in skip]
        if not remaining:
            complete = True
            break
        seconds = deadline - time.monotonic()
        if len(runs) >= MAX_RUNS or seconds < MIN_RESTART_SECONDS:
            note = f"no time left to restart the timing run for the other {len(remaining)} test(s)"
            complete = False
            break
        deselect = workdir / f"deselect-{name_prefix}-{len(runs)}.json"
        deselect.write_text(json.dumps(sorted(skip)), encoding="utf-8")
        run = start(f"{name_prefix}-{len(runs)}", seconds, deselect)
        runs.append(run)
        outcomes.update(run.outcomes())
        piece = [str(n) for n in (run.read("collected.json") or {}).get("nodeids") or ()]
    if not complete and not left and cores > 1 and _xdist_neutralized(runs[0]):
        # too slow for one core: the whole suite across the cores, where the estimate fits the
        # timing's two slices (the CPU pass then needs no run of its own: "One run, two jobs")
        seconds = deadline - time.monotonic() + slice_seconds
        estimate = spread_estimate(run, len(nodeids), outcomes, cores)
        if estimate is not None and estimate < seconds:
            spread = start(f"{name_prefix}-workers", seconds, None, cores)
            if spread.finished() and not spread.child.timed_out and spread.child.returncode in (0, 1):
                return TimingRun((spread,), (), True, "", cores)
    return TimingRun(tuple(runs), tuple(left), complete, note)


def _xdist_neutralized(run: ProbeRun) -> bool:
    """The project's pytest has pytest-xdist loaded (the probe ran it with -n 0)."""
    return any(n.startswith("pytest-xdist:") for n in run.neutralized())


def spread_estimate(
    run: ProbeRun, collected: int, outcomes: Mapping[str, Mapping[str, Any]], cores: int
) -> Optional[float]:
    """Seconds the whole suite should take across `cores` workers, from the cut run: its tests'
    mean time for every test, divided among the workers, plus a start-up per worker as long as
    the cut run's own (its time outside tests). None when no test finished."""
    done = [float(t.get("seconds") or 0.0) for t in outcomes.values() if t.get("done")]
    if not done:
        return None
    startup = max(run.child.seconds - sum(done), 0.0)
    return sum(done) / len(done) * collected / cores + startup * 2


def cut_by(run: ProbeRun, piece: Sequence[str], outcomes: Mapping[str, Mapping[str, Any]]) -> Optional[LeftOut]:
    """The test that cut this run short, or None: the run finished, or it ran out of time in the
    middle of a suite too slow for it (no single test to blame)."""
    unfinished = next((n for n in piece if not outcomes.get(n, {}).get("done")), None)
    child = run.child
    if child.timed_out:
        finished = [float(outcomes.get(n, {}).get("seconds") or 0.0) for n in piece if outcomes.get(n, {}).get("done")]
        running = run.running()
        if running is not None:
            nodeid, seconds = running
            # the time the finished tests left: a loaded machine stretches them, not the hang, so the
            # test is judged against what was left for it (and a slow suite's last short test is not a hang)
            spare = child.seconds - sum(finished)
            cut = seconds >= HANG_SHARE * min(spare, child.seconds) and seconds >= MIN_HANG_SECONDS
        elif unfinished is not None:
            # the process died before it could say (a hang holding the GIL): what the finished
            # tests did not use of the run's time is an upper bound of the unfinished one's
            nodeid = unfinished
            seconds = child.seconds - sum(finished)
            cut = seconds >= HANG_SHARE * child.seconds
        else:
            return None
        if cut:
            return LeftOut(
                nodeid, f"still running after {seconds:.0f} s when the timing run's {child.seconds:.0f} s ran out"
            )
        return None
    # a crash is a process that died inside a test; pytest's own exit codes (2 interrupted, 3
    # internal error, 4 usage) come after its session finished
    crashed = child.returncode is not None and child.returncode not in (0, 1, 5) and not run.finished()
    if crashed and unfinished is not None:
        return LeftOut(unfinished, f"the test process {child.describe_exit()} during it")
    return None
