"""The orchestrator: settings -> project -> deployment -> target -> passes -> ranking -> report.

It owns the private temp folder, the budget, and the order of the passes (the table in
`passes/registry.py`); passes do not call each other: what a later pass needs from an earlier
one (the functions the CPU pass saw run) it hands over in `PassContext.inputs`.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from perfscan import __version__, children, fidelity, schedule, treewatch
from perfscan.beside import Beside
from perfscan.deployment import detect_deployment
from perfscan.errors import UsageError
from perfscan.models import Driver, PassResult, Project, ScanResult, Settings, Target
from perfscan.passes import PassContext, PassInputs, child_env, environment_changes
from perfscan.passes.registry import PASSES, Pass, selected
from perfscan.probe_host import COMMAND_FAILED, ProbeRun, install_probe
from perfscan.progress import Progress
from perfscan.project import discover_project
from perfscan.ranking import rank
from perfscan.report import write_atomic
from perfscan.report.formats import EXTRA_FORMATS, REPORT_TWINS
from perfscan.sources import skipped_sources
from perfscan.target import select_target
from perfscan.testdriver import choose_driver, with_hint
from perfscan.timing import TimingRun
from perfscan.workers import merge_counts

if TYPE_CHECKING:  # the passes load only when they run
    from perfscan.passes.async_pass.records import AsyncioDebugRun

_NO_TARGET = Target((), (), "none", 0, "no target yet", driver=Driver("", ""))  # the passes before the timing run
BESIDE_NOTE = "ran beside the timing run, on the whole suite, which the timing run then ran whole too"
TIMING_SLICE = 0.2  # share of the budget the timing run of the whole suite may take (and its restarts as much again)
RESERVE = 3.0  # seconds kept for ranking and reports


def run_scan(settings: Settings, progress: Progress) -> Tuple[ScanResult, Path]:
    budget = _Budget(settings.budget, time.monotonic())
    settings = dataclasses.replace(settings, path=Path(os.path.abspath(settings.path)))
    created = _missing_dirs(settings.out or (settings.path / ".codeflash"))
    out_dir = output_dir(settings)
    before = treewatch.snapshot(settings.path, skip=out_dir)
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-"))
    written = False
    try:
        probe_path = install_probe(workdir)
        project = discover_project(settings, child_env(workdir, probe_path))
        progress.say(
            f"project {project.name}: packages {', '.join(project.packages) or '(none)'}"
            + (f" (sub-projects {', '.join(project.subprojects)})" if project.subprojects else "")
            + "; "
            f"python {project.python_version} via {' '.join(project.runner)} ({project.runner_origin})"
            + (f", started as {' '.join(project.launch)}" if project.launch else "")
        )
        deployment = detect_deployment(project)
        progress.say(f"deployment: {deployment.model} ({'; '.join(deployment.evidence[:2])})")
        passes = selected(settings.passes)
        results: Dict[str, PassResult] = {}
        # import timing first and alone, before the timing run: it needs no target, and nothing may run beside it
        early = PassContext(settings, project, deployment, _NO_TARGET, workdir, probe_path, out_dir, 0.0)
        _run_passes([p for p in passes if p.quiet], passes, early, None, budget, progress, results)
        beside: List[Beside] = []

        def start_beside(driver: Driver) -> Optional[Beside]:
            started = _start_beside(passes, early, driver, budget, progress)
            beside.extend([started] if started is not None else [])
            return started

        try:
            target, timing = _choose_target(
                settings, project, passes, workdir, probe_path, budget, progress, start_beside
            )
            kept = _keep_beside(beside[0], target, timing, progress) if beside else None
            base = PassContext(settings, project, deployment, target, workdir, probe_path, out_dir, 0.0)
            _run_passes([p for p in passes if not p.quiet], passes, base, timing, budget, progress, results, kept)
        finally:
            for pass_beside in beside:  # after an error or an interrupt, no child of it may start
                pass_beside.call_off()
        results = {spec.domain: results[spec.domain] for spec in passes}
        ranked = rank(
            [f for r in results.values() for f in r.findings], deployment.model, settings.startup, settings.thresholds
        )
        changed = treewatch.changes(before, treewatch.snapshot(settings.path, skip=out_dir))
        warnings = _warnings(settings, project, timing, results, changed, any(p.needs_tests for p in passes))
        faithful, unmeasured = _fidelity(project, timing, results)
        result = ScanResult(
            settings=settings,
            project=project,
            deployment=deployment,
            target=target,
            passes=results,
            findings=ranked,
            date=datetime.date.today().isoformat(),
            tool_version=__version__,
            warnings=tuple(warnings + faithful),
            unmeasured=_unmeasured(passes, target) or unmeasured,
            failed_tests=len(timing.failed_tests()) if timing is not None else 0,
            environment=environment_changes(project),
        )
        write_reports(result, out_dir)
        written = True
        return result, out_dir
    finally:
        children.kill_all()
        shutil.rmtree(workdir, ignore_errors=True)
        if not written:
            _remove_empty(created)


def _missing_dirs(out: Path) -> List[Path]:
    """The folders `output_dir` is about to create, deepest first."""
    missing = []
    path = Path(os.path.abspath(out))
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty(created: Sequence[Path]) -> None:
    """A scan that stopped before its reports leaves no empty output folder behind in the project."""
    for path in created:
        try:
            path.rmdir()  # only when empty: a file in it is not perfscan's to remove
        except OSError:
            return


def output_dir(settings: Settings) -> Path:
    out = settings.out or (settings.path / ".codeflash")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".perfscan-write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {out} ({exc.strerror or exc}); pass --out with a writable folder"
        ) from None
    return out


@dataclasses.dataclass(frozen=True)
class _Budget:
    seconds: float
    started: float  # time.monotonic() at the start of the scan

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def share(self, stage: Sequence[Pass], left: Sequence[Pass]) -> float:
        """The stage's share of what is left, by weight among the passes still to run (its own included)."""
        weight = sum(p.weight for p in left) or 1.0
        return max(1.0, (self.remaining() - RESERVE) * sum(p.weight for p in stage) / weight)


