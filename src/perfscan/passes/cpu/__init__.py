"""CPU pass: the target tests under a CPU engine (in the probe), ranked by attributable share.

The denominator of every share is the wall time of all profiled phases (setup, call, teardown)
measured on the main thread. Reported: project functions whose attributable share is above 2%.

Engines (`--cpu-engine`, `[tool.perfscan] cpu-engine`, or the PERFSCAN_CPU_ENGINE environment variable):
- cprofile: deterministic; exact call counts and callee times, but slow on call-heavy code
  and biased: it inflates functions that make many Python calls and deflates time in C.
- sample: CPU-time samples of every thread's stack for the shares, with exact call counts
  compiled into the project's functions (the probe's sampler.py and calls.py). Callee time of
  a C function (list.pop, sorted), which has no frame, is the function's own samples at the
  lines that call it.
- auto (default): sample where the probe can sample (POSIX, SIGPROF free), else cprofile.

The stages, a module each: records (cpu.json as typed records, pooled runs) -> profile and
samples (each project function's own and attributable time) -> findings (shares, patterns,
evidence); artifacts (cpu.pstats, cpu.collapsed); frames and flame (the icicle chart's tree);
section (what the reports lay out).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Dict, List, Optional, Tuple

from perfscan.locate import Locator
from perfscan.models import Artifact, PassResult
from perfscan.passes import PassContext
from perfscan.passes.cpu.artifacts import pstats_table, write_collapsed, write_pstats
from perfscan.passes.cpu.findings import findings_of, wait_rows
from perfscan.passes.cpu.flame import FlameNode, flame_tree
from perfscan.passes.cpu.frames import FrameNamer
from perfscan.passes.cpu.hoisting import hoist_invariant_calls
from perfscan.passes.cpu.profile import Profile, build_profile
from perfscan.passes.cpu.records import CpuRun, combine, merge_workers, with_counts
from perfscan.passes.cpu.section import CpuSection, top_table
from perfscan.passes.cpu_engine import asked_engine
from perfscan.probe_host import ProbeRun, run_target

SAME_RUN_NOTE = (
    "the plain timing run of the tests was also this pass's sampled run (its call counters' measured cost "
    "taken out of the samples)"
)
MIN_SAMPLED_SECONDS = 4.0  # pooled phase time a sampled profile should cover
MAX_SAMPLED_RUNS = 4
REFUSED = "pooled runs not forked"


def cpu_engine(ctx: PassContext) -> Tuple[str, str]:
    """The engine asked for (settings' cpu_engine, else $PERFSCAN_CPU_ENGINE, else the default), and a note when it is not valid."""
    return asked_engine(ctx.settings)


def run_cpu_pass(ctx: PassContext) -> PassResult:
    """The section's `ran` holds every project function that ran (the async pass wants it).

    `ctx.inputs.plain_counts`: exact call counts taken in the plain run of the same tests; with
    them the sampled run carries no counters (their cost would sit inside the shares)."""
    start = time.monotonic()
    counts = dict(ctx.inputs.plain_counts) if ctx.inputs.plain_counts is not None else None
    engine, engine_note = cpu_engine(ctx)
    options = {"engine": engine}
    if counts is not None and engine != "cprofile":
        options["count"] = "0"
    sampled = _timing_run_sampled(ctx, engine)
    same_run = sampled is not None  # the counts were taken in this very run: their cost is in its samples
    data: Optional[CpuRun]
    pool_note = ""
    if sampled is not None:
        run, data = sampled
    else:
        # a short target: the runs it needs forked from this first run at once (one start-up)
        forks = _forks_at_once(ctx, engine, counts)
        run = run_target("cpu", ctx, options=dict(options, pool=str(forks)) if forks else options)
        data, pool_note = _forked(run, _read(run), forks, 0)
    fallback_note = ""
    if (
        not same_run
        and data is None
        and engine != "cprofile"
        and run.child.signal_name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL")
        and time.monotonic() - start + run.child.seconds * 2 < ctx.timeout
    ):
        # the sampler reads other threads from a signal handler: if the process died of a crash
        # during the sampled run, the deterministic profiler still gives the pass its profile
        fallback_note = (
            f"the sampled run was {run.child.describe_exit()}; the profile comes from cProfile instead "
            "(shares inflated for call-heavy code)"
        )
        engine, options = "cprofile", {"engine": "cprofile"}
        run = run_target("cpu", ctx, options=options, name="cpu-cprofile")
        data = _read(run)

    # A short run gives few samples (one per ~4 ms of CPU): sample it again, within the pass's
    # time, until the pooled phases cover MIN_SAMPLED_SECONDS, so a share near a threshold is not
    # decided by a handful of ticks. The runs wanted come from one process whose test loop is
    # forked after collection (probe/forkpool.py: one start-up and collection for them all);
    # where it could not fork, or gave fewer, or is never asked to (`_forkable`), one process a run.
    def more_wanted() -> bool:
        return (
            data is not None
            and data.engine == "sample"
            and counts is not None
            and data.runs < MAX_SAMPLED_RUNS
            and data.wall < MIN_SAMPLED_SECONDS
            and run.child.returncode in (0, 1)
            and time.monotonic() - start + run.child.seconds * 1.5 < ctx.timeout * 0.8
        )

    refused = pool_note.startswith(REFUSED)  # the first run's forks were refused: a pool would be too
    if more_wanted() and data is not None and _forkable(ctx) and not refused:
        data, more_note = _pooled(ctx, options, data)
        pool_note = "; ".join(n for n in (pool_note, more_note) if n)
    while more_wanted():
        assert data is not None
        more = _read(run_target("cpu", ctx, options=options, name=f"cpu-{data.runs + 1}"))
        if more is None or more.engine != "sample":
            break
        data = combine(data, more)
    if data is not None and counts is not None and data.engine == "sample" and data.calls is None:
        data = with_counts(data, counts, same_run=same_run)
    failure = run.failure_note(bool(ctx.target.exec_command), "profiled", "what ran until then is still in the profile")
    notes: List[str] = [n for n in (engine_note, fallback_note, failure) if n]
    if same_run:
        notes.append(
            SAME_RUN_NOTE + (f"; {data.runs - 1} more sampled run(s) pooled" if data and data.runs > 1 else "")
        )
    if pool_note:
        notes.append(pool_note)
    if data is None:
        status = "timed-out" if run.child.timed_out else "failed"
        error = f"the profiled test run {run.child.describe_exit()} and wrote no profile"
        tail = run.child.tail(6)
        return PassResult(
            "cpu",
            status,
            time.monotonic() - start,
            error + (f": {tail}" if tail else ""),
            notes=tuple(notes),
            facts=run.facts(),
        )
    notes += [f"profiler: {err}" for err in data.errors]
    if data.statements is not None:
        notes += [f"profiler: {err}" for err in data.statements.errors]
    profile = build_profile(data, ctx.project.root, ctx.project.source_roots, ctx.settings.exclude)
    if profile.engine == "sample":
        hoist_invariant_calls(profile.functions)  # a loop-invariant call's time goes to the caller's loop
    notes += _waiting_notes(profile, data.runs)
    harness = () if ctx.target.mode == "exec" else ctx.project.pytest_plugins
    findings = findings_of(
        profile,
        "run" if ctx.target.mode == "exec" else "tests",
        data.runs,
        ctx.settings.thresholds.floor("cpu"),
        harness,
    )
    if harness:
        notes.append(
            f"the project's own pytest plugin ({', '.join(harness)}) runs the tests: its functions are "
            "not reported as hotspots"
        )
    table = pstats_table(data)
    artifacts = []
    pstats_path = write_pstats(table, ctx.out_dir)
    if pstats_path is not None:
        artifacts.append(
            Artifact(
                pstats_path,
                "CPU profile of the profiled tests (pstats)",
                f"python -m pstats {pstats_path.name}  (or: snakeviz {pstats_path.name})",
            )
        )
    collapsed = write_collapsed(data, ctx.out_dir)
    if collapsed is not None:
        artifacts.append(
            Artifact(
                collapsed,
                "CPU samples of the profiled tests as collapsed stacks (microseconds)",
                f"flamegraph.pl {collapsed.name} > cpu.svg  (or open it in speedscope.app)",
            )
        )
    status = "ok"
    error = ""
    if run.child.timed_out:
        status, error = (
            "timed-out",
            f"the profiled test run timed out after {run.child.seconds:.0f} s; the profile covers the tests that ran",
        )
    elif run.child.returncode not in (0, 1) and not failure:
        error = f"the profiled test run {run.child.describe_exit()}"
        status = "failed" if not profile.functions else "ok"
    # the chart names project code with the locator and leaves out the same harness as the findings
    namer = FrameNamer(Locator(ctx.project.root, ctx.project.source_roots, ctx.settings.exclude), harness)
    wall_chart = flame_tree(pstats_table(data, waits=True), namer) if profile.waits_measured else None
    section = _section(profile, data, engine, flame_tree(table, namer), wall_chart, harness)
    # the first run stands for all: pooled runs are the same tests in the same interpreter. With no
    # project function in the profile, whether the run loaded any project module decides
    facts = dataclasses.replace(run.facts(), profiled_project=True if profile.functions else None)
    return PassResult(
        "cpu", status, time.monotonic() - start, error, tuple(findings), tuple(artifacts), tuple(notes), section, facts
    )


def _timing_run_sampled(ctx: PassContext, engine: str) -> Optional[Tuple[ProbeRun, CpuRun]]:
    """The plain timing run and its samples, when it sampled the whole target with this engine
    (docs/design.md "One run, two jobs"); else None, and the pass runs the tests itself."""
    if ctx.inputs.sampled_run is None or engine == "cprofile" or ctx.inputs.plain_counts is None:
        return None
    run = ProbeRun(*ctx.inputs.sampled_run)
    workers = run.worker_runs()
    data = merge_workers([_read(w) for w in workers]) if workers else _read(run)
    if data is None or data.engine != "sample" or data.samples is None:
        return None
    return run, data


def _forkable(ctx: PassContext) -> bool:
    """Whether the host asks for forked runs: not under Django's runner, which creates its test
    databases before the loop (a fork's teardown would destroy a database file the others use)."""
    return ctx.target.driver.name != "django"


def _forks_at_once(ctx: PassContext, engine: str, counts: Optional[Dict[str, Any]]) -> int:
    """Forked runs the pass's own first run asks for at once, where the plain timing run ran the
    whole target in asyncio debug mode (so it did not sample) and its test time says the target
    is short: one start-up and collection for them all, where the first run and then a pool of
    the rest paid two. Not where the timing run could not sample: the sampler would fail in
    every fork too."""
    seconds = ctx.inputs.plain_test_seconds
    deliberate = ctx.inputs.asyncio_debug is not None  # not a sampler that failed there: it would fail here
    if not deliberate or engine == "cprofile" or counts is None or not seconds or not _forkable(ctx):
        return 0
    wanted = min(MAX_SAMPLED_RUNS, max(1, math.ceil(MIN_SAMPLED_SECONDS / max(seconds, 1e-3))))
    if wanted * seconds * 1.5 > ctx.timeout * 0.8:
        return 0
    return wanted - 1


def _pooled(ctx: PassContext, options: Dict[str, str], data: CpuRun) -> Tuple[CpuRun, str]:
    """`data` with the runs still wanted, made by one probe process that forks its test loop, and
    what the probe said of its forks."""
    per_run = max(data.wall / max(data.runs, 1), 1e-3)
    wanted = min(MAX_SAMPLED_RUNS - data.runs, max(1, math.ceil((MIN_SAMPLED_SECONDS - data.wall) / per_run)))
    pool = run_target("cpu", ctx, options=dict(options, pool=str(wanted - 1)), name="cpu-pool")
    more = _read(pool)
    pooled = combine(data, more) if more is not None and more.engine == "sample" else data
    merged, note = _forked(pool, pooled, wanted - 1, data.runs)
    return merged or pooled, note


def _forked(pool: ProbeRun, data: Optional[CpuRun], forks: int, before: int) -> Tuple[Optional[CpuRun], str]:
    """`data` with the sampled runs of the pool's forks, and what the probe said of them (the
    runs from the pool's process: those past `before`)."""
    for folder in [pool.out_dir / f"pool-{i}" for i in range(1, forks + 1)]:
        more = _read(ProbeRun(pool.child, folder))
        if data is not None and data.engine == "sample" and more is not None and more.engine == "sample":
            data = combine(data, more)
    if data is None:
        return None, ""
    said = pool.read("pool.json") or {}
    if said.get("refused"):
        return data, f"{REFUSED} ({said['refused']}): one process a run"
    if int(said.get("forked") or 0) > 0:
        return (
            data,
            f"{data.runs - before} pooled run(s) from one process, its test loop forked after collection (one start-up and collection for them all)",
        )
    return data, ""


def _read(run: ProbeRun) -> Optional[CpuRun]:
    raw = run.read("cpu.json")
    return CpuRun.from_json(raw) if raw is not None else None


def _waiting_notes(profile: Profile, runs: int) -> List[str]:
    if profile.engine == "cprofile":
        return ["cProfile times are wall times: a function's time includes its waiting, not told apart"]
    if not profile.waits_measured:
        return ["waiting not measured (no per-thread CPU clock): shares are CPU time only"]
    harness = profile.harness_wait / runs
    if harness < 0.005:
        return []
    return [
        f"{harness:.2f} s per run of waiting outside project code (the tests' own sleeps and fixtures, "
        "libraries the tests call, idle event loops): in the wall time, on no function"
    ]


def _section(
    profile: Profile,
    data: CpuRun,
    engine_asked: str,
    flame: Optional[FlameNode],
    flame_wall: Optional[FlameNode] = None,
    harness: Tuple[str, ...] = (),
) -> CpuSection:
    runs = data.runs  # seconds are per run of the tests (pooled runs divided back), so two scans compare
    ranked = sorted(profile.functions.values(), key=lambda f: f.wall(), reverse=True)
    waiting = (
        f"waiting sampled on the wall clock every {profile.wait_interval * 1000:g} ms" if profile.waits_measured else ""
    )
    return CpuSection(
        engine=profile.engine_detail + (f"; {runs} runs pooled" if runs > 1 else ""),
        engine_id=profile.engine,
        engine_asked=engine_asked,
        wall_seconds=profile.total_wall / runs,
        phase_seconds={k: v / runs for k, v in profile.wall.items()},
        threads=data.threads,
        counting_seconds=round(profile.counting_seconds, 6),
        functions_seen=len(profile.functions),
        top=top_table(profile),
        # every function, no cut: a merge of sharded scans re-derives each share from these
        functions={f"{f.module}:{f.qualname}": round(f.attributable() / runs, 6) for f in ranked},
        flame=flame,
        ran=profile.ran,
        waiting=waiting,
        wait_seconds=round(sum(f.waited() for f in profile.functions.values()) / runs, 6),
        harness_wait_seconds=round(profile.harness_wait / runs, 6),
        waits={f"{f.module}:{f.qualname}": round(f.waited() / runs, 6) for f in ranked if f.waited() > 0},
        wait_sites=tuple(wait_rows(profile, runs, harness)),
        flame_wall=flame_wall,
        waited_lines={
            f"{f.module}:{f.qualname}": {line: secs / runs for line, secs in f.wait_lines.items()}
            for f in profile.functions.values()
            if f.wait_lines
        },
        calls={f"{f.module}:{f.qualname}": f.calls_total for f in ranked if f.counted},
        primitive_calls={
            f"{f.module}:{f.qualname}": f.calls_primitive
            for f in ranked
            if f.counted and f.calls_primitive != f.calls_total
        },
    )
