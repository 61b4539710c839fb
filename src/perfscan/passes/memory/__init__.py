"""Memory pass: what is alive at each test's peak, attributed to project functions; per-request growth.

The first run screens every test untraced and the tests whose memory rose run again traced
(screen.py); where the screen cannot run, the first run traces every test. The probe
(perfscan/probe/memory.py) runs the target tests with tracemalloc and a return hook
that snapshots at each phase's high-water marks, and reduces every snapshot to bytes per line of
the innermost project frame. Where the hook costs too much the probe turns it off and records
peaks only; the tests whose peak it missed run again under it (catch.py). Here those lines are grouped by their enclosing project function
(groups.py), and a group's size is the most it held at any one test's peak. Groups above 1 MiB
are `large-allocation` findings; the allocating line's expression gives the category and
reducibility (categorize.py). Module-level values held from import and values that grow on every
repetition of the tests are findings too (findings.py).

The measured run traces 1 frame per allocation; where libraries hold a megabyte at a peak, a
deep run traces 25 frames to find the project caller (deep.py). memray, when the project has it,
measures the whole run's heap beside (memray.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.locate import Locator
from perfscan.models import Finding, PassResult, other_rootdir
from perfscan.passes import PassContext
from perfscan.passes.memory import notes as note
from perfscan.passes.memory import tables
from perfscan.passes.memory.catch import Caught, catch_peaks
from perfscan.passes.memory.categorize import Category, categorize
from perfscan.passes.memory.deep import DEEP_MIN_SECONDS, DeepRun, refine_library_peaks
from perfscan.passes.memory.findings import allocation_finding, definition_line, growth_findings, import_findings
from perfscan.passes.memory.groups import Group, GroupKey, group_phase_lines, merge_peaks
from perfscan.passes.memory.memray import memray_note, memray_summary, run_memray
from perfscan.passes.memory.records import MemoryRun, Phase
from perfscan.passes.memory.runs import probe_options, run_memory_probe
from perfscan.passes.memory.screen import SCREEN_TIME_SHARE, screen_possible, trace_screened
from perfscan.passes.memory.section import MemorySection, MemraySummary
from perfscan.passes.memory.spare import open_spare, spare_options
from perfscan.passes.memory.units import MIB
from perfscan.passes.memory.workers import read_measured
from perfscan.probe_host import ProbeRun

__all__ = [
    "MIB",
    "Category",
    "Group",
    "MemorySection",
    "categorize",
    "definition_line",
    "growth_findings",
    "group_phase_lines",
    "import_findings",
    "merge_peaks",
    "run_memory_pass",
]


def run_memory_pass(ctx: PassContext) -> PassResult:
    start = time.monotonic()
    deadline = start + ctx.timeout
    repeat = _repetitions(ctx)
    pytest_args = list(ctx.target.pytest_argv())
    two_steps = not ctx.target.exec_command  # a command runs once: its peaks are caught in that run
    run = _measure(ctx, pytest_args, repeat)
    # the later runs are forked from the first run's spare where it left one
    spare = open_spare(ctx, run) if two_steps else None
    try:
        # the catching and deep runs name their tests; beside the timing run the target was a guess
        # made before collection, so the rootdir the node ids are relative to is this run's
        collected = run.read("collected.json") or {}  # the controller's, across xdist workers
        rootdir = other_rootdir(collected.get("rootdir"), Path(ctx.project.root))
        if "rootdir" in collected and rootdir != ctx.target.rootdir:
            ctx = replace(ctx, target=replace(ctx.target, rootdir=rootdir))
        failure = run.failure_note(
            bool(ctx.target.exec_command), "measured", "the memory used until then is still counted"
        )
        notes: List[str] = [failure] if failure else []
        measured, worker_notes = read_measured(run, ctx.inputs.workers)
        notes += worker_notes
        if measured is None:
            return _no_data(run, start, notes)
        notes += note.probe_notes(measured)
        status, error = _status(run, failure, bool(measured.phases))

        first_seconds = run.child.seconds
        first_startup = float(measured.overhead.get("startup_seconds") or 0.0)
        facts = run.facts()
        if measured.mode == "screen":  # after a timeout too: the tests screened before it are traced
            traced = trace_screened(ctx, measured, deadline - time.monotonic(), spare)
            notes += list(traced.notes)
            facts = traced.facts(facts)
            if traced.measured is not measured:
                measured, first_seconds = traced.measured, traced.seconds
                notes += note.probe_notes(measured)
        phases, deep, caught = measured.phases, None, None
        if status == "ok" and two_steps and measured.mode == "measure":
            caught = catch_peaks(ctx, measured, first_seconds, deadline - time.monotonic(), spare)
            phases = caught.phases
            notes += list(caught.notes)
            if caught.run is not None:
                notes += note.probe_notes(caught.run)
        if status == "ok":
            # the first run's start-up: a 25-frame deep run is a process of its own, never the spare's
            refined = refine_library_peaks(ctx, phases, first_seconds, deadline, first_startup, spare)
            phases, deep = refined.phases, refined.run
            notes += refined.notes
    finally:
        if spare is not None:
            spare.close()

    locator = Locator(Path(ctx.project.root), ctx.project.source_roots, ctx.settings.exclude)
    groups = merge_peaks(phases, locator)
    findings = _findings(ctx, groups, measured, locator)
    # after the findings: the locator's notes name every source file they read
    notes += _run_notes(repeat, measured, phases, run.child.timed_out, locator)
    memray, memray_notes = _memray(ctx, pytest_args, deadline, locator)
    notes += memray_notes
    section = MemorySection(
        tool="tracemalloc + memray" if memray is not None else "tracemalloc",
        python=measured.python,
        top=tables.top_rows(groups),
        peak_mib_by_test=tables.peaks_by_test(phases),
        unattributed_mib=tables.unattributed_mib(phases),
        growth=tables.growth_rows(measured.growth),
        overhead=_overhead(measured, first_seconds, deep, caught),
        memray=memray,
    )
    return PassResult(
        "memory", status, time.monotonic() - start, error, tuple(findings), (), tuple(notes), section, facts
    )


def _overhead(measured: MemoryRun, seconds: float, deep: Optional[DeepRun], caught: Optional[Caught]) -> Dict[str, Any]:
    out = tables.overhead(measured, seconds, deep)
    if caught is not None:
        out["catch_run"] = caught.overhead()
    return out


def _findings(
    ctx: PassContext, groups: Mapping[GroupKey, Group], measured: MemoryRun, locator: Locator
) -> List[Finding]:
    """Groups at the floor or above, values held from import, growth: largest first."""
    root = Path(ctx.project.root)
    floor_mib = ctx.settings.thresholds.floor("memory")
    findings = [allocation_finding(g) for g in groups.values() if g.bytes >= floor_mib * MIB]
    findings += import_findings(measured.import_values, locator, root, floor_mib)
    server = ctx.deployment.model == "long-running-server"
    findings += growth_findings(measured.growth, locator, root, server=server, floor_mib=floor_mib)
    findings.sort(key=lambda f: f.metric.value, reverse=True)
    return findings


def _run_notes(
    repeat: int, measured: MemoryRun, phases: Sequence[Phase], timed_out: bool, locator: Locator
) -> List[str]:
    return (
        note.unattributed_note(phases)
        + note.repeat_notes(repeat, measured.repeat, timed_out)
        + note.source_notes(locator.notes)
        + note.missed_peak_notes(phases)
        + note.snapshot_notes(phases)
    )


def _repetitions(ctx: PassContext) -> int:
    """How many more times the tests run to measure growth: servers always; any project when the
    user asks (a `memory_repeat` setting); never a command, which runs once."""
    if ctx.target.exec_command:
        return 0
    return 2 if ctx.deployment.model == "long-running-server" else int(ctx.settings.memory_repeat or 0)


def _measure(ctx: PassContext, pytest_args: List[str], repeat: int) -> ProbeRun:
    options = probe_options(ctx)
    timeout = ctx.timeout
    if not ctx.target.exec_command and ctx.settings.memory_screen and screen_possible():
        options["screen"] = "1"  # a command runs once: its peaks are caught in that run
        timeout *= SCREEN_TIME_SHARE  # the rest is the traced run's, after a test that hangs too
    if repeat:
        options["repeat"] = str(repeat)
    if ctx.inputs.workers > 1:
        options["workers"] = str(ctx.inputs.workers)  # the target ran whole only across them
    elif not ctx.target.exec_command and ctx.target.driver.name != "django":
        # the later runs forked from it (spare.py); not under Django's runner: it sets up its test
        # databases before the loop, and the first run's end destroys them
        options.update(spare_options(ctx, ctx.timeout))
    return run_memory_probe(ctx, "memory", pytest_args, timeout, options)


def _no_data(run: ProbeRun, start: float, notes: List[str]) -> PassResult:
    status = "timed-out" if run.child.timed_out else "failed"
    tail = run.child.tail(6)
    error = f"the measured test run {run.child.describe_exit()} and wrote no memory data" + (
        f": {tail}" if tail else ""
    )
    return PassResult(
        "memory",
        status,
        time.monotonic() - start,
        error,
        notes=tuple(notes),
        data=MemorySection("tracemalloc", measured=False),
        facts=run.facts(),
    )


def _status(run: ProbeRun, failure: Optional[str], has_phases: bool) -> Tuple[str, str]:
    if run.child.timed_out:
        return (
            "timed-out",
            f"the measured test run timed out after {run.child.seconds:.0f} s; the figures cover the tests that ran",
        )
    if run.child.returncode not in (0, 1) and not failure and not has_phases:
        return "failed", f"the measured test run {run.child.describe_exit()}"
    return "ok", ""


def _memray(
    ctx: PassContext, pytest_args: List[str], deadline: float, locator: Locator
) -> Tuple[Optional[MemraySummary], List[str]]:
    """memray's summary of the whole run when the project's interpreter has it and time is left."""
    if not ctx.project.has_memray:
        return None, [
            "memray: not available in the project's environment; all figures are tracemalloc's (Python allocations only)"
        ]
    left = deadline - time.monotonic()
    if left < DEEP_MIN_SECONDS:
        return None, [
            "memray: importable in the project's environment, but no time was left to run it; figures are tracemalloc's"
        ]
    capture, seconds, problem = run_memray(ctx, pytest_args, left)
    if capture is None:
        return None, [problem]
    summary = memray_summary(capture, seconds, locator)
    return summary, [memray_note(summary)]