def _choose_target(
    settings: Settings,
    project: Project,
    passes: Sequence[Pass],
    workdir: Path,
    probe_path: Path,
    budget: _Budget,
    progress: Progress,
    start_beside: Callable[[Driver], Optional[Beside]] = lambda driver: None,
) -> Tuple[Target, Optional[TimingRun]]:
    """The tests (or command) the test passes profile, and the plain timing run; none without a
    test pass. `start_beside` may start a pass beside the timing run (`_start_beside`); a first
    timing run that did not run the whole suite calls it off at once."""
    if not any(p.needs_tests for p in passes):
        target = Target((), tuple(settings.pytest_args), "none", 0, "no test pass selected", driver=Driver("", ""))
        progress.say(f"target: {target.note or target.mode}")
        return target, None
    progress.begin("collecting and timing the tests" if not settings.exec_command else "preparing the command")
    options: Dict[str, str] = {}
    for spec in passes:
        options.update(spec.plain_run_options(settings, project))
    if options.get("asyncio_debug") == "1":
        # debug mode's checks would sit in the CPU pass's shares: that run samples on its own
        for key in ("sample", "engine"):
            options.pop(key, None)
    driver = choose_driver(settings, project) if not settings.exec_command else Driver("", "")
    if driver.name:
        progress.say(f"test runner: {driver.name} ({driver.why})")
    beside = start_beside(driver) if not settings.exec_command and not settings.tests else None

    def settle(first: ProbeRun) -> None:
        if beside is not None and not _ran_whole_suite(first):
            beside.call_off()

    share = budget.remaining() * TIMING_SLICE
    # a test that cuts the timing run short costs at most one more slice: the run restarts without it
    target, timing = select_target(
        settings,
        project,
        workdir,
        probe_path,
        max(5.0, share),
        options,
        share,
        driver=driver,
        cores=schedule.usable_cores(),
        after_first=settle,
    )
    target = with_hint(dataclasses.replace(target, driver=driver), project)
    progress.end(f"target: {target.note or target.mode}")
    return target, timing


def _run_passes(
    now: Sequence[Pass],
    passes: Sequence[Pass],
    base: PassContext,
    timing: Optional[TimingRun],
    budget: _Budget,
    progress: Progress,
    results: Dict[str, PassResult],
    beside: Optional[Beside] = None,
) -> None:
    """The passes `now` of the selected `passes`, stage by stage (schedule.py: side by side where
    cores allow), into `results`. A pass already started beside the timing run (`beside`) takes
    its place in its stage: the stage waits for it."""
    plain_counts = _plain_run_counts(timing, base.target)
    sampled_run = _sampled_run(timing, base.target) if plain_counts is not None else None
    asyncio_debug = _asyncio_debug(timing, base.project.root)
    plain_test_seconds = _plain_test_seconds(timing, base.target)
    workers = timing.workers if timing is not None and base.target.mode == "all" else 0
    started: List[Pass] = [p for p in passes if p.domain in results]

    def run_one(spec: Pass, timeout: Optional[float]) -> None:
        """One pass, with what the passes before it found; `timeout` None: its share at its start."""
        if beside is not None and spec is beside.spec:
            res = beside.result()
            results[spec.domain] = dataclasses.replace(res, notes=(BESIDE_NOTE,) + res.notes)
            return
        if budget.remaining() <= RESERVE:
            results[spec.domain] = PassResult(
                spec.domain, "timed-out", 0.0, "the scan's budget was spent before this pass could start"
            )
            return
        if timeout is None:
            timeout = budget.share((spec,), [spec] + [p for p in passes if p not in started])
        inputs = PassInputs(
            plain_counts=plain_counts,
            asyncio_debug=asyncio_debug,
            ran=_cpu_ran(results),
            waits=_cpu_waits(results),
            sampled_run=sampled_run,
            workers=workers,
            plain_test_seconds=plain_test_seconds,
        )
        results[spec.domain] = _run_pass(spec, dataclasses.replace(base, timeout=timeout, inputs=inputs))

    for stage in schedule.stages(now, schedule.usable_cores()):
        left = [p for p in passes if p not in started]
        firsts = [chain[0] for chain in stage]
        started += [spec for chain in stage for spec in chain]
        # side by side, each chain may use the stage's whole slice: the stage takes as long as its longest chain
        timeout = budget.share(firsts, left)
        names = ", ".join(" then ".join(spec.domain for spec in chain) for chain in stage)
        progress.begin(f"{names} pass{'es side by side' if len(stage) > 1 else ''} (up to {timeout:.0f} s)")
        schedule.run_side_by_side([(chain[0].domain, _chain(chain, timeout, run_one)) for chain in stage])
        lines = [_result_line(results[spec.domain]) for chain in stage for spec in chain]
        for line in lines[:-1]:
            progress.say(line)
        progress.end(lines[-1])


def _start_beside(
    passes: Sequence[Pass], ctx: PassContext, driver: Driver, budget: _Budget, progress: Progress
) -> Optional[Beside]:
    """The memory pass started with the timing run, on the guess that the whole suite will be its
    target (docs/design.md "Side by side"): where a core is free for it, with its share of the
    budget in the stage it would have run in, and a folder of its own."""
    spec = next((p for p in passes if p.domain == "memory" and p.side_by_side), None)
    cores = schedule.usable_cores()
    if spec is None or cores < 2 or _uses_django(ctx.project, driver):
        return None
    later = [p for p in passes if not p.quiet]
    stage = next(st for st in schedule.stages(later, cores) if any(spec in chain for chain in st))
    timeout = budget.share([chain[0] for chain in stage], later)
    workdir = ctx.workdir / "beside"
    workdir.mkdir()
    guess = Target((), tuple(ctx.settings.pytest_args), "all", 0, "the whole suite (a guess)", driver=driver)
    progress.say(f"{spec.domain} pass: started beside the timing run, on the whole suite (up to {timeout:.0f} s)")
    return Beside(spec, dataclasses.replace(ctx, target=guess, workdir=workdir, timeout=timeout), _run_pass)


def _uses_django(project: Project, driver: Driver) -> bool:
    """A Django suite's test database (test_<name> on a database server) would be the timing
    run's and a run beside it at once, and one run's teardown drops it under the other."""
    return driver.name == "django" or "django" in project.dependencies or (Path(project.root) / "manage.py").is_file()


def _ran_whole_suite(first: ProbeRun) -> bool:
    """Whether the first timing run ran the suite to its end: not cut by its slice, not killed,
    with tests collected (pytest's 0 and 1, unittest's and Django's too)."""
    child = first.child
    return not child.timed_out and child.returncode in (0, 1) and first.read("collected.json") is not None


def _keep_beside(beside: Beside, target: Target, timing: Optional[TimingRun], progress: Progress) -> Optional[Beside]:
    """The pass beside, when it ran what the target is: the whole suite, in one process, as configured."""
    whole = target.mode == "all" and timing is not None and len(timing.runs) == 1 and not timing.workers
    if whole and not beside.called_off:
        return beside
    beside.call_off()
    try:
        beside.result()  # its thread ends at once: no child of it starts any more
    except Exception:  # what a pass called off ran into is not the scan's error
        pass
    progress.say(
        f"{beside.spec.domain} pass: called off (the timing run did not run the whole suite); it runs in its turn"
    )
    return None


def _chain(
    chain: Sequence[Pass], timeout: float, run_one: Callable[[Pass, Optional[float]], None]
) -> Callable[[], None]:
    def run() -> None:
        for i, spec in enumerate(chain):
            run_one(spec, timeout if i == 0 else None)

    return run


def _result_line(res: PassResult) -> str:
    return f"{res.domain} pass: {res.status} in {res.seconds:.1f} s, {len(res.findings)} finding(s)" + (
        f" ({res.error[:120]})" if res.error else ""
    )


def _run_pass(spec: Pass, ctx: PassContext) -> PassResult:
    if spec.needs_tests and ctx.target.mode == "none":
        return PassResult(spec.domain, "skipped", 0.0, f"no tests to profile: {ctx.target.note}")
    t0 = time.monotonic()
    try:
        return spec.load()(ctx)
    except UsageError:
        raise
    except Exception as exc:  # a pass that breaks is recorded; the others go on
        return PassResult(
            spec.domain,
            "failed",
            time.monotonic() - t0,
            f"internal error in the {spec.domain} pass: {type(exc).__name__}: {exc}",
        )


def _cpu_waits(results: Mapping[str, PassResult]) -> Mapping[str, Mapping[int, float]]:
    """Where the CPU pass measured project code waiting (the async pass confirms blocking calls with it)."""
    res = results.get("cpu")
    return dict(getattr(res.data, "waited_lines", {})) if res is not None and res.status == "ok" else {}


def _cpu_ran(results: Mapping[str, PassResult]) -> FrozenSet[str]:
    """The project functions the CPU pass saw run ("module:qualname"), for the passes after it."""
    res = results.get("cpu")
    return frozenset(getattr(res.data, "ran", ())) if res is not None and res.status == "ok" else frozenset()


def _plain_run_counts(timing: Optional[TimingRun], target: Target) -> Optional[Dict[str, Any]]:
    """Call counts of the plain run, when it ran exactly the tests the CPU pass profiles."""
    if timing is None or target.mode != "all" or timing.child.timed_out or timing.child.returncode not in (0, 1):
        return None
    # a run across xdist workers: each worker counted its share of the tests
    pieces = timing.runs[0].worker_runs() or [timing.runs[0]]
    calls = merge_counts([(p.read("time.json") or {}).get("calls") for p in pieces])
    return calls if calls is not None and calls.get("functions") is not None else None


def _plain_test_seconds(timing: Optional[TimingRun], target: Target) -> Optional[float]:
    """The target's tests' time in the plain timing run, when it finished every one of them."""
    if timing is None or target.mode != "all" or not target.tests:
        return None
    outcomes = timing.outcomes()
    done = [outcomes.get(n) or {} for n in target.tests]
    if not all(t.get("done") for t in done):
        return None
    return sum(float(t.get("seconds") or 0.0) for t in done)


def _sampled_run(timing: Optional[TimingRun], target: Target) -> Optional[Tuple[children.ChildResult, Path]]:
    """The timing run as the CPU pass's sampled run: when it ran the whole target in one piece
    (no test left out, no restart) and wrote samples (docs/design.md "One run, two jobs")."""
    if timing is None or target.mode != "all" or len(timing.runs) != 1 or not timing.complete:
        return None
    run = timing.runs[0]
    pieces = run.worker_runs() or [run]
    return (run.child, run.out_dir) if all(p.read("cpu.json") is not None for p in pieces) else None


def _asyncio_debug(timing: Optional[TimingRun], root: Path) -> Optional[AsyncioDebugRun]:
    """What asyncio debug mode recorded in the timing run (every piece of it, when a hanging test
    restarted it), when it ran with debug mode on."""
    pieces = timing.read_all("asyncio.json") if timing is not None else []
    if not pieces:
        return None
    from perfscan.passes.async_pass.records import AsyncioDebugRun

    merged: Dict[str, Any] = dict(pieces[0])
    for extra in pieces[1:]:
        for key in ("records", "stacks"):
            merged[key] = list(merged.get(key) or []) + list(extra.get(key) or [])
        for key in ("loops", "callbacks", "debug_kept_on"):
            if isinstance(extra.get(key), int) and isinstance(merged.get(key), int):
                merged[key] += extra[key]
    return AsyncioDebugRun.from_json(merged, root)


def _unmeasured(passes: Sequence[Pass], target: Target) -> str:
    """Why the selected test passes measured nothing, or "" when they had tests to run."""
    if target.mode != "none" or not any(p.needs_tests for p in passes):
        return ""
    note = target.note or "no tests were found"
    return note if note.startswith("no tests") else f"no tests ran: {note}"


def _fidelity(
    project: Project, timing: Optional[TimingRun], results: Mapping[str, PassResult]
) -> Tuple[List[str], str]:
    """Warnings where the passes did not run the project as plain pytest does, and why the scan
    measured nothing of the project's code ("" when it did): docs/design.md "Faithful runs"."""
    reference = timing.facts() if timing is not None else None
    facts = [r.facts for r in results.values() if r.facts is not None] + ([reference] if reference else [])
    copies, unmapped = fidelity.copies_warnings(facts, project.root)
    warnings = fidelity.outcome_differences(reference, results) + copies
    return warnings, unmapped or fidelity.no_project_code(results)


def _warnings(
    settings: Settings,
    project: Project,
    timing: Optional[TimingRun],
    results: Mapping[str, PassResult],
    changed: Sequence[str],
    ran_tests: bool,
) -> List[str]:
    warnings: List[str] = list(settings.notes) + list(project.notes)
    warnings += [f"source file {note}" for note in skipped_sources(project.root)]
    failed = timing.failed_tests() if timing is not None else ()
    if failed and timing is not None:
        warnings.append(f"{len(failed)} test(s) failed in the plain run: " + timing.failed_summary())
    if settings.exec_command:
        # a command that fails at once leaves empty passes that would read "nothing found": say so up front
        failures = [n for r in results.values() for n in r.notes if n.startswith(COMMAND_FAILED)]
        if failures:
            warnings.append(failures[0].split(";")[0] + "; the figures below cover only what ran before that")
    if changed:
        # perfscan writes only to its output folder; who else wrote is a guess, so say what is known
        who = (
            "by the project's own code or another process"
            if ran_tests or settings.exec_command
            else "by another process (no test or command of the project ran)"
        )
        warnings.append(
            f"files changed in the project during the scan, {who}, not by perfscan: "
            + ", ".join(changed[:10])
            + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        )
    return warnings


def write_reports(result: ScanResult, out_dir: Path) -> None:
    # both twins rendered before either is written: the router never finds one twin without the other
    twins = [(f.file_name, f.render(result)) for f in REPORT_TWINS]
    for name, text in twins:
        write_atomic(out_dir / name, text)
    for fmt in result.settings.formats:
        write_atomic(out_dir / EXTRA_FORMATS[fmt].file_name, EXTRA_FORMATS[fmt].render(result))
    _remove_stale_outputs(out_dir, result)


def _remove_stale_outputs(out_dir: Path, result: ScanResult) -> None:
    """A file of an earlier scan beside this report would be read as this scan's (a profile of
    other tests, an HTML page of other findings): remove perfscan's own files this scan did not write."""
    own = {name for p in PASSES for name in p.artifacts} | {f.file_name for f in EXTRA_FORMATS.values()}
    written = {a.path.name for p in result.passes.values() for a in p.artifacts}
    written |= {EXTRA_FORMATS[fmt].file_name for fmt in result.settings.formats}
    for name in sorted(own - written):
        try:
            (out_dir / name).unlink()
        except OSError:
            pass
